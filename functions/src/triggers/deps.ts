/**
 * Builds the dependencies the domain modules take, from the Functions runtime: validated
 * configuration (params read inside the invocation), the Admin SDK's Firestore, the system
 * clock, and the provider runtime.
 *
 * Cold starts: every function of the codebase loads `index.ts`, so trigger files import domain
 * code lazily, inside handlers; the provider module (four adapters, axios, google-auth-library)
 * is loaded only by the functions that call the platforms, on their first call, and kept per
 * instance (its HTTP client); each job run gets its own limiter (`providers/budget.ts`).
 */
import { randomUUID } from "node:crypto";

import { getFirestore } from "firebase-admin/firestore";
// With the module, as getFirestore: the firebase-admin whose default app onInit created.
import { getFunctions } from "firebase-admin/functions";

import { requireTokenKeys } from "../integrations/token-keys";
import type { DispatchDeps, TaskQueues } from "../jobs/dispatch";
import { DEFAULT_LEASE_MS, JOB_TIMEOUT_SECONDS, RUN_BUDGET_MS } from "../jobs/lease";
import type { MetricsFetcher, ProcessDeps } from "../jobs/process";
import { readRawEnv, REGION } from "../params";
import { queuesOf } from "../providers/budget";
import type { DiscoveryRuntime, ProviderRuntime } from "../providers/registry";
import type { OperationDeps } from "../scheduler/operations";
import type { SchedulerOperation } from "../shared/alert-config";
import { systemClock } from "../shared/clock";
import { requireProviderSettings } from "../shared/config";
import { createLogger, type LogFields, type Logger } from "../shared/logger";

let runtime: { key: string; fetch: ProviderRuntime; discover: DiscoveryRuntime } | undefined;

async function providerRuntime() {
  const settings = requireProviderSettings(readRawEnv());
  // Rebuilt only if the settings change (they do not within a deployed instance).
  const key = JSON.stringify(settings);
  if (runtime?.key !== key) {
    const { createDiscoveryRuntime, createProviderRuntime } = await import("../providers/registry");
    runtime = {
      key,
      fetch: createProviderRuntime(settings),
      discover: createDiscoveryRuntime(settings),
    };
  }
  return runtime;
}

/** Fetches through the instance's provider runtime, loading it on first use. */
export const fetchMetrics: MetricsFetcher = async (providerId, request) =>
  (await providerRuntime()).fetch(providerId, request);

/** Discovers an integration's accounts through the instance's provider runtime. */
export const discoverAccounts: DiscoveryRuntime = async (providerId, credentials) =>
  (await providerRuntime()).discover(providerId, credentials);

/**
 * Cloud Tasks through firebase-admin: the platform's queue is its task function's
 * (`CLOUD_TASKS_EMULATOR_HOST` points it at the emulator locally). A task of the same name
 * already there is the dispatch done, not an error.
 */
export const taskQueues: TaskQueues = async (providerId, task, options) => {
  const { functionName } = queuesOf(options.queue)[providerId];
  const queue = `locations/${REGION}/functions/${functionName}`;
  try {
    // The dispatch deadline outlasts the run (Cloud Tasks' default would cut it at 10 min anyway;
    // stated, it cannot drift below the timeout): a run is never redelivered while it runs.
    await getFunctions()
      .taskQueue(queue)
      .enqueue(task, {
        id: options.id,
        scheduleTime: options.scheduleTime,
        dispatchDeadlineSeconds: JOB_TIMEOUT_SECONDS + 60,
      });
    return "enqueued";
  } catch (error) {
    if ((error as { code?: unknown }).code === "functions/task-already-exists") {
      return "exists";
    }
    throw error;
  }
};

/** What dispatching needs: the store, the clock, the task queues, a scoped logger. */
export function dispatchDeps(scope: LogFields): DispatchDeps & { logger: Logger } {
  return {
    db: getFirestore(),
    clock: systemClock,
    queues: taskQueues,
    logger: createLogger(scope),
  };
}

/** What every scheduler operation needs: the store, the parameters, the queues, a logger. */
export function operationDeps(scope: LogFields): OperationDeps & DispatchDeps {
  return { ...dispatchDeps(scope), env: readRawEnv() };
}

/** A bad TOKEN_ENCRYPTION_KEYS is recorded as the run's crash event (`configured`), then thrown. */
export async function processDeps(
  scope: LogFields,
  run: { operation: SchedulerOperation; source: string },
): Promise<ProcessDeps & OperationDeps & DispatchDeps> {
  const deps = operationDeps(scope);
  const { configured } = await import("../scheduler/operations");
  return {
    ...deps,
    fetchMetrics,
    discovery: { discover: discoverAccounts, env: deps.env },
    owner: `${process.env.K_REVISION ?? "local"}/${randomUUID()}`,
    leaseMs: DEFAULT_LEASE_MS,
    deadline: new Date(deps.clock().getTime() + RUN_BUDGET_MS),
    tokenKeys: await configured(deps, run.operation, run.source, () => requireTokenKeys(deps.env)),
  };
}
