/**
 * Builds the dependencies the domain modules take, from the Functions runtime: validated
 * configuration (params read inside the invocation), the Admin SDK's Firestore, the system
 * clock, and the provider runtime. The provider runtime is kept per instance so that every job
 * an instance runs shares the same per-platform limiters.
 */
import { randomUUID } from "node:crypto";

import { getFirestore } from "firebase-admin/firestore";

import { DEFAULT_LEASE_MS, type ProcessDeps } from "../jobs/process";
import type { StoreDeps } from "../jobs/store";
import { readRawEnv } from "../params";
import { createProviderRuntime, type ProviderRuntime } from "../providers/registry";
import { systemClock } from "../shared/clock";
import { requireProviderSettings } from "../shared/config";
import { createLogger, type LogFields } from "../shared/logger";

let runtime: { key: string; fetch: ProviderRuntime } | undefined;

export function providerRuntime(): ProviderRuntime {
  const settings = requireProviderSettings(readRawEnv());
  // Rebuilt only if the settings change (they do not within a deployed instance).
  const key = JSON.stringify(settings);
  if (runtime?.key !== key) {
    runtime = { key, fetch: createProviderRuntime(settings) };
  }
  return runtime.fetch;
}

export function storeDeps(): StoreDeps {
  return { db: getFirestore(), clock: systemClock };
}

export function processDeps(scope: LogFields): ProcessDeps {
  return {
    ...storeDeps(),
    fetchMetrics: providerRuntime(),
    logger: createLogger(scope),
    owner: `${process.env.K_REVISION ?? "local"}/${randomUUID()}`,
    leaseMs: DEFAULT_LEASE_MS,
  };
}
