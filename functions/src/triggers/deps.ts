/**
 * Builds the dependencies the domain modules take, from the Functions runtime: validated
 * configuration (params read inside the invocation), the Admin SDK's Firestore, the system
 * clock, and the provider runtime.
 *
 * Cold starts: every function of the codebase loads `index.ts`, so trigger files import domain
 * code lazily, inside handlers; the provider module (four adapters, axios, google-auth-library)
 * is loaded only by the functions that call the platforms, on their first call. The runtime is
 * then kept per instance so that every job the instance runs shares the per-platform limiters.
 */
import { randomUUID } from "node:crypto";

import { getFirestore } from "firebase-admin/firestore";

import { requireTokenKeys } from "../integrations/token-keys";
import { DEFAULT_LEASE_MS, RUN_BUDGET_MS } from "../jobs/lease";
import type { MetricsFetcher, ProcessDeps } from "../jobs/process";
import { readRawEnv } from "../params";
import type { ProviderRuntime } from "../providers/registry";
import type { OperationDeps } from "../scheduler/operations";
import type { SchedulerOperation } from "../shared/alert-config";
import { systemClock } from "../shared/clock";
import { requireProviderSettings } from "../shared/config";
import { createLogger, type LogFields } from "../shared/logger";

let runtime: { key: string; fetch: ProviderRuntime } | undefined;

async function providerRuntime(): Promise<ProviderRuntime> {
  const settings = requireProviderSettings(readRawEnv());
  // Rebuilt only if the settings change (they do not within a deployed instance).
  const key = JSON.stringify(settings);
  if (runtime?.key !== key) {
    const { createProviderRuntime } = await import("../providers/registry");
    runtime = { key, fetch: createProviderRuntime(settings) };
  }
  return runtime.fetch;
}

/** Fetches through the instance's provider runtime, loading it on first use. */
export const fetchMetrics: MetricsFetcher = async (providerId, request) =>
  (await providerRuntime())(providerId, request);

/** What every scheduler operation needs: the store, the parameters, a scoped logger. */
export function operationDeps(scope: LogFields): OperationDeps {
  return { db: getFirestore(), clock: systemClock, env: readRawEnv(), logger: createLogger(scope) };
}

/** A bad TOKEN_ENCRYPTION_KEYS is recorded as the run's crash event (`configured`), then thrown. */
export async function processDeps(
  scope: LogFields,
  run: { operation: SchedulerOperation; source: string },
): Promise<ProcessDeps & OperationDeps> {
  const deps = operationDeps(scope);
  const { configured } = await import("../scheduler/operations");
  return {
    ...deps,
    fetchMetrics,
    owner: `${process.env.K_REVISION ?? "local"}/${randomUUID()}`,
    leaseMs: DEFAULT_LEASE_MS,
    deadline: new Date(deps.clock().getTime() + RUN_BUDGET_MS),
    tokenKeys: await configured(deps, run.operation, run.source, () => requireTokenKeys(deps.env)),
  };
}
