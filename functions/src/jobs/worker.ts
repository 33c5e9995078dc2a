/**
 * Batch processing of due jobs (the sweep, the worker endpoint, the process endpoint) and the
 * maintenance operations (stale reset, cleanup), each returning counts for its scheduler event.
 * Jobs run one after another: the provider limiter bounds platform load, and one job's failure
 * never stops the batch.
 */
import { emptyCounts, type ErrorGroup, groupErrors, type RunCounts } from "../scheduler/events";
import { eventsCreatedBefore } from "../scheduler/events";
import { type ProcessDeps, runJob } from "./process";
import { deleteUntilDeadline, jobQueries, RETENTION_MS, type StoreDeps } from "./store";

export interface BatchResult {
  counts: RunCounts;
  errors: ErrorGroup[];
  jobIds: string[];
  details: {
    /** Jobs not started because the batch's deadline had passed: the next run takes them. */
    leftByDeadline: number;
    /** Job documents that failed validation (failed `permanent`), with why; at most 20 named. */
    invalidJobs: Array<{ jobId: string; issues: string }>;
    /** Jobs whose processing threw (e.g. contention outlasting its retries), left for later. */
    erroredJobs: Array<{ jobId: string; error: string }>;
  };
}

export interface BatchLimits {
  maxJobs: number;
  maxUsers: number;
  /** No job is claimed at or after this time (the function's timeout minus a margin). */
  deadline: Date;
}

/** Enough to diagnose from the event; the log has every one. */
const MAX_NAMED = 20;

/** Runs the given jobs, in order, stopping after `maxUsers` distinct users or at the deadline. */
async function runBatch(
  deps: ProcessDeps,
  jobs: ReadonlyArray<{ id: string; userId: string; providerId: string }>,
  limits: Omit<BatchLimits, "maxJobs">,
): Promise<BatchResult> {
  const counts = emptyCounts();
  const failures: Array<{ provider: string; code: string }> = [];
  const users = new Set<string>();
  const jobIds: string[] = [];
  const details: BatchResult["details"] = { leftByDeadline: 0, invalidJobs: [], erroredJobs: [] };
  for (const job of jobs) {
    if (deps.clock().getTime() >= limits.deadline.getTime()) {
      // Claiming now could outlive the function: leave the job queued for the next run.
      details.leftByDeadline += 1;
      counts.skipped += 1;
      continue;
    }
    if (!users.has(job.userId) && users.size >= limits.maxUsers) {
      counts.skipped += 1;
      continue;
    }
    users.add(job.userId);
    let run: Awaited<ReturnType<typeof runJob>>;
    try {
      run = await runJob(deps, job.id);
    } catch (error) {
      // One job's store error must not stop the batch; its lease (if any) expires and the
      // stale reset requeues it.
      const message = error instanceof Error ? error.message : String(error);
      deps.logger.error("job could not be processed", { jobId: job.id, errorMessage: message });
      if (details.erroredJobs.length < MAX_NAMED) {
        details.erroredJobs.push({ jobId: job.id, error: message.slice(0, 300) });
      }
      failures.push({ provider: job.providerId, code: "store_error" });
      counts.skipped += 1;
      continue;
    }
    const { outcome, errorCode, issues } = run;
    if (outcome === "not_claimed" || outcome === "lease_lost") {
      counts.skipped += 1;
      continue;
    }
    if (outcome === "invalid_document") {
      if (details.invalidJobs.length < MAX_NAMED) {
        details.invalidJobs.push({ jobId: job.id, issues: issues ?? "" });
      }
      failures.push({ provider: job.providerId, code: "invalid_document" });
      counts.failed += 1;
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
  return { counts, errors: groupErrors(failures), jobIds, details };
}

/**
 * The fields a batch needs to order its work, read without validating the document: an invalid
 * one still reaches `runJob`, whose claim fails it and reports it.
 */
const batchEntry = (doc: { id: string; get(field: string): unknown }) => ({
  id: doc.id,
  userId: String(doc.get("userId")),
  providerId: String(doc.get("providerId")),
});

/** The sweep and the worker endpoint: due queued jobs, oldest first. */
export async function processDueJobs(deps: ProcessDeps, limits: BatchLimits): Promise<BatchResult> {
  const due = await jobQueries.due(deps.db, deps.clock(), limits.maxJobs).get();
  return runBatch(deps, due.docs.map(batchEntry), limits);
}

/** The process endpoint: one user's due queued jobs, now. */
export async function processUserJobs(
  deps: ProcessDeps,
  userId: string,
  limits: { maxJobs: number; deadline: Date },
): Promise<BatchResult> {
  const due = await jobQueries.dueForUser(deps.db, userId, deps.clock(), limits.maxJobs).get();
  return runBatch(deps, due.docs.map(batchEntry), { maxUsers: 1, deadline: limits.deadline });
}

export interface CleanupResult {
  jobsDeleted: number;
  eventsDeleted: number;
  /** `deadline`: documents may be left; the next run (hourly) continues. */
  stoppedBy: "done" | "deadline";
}

/**
 * Terminal jobs and scheduler events older than the 7-day retention, a page at a time until none
 * is left or the deadline passes. Firestore's TTL policy on `expireAt` deletes them too (within
 * a day or so of expiry); this pass keeps the collections bounded where no TTL policy is set.
 */
export async function cleanupOldJobs(
  deps: StoreDeps,
  limits: { pageSize: number; deadline: Date },
): Promise<CleanupResult> {
  const cutoff = new Date(deps.clock().getTime() - RETENTION_MS);
  const jobs = await deleteUntilDeadline(
    deps,
    jobQueries.finishedBefore(deps.db, cutoff, limits.pageSize),
    limits.deadline,
  );
  const events = await deleteUntilDeadline(
    deps,
    eventsCreatedBefore(deps.db, cutoff, limits.pageSize),
    limits.deadline,
  );
  return {
    jobsDeleted: jobs.deleted,
    eventsDeleted: events.deleted,
    stoppedBy: jobs.stoppedBy === "done" && events.stoppedBy === "done" ? "done" : "deadline",
  };
}
