/**
 * Scheduled functions (Cloud Scheduler, cron syntax, UTC). Each is safe to run twice: the
 * enqueue is idempotent per cadence slot, claims are transactional, stale reset and cleanup
 * re-check every document. A throw makes Cloud Scheduler retry (`retryCount`).
 *
 * The enqueue runs every ten minutes: cadences shorter than a day work, daily-cadence
 * integrations get their slot at 02:00 UTC (the nightly run), and a pass larger than one
 * invocation's budget continues ten minutes later from its stored cursor (`jobs/schedule.ts`).
 *
 * Budgets: the batches stop starting work a minute before the 540 s timeout, so the page in
 * flight, the event and the alerts finish inside it. None of them runs a job: the platform
 * queues do (`triggers/tasks.ts`).
 */
import { onSchedule } from "firebase-functions/scheduler";

import { JOB_TIMEOUT_SECONDS, RUN_BUDGET_MS } from "../jobs/lease";
import type * as Deps from "./deps";

const SOURCE = "cloud-scheduler";
// Loaded inside the handlers, not at import: see `deps.ts` on cold starts.
const operations = () => import("../scheduler/operations");
// `deps.ts` as well: it loads the Admin SDK's Firestore (a quarter of a second), so it is
// required on the first call — synchronously, as its callers expect — and an instance that
// serves a scheduled function loads little more than a bare `onSchedule` module (`index.ts`).
const operationDeps: typeof Deps.operationDeps = (scope) =>
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  (require("./deps") as typeof Deps).operationDeps(scope);
// One run per instance: each works to a wall-clock budget, which a second run sharing the CPU
// would eat into (`bench/cold-start.bench.ts`: they idle at 74 MB of the default 256 MiB).
const common = { timeZone: "UTC", retryCount: 2, concurrency: 1 } as const;
const TIMEOUT_SECONDS = JOB_TIMEOUT_SECONDS;
const BUDGET_MS = RUN_BUDGET_MS;
/**
 * Due jobs the sweep dispatches again per run: their tasks normally exist (one cheap call
 * each), so this bounds the calls, not the recovery — the oldest come first (`dispatch.ts`).
 */
const SWEEP_DISPATCH_LIMIT = 500;

// Every ten minutes, not hourly: an invocation that finds its slots done reads one document and
// writes none, so the frequency costs little, and a pass larger than one invocation's budget
// (the 02:00 slot of many users) continues ten minutes later instead of an hour. The timeout is
// shorter than the period, so invocations do not overlap (concurrent ones would still be safe).
export const scheduledEnqueue = onSchedule(
  { ...common, schedule: "*/10 * * * *", timeoutSeconds: TIMEOUT_SECONDS },
  async (_event) => {
    const { enqueueAllOperation } = await operations();
    await enqueueAllOperation(operationDeps({ trigger: "scheduled" }), SOURCE, {
      jobType: "scheduled-sync",
      timeframeDays: 1,
      budgetMs: BUDGET_MS,
    });
  },
);

// Every five minutes: the oldest due jobs dispatched again (a lost dispatch recovered) and the
// jobs finished in those five minutes aggregated for the alerts. The platform queues run the jobs.
export const sweepQueuedJobs = onSchedule(
  { ...common, schedule: "*/5 * * * *", timeoutSeconds: TIMEOUT_SECONDS },
  async (_event) => {
    const { dispatchSweepOperation } = await operations();
    await dispatchSweepOperation(operationDeps({ trigger: "sweepQueuedJobs" }), SOURCE, {
      maxJobs: SWEEP_DISPATCH_LIMIT,
      windowMs: 5 * 60_000,
    });
  },
);

// Hourly, not the guide's weekly example: each run deletes until nothing old is left (or its
// budget), so the collections never grow past a day's writes beyond the retention.
export const cleanupOldJobs = onSchedule(
  { ...common, schedule: "30 * * * *", timeoutSeconds: TIMEOUT_SECONDS },
  async (_event) => {
    const { cleanupOperation } = await operations();
    await cleanupOperation(operationDeps({ trigger: "scheduled" }), SOURCE, BUDGET_MS);
  },
);

// Every five minutes: with the lease of `jobs/lease.ts`, a dead worker's job is back in the
// queue within 15 minutes of its claim.
export const resetStaleJobs = onSchedule(
  { ...common, schedule: "*/5 * * * *", timeoutSeconds: TIMEOUT_SECONDS },
  async (_event) => {
    const { resetStaleOperation } = await operations();
    await resetStaleOperation(operationDeps({ trigger: "scheduled" }), SOURCE, BUDGET_MS);
  },
);
