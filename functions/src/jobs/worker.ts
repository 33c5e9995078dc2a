/**
 * Batch processing of due jobs (the sweep, the worker endpoint, the process endpoint) and the
 * maintenance operations (stale reset, cleanup), each returning counts for its scheduler event.
 * Jobs run one after another: the provider limiter bounds platform load, and one job's failure
 * never stops the batch.
 */
import { emptyCounts, type ErrorGroup, groupErrors, type RunCounts } from "../scheduler/events";
import { eventsCreatedBefore } from "../scheduler/events";
import { type ProcessDeps, runJob } from "./process";
import { deleteInBatches, jobQueries, parseJob, RETENTION_MS, type StoreDeps } from "./store";

export interface BatchResult {
  counts: RunCounts;
  errors: ErrorGroup[];
  jobIds: string[];
}

/** Runs the given job ids, in order, stopping after `maxUsers` distinct users. */
async function runBatch(
  deps: ProcessDeps,
  jobs: ReadonlyArray<{ id: string; userId: string; providerId: string }>,
  maxUsers: number,
): Promise<BatchResult> {
  const counts = emptyCounts();
  const failures: Array<{ provider: string; code: string }> = [];
  const users = new Set<string>();
  const jobIds: string[] = [];
  for (const job of jobs) {
    if (!users.has(job.userId) && users.size >= maxUsers) {
      counts.skipped += 1;
      continue;
    }
    users.add(job.userId);
    const { outcome, errorCode } = await runJob(deps, job.id);
    if (outcome === "not_claimed" || outcome === "lease_lost") {
      counts.skipped += 1;
      continue;
    }
    jobIds.push(job.id);
    counts.processed += 1;
    if (outcome === "succeeded") {
      counts.succeeded += 1;
    } else {
      failures.push({ provider: job.providerId, code: errorCode ?? "unknown" });
      counts[outcome === "failed" ? "failed" : "retried"] += 1;
    }
  }
  return { counts, errors: groupErrors(failures), jobIds };
}

/** The sweep and the worker endpoint: due queued jobs, oldest first. */
export async function processDueJobs(
  deps: ProcessDeps,
  options: { maxJobs: number; maxUsers: number },
): Promise<BatchResult> {
  const due = await jobQueries.due(deps.db, deps.clock(), options.maxJobs).get();
  const jobs = due.docs.map((doc) => ({ id: doc.id, ...parseJob(doc.id, doc.data()).job }));
  return runBatch(deps, jobs, options.maxUsers);
}

/** The process endpoint: one user's due queued jobs, now. */
export async function processUserJobs(
  deps: ProcessDeps,
  userId: string,
  maxJobs: number,
): Promise<BatchResult> {
  const due = await jobQueries.dueForUser(deps.db, userId, deps.clock(), maxJobs).get();
  const jobs = due.docs.map((doc) => ({ id: doc.id, ...parseJob(doc.id, doc.data()).job }));
  return runBatch(deps, jobs, 1);
}

export interface CleanupResult {
  jobsDeleted: number;
  eventsDeleted: number;
}

/** Terminal jobs and scheduler events older than the 7-day retention, in bounded batches. */
export async function cleanupOldJobs(
  deps: StoreDeps,
  options: { batchSize: number; maxBatches: number },
): Promise<CleanupResult> {
  const cutoff = new Date(deps.clock().getTime() - RETENTION_MS);
  const jobsDeleted = await deleteInBatches(
    deps.db,
    jobQueries.finishedBefore(deps.db, cutoff, options.batchSize),
    options.maxBatches,
  );
  const eventsDeleted = await deleteInBatches(
    deps.db,
    eventsCreatedBefore(deps.db, cutoff, options.batchSize),
    options.maxBatches,
  );
  return { jobsDeleted, eventsDeleted };
}
