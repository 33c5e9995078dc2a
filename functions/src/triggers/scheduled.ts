/**
 * Scheduled functions (Cloud Scheduler, cron syntax, UTC). Each is safe to run twice: the
 * enqueue is idempotent per cadence slot, claims are transactional, stale reset and cleanup
 * re-check every document. A throw makes Cloud Scheduler retry (`retryCount`).
 *
 * The enqueue runs every hour so that cadences shorter than a day work; daily-cadence
 * integrations get their slot at 02:00 UTC (the nightly run).
 */
import { onSchedule } from "firebase-functions/scheduler";

import { providerSecrets } from "../params";
import {
  cleanupOperation,
  enqueueAllOperation,
  resetStaleOperation,
  sweepOperation,
} from "../scheduler/operations";
import { processDeps, storeDeps } from "./deps";

const SOURCE = "cloud-scheduler";
const common = { timeZone: "UTC", retryCount: 2 } as const;

export const scheduledEnqueue = onSchedule({ ...common, schedule: "0 * * * *" }, async (_event) => {
  await enqueueAllOperation(storeDeps(), SOURCE, {
    jobType: "scheduled-sync",
    timeframeDays: 1,
    maxUsers: 10_000,
  });
});

export const sweepQueuedJobs = onSchedule(
  {
    ...common,
    schedule: "*/5 * * * *",
    timeoutSeconds: 540,
    secrets: [providerSecrets],
  },
  async (_event) => {
    await sweepOperation(processDeps({ trigger: "sweepQueuedJobs" }), SOURCE, {
      maxJobs: 25,
      maxUsers: 50,
    });
  },
);

export const cleanupOldJobs = onSchedule({ ...common, schedule: "0 3 * * 0" }, async (_event) => {
  await cleanupOperation(storeDeps(), SOURCE);
});

export const resetStaleJobs = onSchedule({ ...common, schedule: "0 * * * *" }, async (_event) => {
  await resetStaleOperation(storeDeps(), SOURCE);
});
