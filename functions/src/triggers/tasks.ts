/**
 * The platform queues: one Cloud Tasks task-queue function per ad platform runs the jobs
 * dispatched to it (`jobs/dispatch.ts`). The queue's `maxConcurrentDispatches` is the number of
 * shares of the platform's fleet-wide budget (`providers/budget.ts`): Cloud Tasks never runs more
 * of them at once, however many instances serve the queue, and each run's limiter keeps to its
 * share.
 *
 * Retries of the job live in the job document and come back as new tasks; the queue's own
 * retries only redeliver a task whose run threw (a store error, an enqueue that failed, a job
 * not yet due by this instance's clock), and the sweep dispatches what is left after them.
 */
import { HttpsError } from "firebase-functions/https";
import { onTaskDispatched } from "firebase-functions/tasks";

import { JOB_RUNNER_OPTIONS } from "../jobs/lease";
import { providerSecrets, tokenEncryptionKeys } from "../params";
import { type QueueKind, queuesOf } from "../providers/budget";
import type { ProviderId } from "../providers/types";
import { dispatchDeps, processDeps } from "./deps";

const taskFunction = (providerId: ProviderId, kind: QueueKind) => {
  const { functionName, maxConcurrentDispatches, maxDispatchesPerSecond } =
    queuesOf(kind)[providerId];
  return onTaskDispatched(
    {
      // Redeliveries every 10 s doubling to 5 min, for about four hours: a store outage
      // outlasted, and the Cloud Tasks emulator (which ignores schedule times, so runs a
      // deferred job's task at once) polls a deferred job until it is due.
      retryConfig: {
        maxAttempts: 50,
        minBackoffSeconds: 10,
        maxBackoffSeconds: 300,
        maxDoublings: 5,
      },
      rateLimits: { maxConcurrentDispatches, maxDispatchesPerSecond },
      ...JOB_RUNNER_OPTIONS,
      secrets: [providerSecrets, tokenEncryptionKeys],
    },
    async (request) => {
      const { jobTaskSchema, RedeliverTask, runDispatchedJob } = await import("../jobs/dispatch");
      const scope = { trigger: functionName };
      const task = jobTaskSchema.safeParse(request.data);
      if (!task.success) {
        // Redelivering cannot fix a payload: say so and let the task go.
        dispatchDeps(scope).logger.error("task payload is not a job task", {
          issues: task.error.issues.map((issue) => issue.path.join(".")).join(", "),
        });
        return;
      }
      const run = { operation: "process_job", source: "cloud-tasks" } as const;
      const deps = await processDeps({ ...scope, jobId: task.data.jobId }, run);
      try {
        await runDispatchedJob(deps, task.data);
      } catch (error) {
        if (!(error instanceof RedeliverTask)) {
          throw error;
        }
        // Expected, not a failure: a 503 has Cloud Tasks deliver it again after its backoff,
        // without the SDK's "Unhandled error" log and stack.
        deps.logger.info("task redelivered: its job is not due yet", { why: error.message });
        throw new HttpsError("unavailable", error.message);
      }
    },
  );
};

export const runSyncJobGoogle = taskFunction("google", "sync");
export const runSyncJobMeta = taskFunction("meta", "sync");
export const runSyncJobLinkedin = taskFunction("linkedin", "sync");
export const runSyncJobTiktok = taskFunction("tiktok", "sync");
// The same runner on each platform's backfill queue: the queue, not the code, sets the share.
export const runBackfillGoogle = taskFunction("google", "backfill");
export const runBackfillMeta = taskFunction("meta", "backfill");
export const runBackfillLinkedin = taskFunction("linkedin", "backfill");
export const runBackfillTiktok = taskFunction("tiktok", "backfill");
