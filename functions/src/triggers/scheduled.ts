/**
 * Scheduled functions (Cloud Scheduler, cron syntax, UTC). Each is safe to run twice: the
 * enqueue is idempotent per cadence slot, claims are transactional, stale reset and cleanup
 * re-check every document. A throw makes Cloud Scheduler retry (`retryCount`).
 *
 * The enqueue runs every hour so that cadences shorter than a day work; daily-cadence
 * integrations get their slot at 02:00 UTC (the nightly run). It has no user limit: it covers
 * users until its time budget, and the next invocation continues from the stored cursor.
 *
 * Budgets: the batches stop starting work a minute before the 540 s timeout, so the page or job
 * in flight, the event and the alerts finish inside it; the sweep stops claiming a minute
 * earlier still, and its jobs' platform requests stop at the run's deadline (`jobs/lease.ts`).
 */
import { onSchedule } from "firebase-functions/scheduler";

import { JOB_TIMEOUT_SECONDS, RUN_BUDGET_MS } from "../jobs/lease";
import { providerSecrets, tokenEncryptionKeys } from "../params";
import { operationDeps, processDeps } from "./deps";

const SOURCE = "cloud-scheduler";
// Loaded inside the handlers, not at import: see `deps.ts` on cold starts.
const operations = () => import("../scheduler/operations");
const common = { timeZone: "UTC", retryCount: 2 } as const;
const TIMEOUT_SECONDS = JOB_TIMEOUT_SECONDS;
const BUDGET_MS = RUN_BUDGET_MS;

export const scheduledEnqueue = onSchedule(
  { ...common, schedule: "0 * * * *", timeoutSeconds: TIMEOUT_SECONDS },
  async (_event) => {
    const { enqueueAllOperation } = await operations();
    await enqueueAllOperation(operationDeps({ trigger: "scheduled" }), SOURCE, {
      jobType: "scheduled-sync",
      timeframeDays: 1,
      budgetMs: BUDGET_MS,
    });
  },
);

export const sweepQueuedJobs = onSchedule(
  {
    ...common,
    schedule: "*/5 * * * *",
    timeoutSeconds: TIMEOUT_SECONDS,
    secrets: [providerSecrets, tokenEncryptionKeys],
  },
  async (_event) => {
    const { sweepOperation } = await operations();
    const run = { operation: "process_queued_jobs", source: SOURCE } as const;
    await sweepOperation(await processDeps({ trigger: "sweepQueuedJobs" }, run), SOURCE, {
      maxJobs: 25,
      maxUsers: 50,
      // Claims stop a minute before the jobs' own deadline, so the last job claimed has time.
      budgetMs: RUN_BUDGET_MS - 60_000,
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
