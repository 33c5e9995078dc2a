/**
 * The scheduler's operations, shared by the scheduled functions, the job trigger and the HTTP
 * endpoints: each runs its work, then records one scheduler event with its counts, duration and
 * grouped errors, and returns the same figures to the caller.
 */
import { type ProcessDeps, runJob } from "../jobs/process";
import { type EnqueueAllOptions, enqueueAllUsers } from "../jobs/schedule";
import {
  enqueueJobs,
  type EnqueueOutcome,
  type EnqueueRequest,
  resetStaleJobs,
  type StoreDeps,
} from "../jobs/store";
import { cleanupOldJobs, processDueJobs, processUserJobs } from "../jobs/worker";
import { emptyCounts, type ErrorGroup, groupErrors, recordEvent, type RunCounts } from "./events";

export interface OperationResult {
  operation: string;
  counts: RunCounts;
  errors: ErrorGroup[];
  jobIds: string[];
  details: Record<string, unknown>;
  eventId: string;
  durationMs: number;
}

interface Work {
  counts: RunCounts;
  errors?: ErrorGroup[];
  jobIds?: string[];
  details?: Record<string, unknown>;
}

async function recorded(
  deps: StoreDeps,
  operation: string,
  source: string,
  work: () => Promise<Work>,
): Promise<OperationResult> {
  const startedAt = deps.clock();
  const done = await work();
  const finishedAt = deps.clock();
  const errors = done.errors ?? [];
  const details = done.details ?? {};
  const eventId = await recordEvent(deps.db, {
    operation,
    source,
    startedAt,
    finishedAt,
    counts: done.counts,
    errors,
    details,
  });
  return {
    operation,
    counts: done.counts,
    errors,
    jobIds: done.jobIds ?? [],
    details,
    eventId,
    durationMs: finishedAt.getTime() - startedAt.getTime(),
  };
}

function tallyEnqueue(outcomes: readonly EnqueueOutcome[]): Work {
  const counts = emptyCounts();
  const jobIds: string[] = [];
  const skipped: Record<string, number> = {};
  for (const outcome of outcomes) {
    if (outcome.status === "queued") {
      counts.queued += 1;
      jobIds.push(outcome.jobId);
    } else {
      counts.skipped += 1;
      const reason = outcome.status === "existing" ? "active_job_exists" : outcome.reason;
      skipped[reason] = (skipped[reason] ?? 0) + 1;
      if (outcome.status === "existing") {
        jobIds.push(outcome.jobId);
      }
    }
  }
  return { counts, jobIds, details: { skipped } };
}

/** `process_all_users` and the scheduled enqueue: every active integration of up to maxUsers users. */
export function enqueueAllOperation(
  deps: StoreDeps,
  source: string,
  options: Omit<EnqueueAllOptions, "source">,
): Promise<OperationResult> {
  return recorded(deps, "process_all_users", source, async () => {
    const result = await enqueueAllUsers(deps, { ...options, source });
    const work = tallyEnqueue(result.outcomes);
    work.counts.skipped += result.autoSyncOff;
    return {
      ...work,
      details: {
        ...work.details,
        users: result.users,
        autoSyncOff: result.autoSyncOff,
        nextCursor: result.nextCursor,
      },
    };
  });
}

/** Manual scheduling of specific integrations (the schedule endpoint). */
export function enqueueOperation(
  deps: StoreDeps,
  source: string,
  requests: readonly EnqueueRequest[],
): Promise<OperationResult> {
  return recorded(deps, "schedule", source, async () =>
    tallyEnqueue(await enqueueJobs(deps, requests)),
  );
}

/** The sweep and the worker endpoint. */
export function sweepOperation(
  deps: ProcessDeps,
  source: string,
  options: { maxJobs: number; maxUsers: number },
): Promise<OperationResult> {
  return recorded(deps, "process_queued_jobs", source, () => processDueJobs(deps, options));
}

/**
 * The job trigger: processes the job just created. A duplicate delivery finds the job already
 * claimed (or finished) and is counted as skipped.
 */
export function processCreatedJobOperation(
  deps: ProcessDeps,
  jobId: string,
  providerId: string,
): Promise<OperationResult> {
  return recorded(deps, "process_job", "trigger", async () => {
    const counts = emptyCounts();
    const { outcome, errorCode } = await runJob(deps, jobId);
    if (outcome === "not_claimed" || outcome === "lease_lost") {
      counts.skipped = 1;
      return { counts, details: { jobId, outcome } };
    }
    counts.processed = 1;
    counts.succeeded = outcome === "succeeded" ? 1 : 0;
    counts.failed = outcome === "failed" ? 1 : 0;
    counts.retried = outcome === "retry_scheduled" ? 1 : 0;
    return {
      counts,
      jobIds: [jobId],
      errors: errorCode ? groupErrors([{ provider: providerId, code: errorCode }]) : [],
      details: { jobId, outcome },
    };
  });
}

/** The process endpoint: one user's due jobs now. */
export function processUserOperation(
  deps: ProcessDeps,
  source: string,
  userId: string,
  maxJobs: number,
): Promise<OperationResult> {
  return recorded(deps, "process_user_jobs", source, async () => ({
    ...(await processUserJobs(deps, userId, maxJobs)),
    details: { userId },
  }));
}

/**
 * Bounded work per call, the same for every caller (the next run continues): at most 10 × 200
 * deletes per collection; 200 stale jobs, each its own transaction, keep a run to seconds.
 */
export const CLEANUP_LIMITS = { batchSize: 200, maxBatches: 10 } as const;
export const STALE_RESET_LIMIT = 200;

export function cleanupOperation(deps: StoreDeps, source: string): Promise<OperationResult> {
  return recorded(deps, "cleanup_old_jobs", source, async () => {
    const result = await cleanupOldJobs(deps, CLEANUP_LIMITS);
    return { counts: emptyCounts(), details: { ...result } };
  });
}

export function resetStaleOperation(deps: StoreDeps, source: string): Promise<OperationResult> {
  return recorded(deps, "reset_stale_jobs", source, async () => {
    const result = await resetStaleJobs(deps, STALE_RESET_LIMIT);
    const counts = emptyCounts();
    counts.queued = result.requeued;
    counts.failed = result.failed;
    return { counts, details: { ...result } };
  });
}
