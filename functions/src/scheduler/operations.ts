/**
 * The scheduler's operations, shared by the scheduled functions and the HTTP endpoints: each
 * runs its work, measures the queue after the sweep and the stale reset, evaluates the alerts,
 * then records one scheduler event with its counts, duration, grouped errors, details, queue
 * gauges and alert deliveries, and returns the same figures to the caller. Job runs of the
 * platform queues record no event of their own: the sweep's aggregates them (`outcomes.ts`). Neither the gauges nor the alerts can fail a run: their failures go into the event.
 */
import { z } from "zod";

import type { BackfillRequest } from "../backfill/store";
import { type DispatchDeps, dispatchDueJobs, dispatchJobs } from "../jobs/dispatch";
import type { ProcessDeps } from "../jobs/process";
import { type EnqueueAllOptions, enqueueAllUsers } from "../jobs/schedule";
import {
  enqueueJobs,
  type EnqueueOutcome,
  type EnqueueRequest,
  resetStaleJobs,
  type StoreDeps,
} from "../jobs/store";
import { type BatchResult, cleanupOldJobs, processDueJobs, processUserJobs } from "../jobs/worker";
import type { ProviderId } from "../providers/types";
import type { SchedulerOperation } from "../shared/alert-config";
import type { RawEnv } from "../shared/config";
import type { Logger } from "../shared/logger";
import { type AlertsReport, evaluateRunAlerts } from "./alerts";
import {
  emptyCounts,
  type ErrorGroup,
  groupErrors,
  newEventId,
  recordEvent,
  type RunCounts,
} from "./events";
import { type QueueReading, readQueueGauges, SCHEDULER_GAUGE_CAP } from "./gauges";
import { jobOutcomesSince } from "./outcomes";

/**
 * The store, plus the raw parameters (alert configuration) and a logger when the caller has them
 * (the HTTP endpoints); otherwise the Functions runtime's own parameters, as the scheduled
 * functions and the job trigger see them.
 */
export interface OperationDeps extends StoreDeps {
  /** Raw parameters: the alert configuration is read from them. */
  env: RawEnv;
  logger: Logger;
}

export interface OperationResult {
  operation: SchedulerOperation;
  counts: RunCounts;
  errors: ErrorGroup[];
  jobIds: string[];
  details: Record<string, unknown>;
  /** Measured after the sweep and the stale reset. */
  queue?: QueueReading;
  /** Present when alerting sent something, failed to, or could not be evaluated. */
  alerts?: AlertsReport;
  eventId: string;
  durationMs: number;
}

interface Work {
  counts: RunCounts;
  errors?: ErrorGroup[];
  jobIds?: string[];
  details?: Record<string, unknown>;
  /** Stale jobs the run itself found (the stale reset). */
  staleFound?: number;
}

/** The operations that drain or repair the queue: it is measured (and alerted on) after them. */
const QUEUE_WATCHERS: ReadonlySet<SchedulerOperation> = new Set([
  "process_queued_jobs",
  "reset_stale_jobs",
]);

/** One line for events and logs: a document that failed validation names its fields. */
function describeFailure(error: unknown): string {
  const text =
    error instanceof z.ZodError
      ? `invalid document: ${error.issues.map((issue) => `${issue.path.join(".")} (${issue.message})`).join(", ")}`
      : error instanceof Error
        ? (error.message.split("\n")[0] ?? error.name)
        : String(error);
  return text.slice(0, 300);
}

/**
 * The same dependencies with a fetcher that notes which platforms the run called: a platform
 * reached without a failure clears its failure alert.
 */
const reaching = (deps: ProcessDeps, reached: Set<ProviderId>): ProcessDeps => ({
  ...deps,
  fetchMetrics: (providerId, request) => {
    reached.add(providerId);
    return deps.fetchMetrics(providerId, request);
  },
});

async function measureQueue(deps: StoreDeps, logger: Logger): Promise<QueueReading> {
  try {
    return await readQueueGauges(deps.db, deps.clock(), SCHEDULER_GAUGE_CAP);
  } catch (error) {
    logger.error("queue gauges could not be read", { errorMessage: describeFailure(error) });
    return { error: describeFailure(error) };
  }
}

async function recorded(
  deps: OperationDeps,
  operation: SchedulerOperation,
  source: string,
  work: (reached: Set<ProviderId>) => Promise<Work>,
): Promise<OperationResult> {
  const logger = deps.logger.child({ operation, source });
  const startedAt = deps.clock();
  const eventId = newEventId(deps.db);
  const reached = new Set<ProviderId>();
  let done: Work;
  try {
    done = await work(reached);
  } catch (error) {
    // The crash gets its event too; recording it must not mask the error itself.
    await recordEvent(deps.db, {
      id: eventId,
      operation,
      source,
      startedAt,
      finishedAt: deps.clock(),
      counts: emptyCounts(),
      errors: [],
      crash: describeFailure(error),
    }).catch((recordError: unknown) => {
      logger.error("could not record the event of a crashed run", {
        errorMessage: describeFailure(recordError),
      });
    });
    throw error;
  }
  const errors = done.errors ?? [];
  const queue = QUEUE_WATCHERS.has(operation) ? await measureQueue(deps, logger) : undefined;
  const alerts = await evaluateRunAlerts(
    { db: deps.db, clock: deps.clock, logger, env: deps.env },
    {
      operation,
      source,
      eventId,
      errors,
      reached: [...reached],
      ...(queue && !("error" in queue) ? { queue } : {}),
      ...(done.staleFound === undefined ? {} : { staleFound: done.staleFound }),
    },
  );
  const details = done.details ?? {};
  const insights = { ...(queue ? { queue } : {}), ...(alerts ? { alerts } : {}) };
  const finishedAt = deps.clock();
  await recordEvent(deps.db, {
    id: eventId,
    operation,
    source,
    startedAt,
    finishedAt,
    counts: done.counts,
    errors,
    details,
    ...insights,
  });
  return {
    operation,
    counts: done.counts,
    errors,
    jobIds: done.jobIds ?? [],
    details,
    ...insights,
    eventId,
    durationMs: finishedAt.getTime() - startedAt.getTime(),
  };
}

/**
 * Builds what a run needs from the configuration (validated once per instance by the builder);
 * a bad setting — say an invalid TOKEN_ENCRYPTION_KEYS — is recorded as the run's crash event,
 * where operators look, before it propagates: never a run that fails with no event while health
 * alone says so.
 */
export async function configured<T>(
  deps: OperationDeps,
  operation: SchedulerOperation,
  source: string,
  build: () => T,
): Promise<T> {
  try {
    return build();
  } catch (error) {
    // `recorded` records the crash event and rethrows the error.
    await recorded(deps, operation, source, () => {
      throw error;
    });
    throw error;
  }
}

/**
 * Time budgets: a batch starts no page or job after its budget, leaving the rest for the next
 * run. The endpoints sit behind Hosting, which cuts a request at 60 s: 15 s of margin cover the
 * last job or page, the event and the alerts. The scheduled functions pass their own budget.
 */
export const REQUEST_BUDGET_MS = 45_000;

const deadlineAfter = (deps: StoreDeps, budgetMs: number): Date =>
  new Date(deps.clock().getTime() + budgetMs);

/** A batch's details, only those that say something (a clean batch's event stays short). */
const batchWork = ({ details, ...batch }: BatchResult): Work => ({
  ...batch,
  details: Object.fromEntries(
    Object.entries(details).filter(([, value]) =>
      Array.isArray(value) ? value.length > 0 : value !== 0,
    ),
  ),
});

/** Enough to diagnose from the event; the log has every one. */
const MAX_NAMED = 20;

function tallyEnqueue(outcomes: readonly EnqueueOutcome[], logger: Logger): Work {
  const counts = emptyCounts();
  const jobIds: string[] = [];
  const skipped: Record<string, number> = {};
  const invalid: Array<{ integration: string; issues: string }> = [];
  const failed: Array<{ integration: string; error: string }> = [];
  for (const outcome of outcomes) {
    const integration = `${outcome.userId}/${outcome.providerId}`;
    if (outcome.status === "queued") {
      counts.queued += 1;
      jobIds.push(outcome.jobId);
    } else if (outcome.status === "failed") {
      counts.failed += 1;
      logger.error("integration could not be enqueued", {
        integration,
        errorMessage: outcome.error,
      });
      if (failed.length < MAX_NAMED) {
        failed.push({ integration, error: outcome.error.slice(0, 300) });
      }
    } else {
      counts.skipped += 1;
      const reason = outcome.status === "existing" ? "active_job_exists" : outcome.reason;
      skipped[reason] = (skipped[reason] ?? 0) + 1;
      if (outcome.status === "existing") {
        jobIds.push(outcome.jobId);
      } else if (outcome.reason === "invalid_integration") {
        logger.error("invalid integration document skipped", {
          integration,
          issues: outcome.issues,
        });
        if (invalid.length < MAX_NAMED) {
          invalid.push({ integration, issues: outcome.issues ?? "" });
        }
      }
    }
  }
  const errors = groupErrors([
    ...invalid.map(() => ({ provider: "enqueue", code: "invalid_integration" })),
    ...failed.map(() => ({ provider: "enqueue", code: "enqueue_failed" })),
  ]);
  return {
    counts,
    jobIds,
    errors,
    details: {
      skipped,
      ...(invalid.length > 0 ? { invalidIntegrations: invalid } : {}),
      ...(failed.length > 0 ? { failedIntegrations: failed } : {}),
    },
  };
}

export type EnqueueAllOperationOptions = Omit<EnqueueAllOptions, "source" | "deadline"> & {
  /** Default `REQUEST_BUDGET_MS`. */
  budgetMs?: number;
};

/**
 * `process_all_users` and the scheduled enqueue: every due integration, until the end,
 * `maxUsers` or the time budget; `details.nextCursor` and `stoppedBy` say where and why it
 * stopped (and a shared run stored it, see `EnqueueAllOptions.cursor`). A shared run names its
 * passes (`details.passes`: cadences, cursors, finished) and the pages it read; slots that
 * ended before their pass finished (`overrun`), integrations another pass holds
 * (`otherCadence`) and page commits that fell back to one job at a time (`batchFallbacks`,
 * with their first errors) appear only when there are some.
 */
export function enqueueAllOperation(
  deps: OperationDeps,
  source: string,
  options: EnqueueAllOperationOptions,
): Promise<OperationResult> {
  return recorded(deps, "process_all_users", source, async () => {
    const { budgetMs = REQUEST_BUDGET_MS, ...scan } = options;
    const result = await enqueueAllUsers(deps, {
      ...scan,
      source,
      deadline: deadlineAfter(deps, budgetMs),
    });
    const work = tallyEnqueue(result.outcomes, deps.logger);
    work.counts.skipped += result.autoSyncOff;
    return {
      ...work,
      details: {
        ...work.details,
        users: result.users,
        autoSyncOff: result.autoSyncOff,
        startCursor: result.startCursor,
        nextCursor: result.nextCursor,
        stoppedBy: result.stoppedBy,
        sharedCursor: result.sharedCursor,
        pages: result.pages,
        ...(result.sharedCursor ? { passes: result.passes } : {}),
        ...(result.overrun.length > 0 ? { overrun: result.overrun } : {}),
        ...(result.otherCadence > 0 ? { otherCadence: result.otherCadence } : {}),
        ...(result.batchFallbacks.length > 0
          ? {
              batchFallbacks: result.batchFallbacks.length,
              batchFallbackErrors: result.batchFallbacks.slice(0, MAX_NAMED),
            }
          : {}),
      },
    };
  });
}

/**
 * Manual scheduling of specific integrations (the schedule endpoint). Contention that outlasts
 * the retries throws `unavailable` (503 with Retry-After): the caller asked for these jobs and
 * must learn they were not queued.
 */
export function enqueueOperation(
  deps: OperationDeps,
  source: string,
  requests: readonly EnqueueRequest[],
): Promise<OperationResult> {
  return recorded(deps, "schedule", source, async () =>
    tallyEnqueue(await enqueueJobs(deps, requests), deps.logger),
  );
}

/**
 * Backfill requests (the schedule endpoint's `initial-backfill`): each integration's plan created
 * or extended to `since`, and a job on it unless one is at work (`backfill/store.ts`). The
 * response's `details.backfills` gives each plan's progress as the status endpoint shows it.
 */
export function backfillOperation(
  deps: OperationDeps,
  source: string,
  requests: readonly BackfillRequest[],
): Promise<OperationResult> {
  return recorded(deps, "schedule", source, async () => {
    const [{ requestBackfill }, { progressOf }, { ADAPTERS }] = await Promise.all([
      import("../backfill/store"),
      import("../backfill/plan"),
      import("../providers/registry"),
    ]);
    const outcomes: EnqueueOutcome[] = [];
    const backfills: Array<Record<string, unknown>> = [];
    for (const request of requests) {
      const base = { userId: request.userId, providerId: request.providerId };
      const outcome = await requestBackfill(deps, request, ADAPTERS[request.providerId].history);
      if (outcome.status === "skipped") {
        outcomes.push({
          ...base,
          status: "skipped",
          reason: outcome.reason,
          ...(outcome.issues ? { issues: outcome.issues } : {}),
        });
        continue;
      }
      outcomes.push(
        outcome.status === "complete"
          ? { ...base, status: "skipped", reason: "history_complete" }
          : { ...base, status: outcome.status, jobId: outcome.jobId },
      );
      backfills.push({ providerId: request.providerId, ...progressOf(outcome.plan, deps.clock()) });
    }
    const work = tallyEnqueue(outcomes, deps.logger);
    return { ...work, details: { ...work.details, backfills } };
  });
}

/**
 * The scheduled sweep: the oldest due jobs dispatched again (`dispatchDueJobs`: a lost dispatch
 * recovered, the rest already there), and the jobs that finished since the last sweep
 * aggregated for the alerts — failures by platform and code, and the platforms that succeeded —
 * so that no job run writes the shared alert state: one sweep every five minutes does.
 */
export function dispatchSweepOperation(
  deps: OperationDeps & DispatchDeps,
  source: string,
  options: { maxJobs: number; windowMs: number },
): Promise<OperationResult> {
  return recorded(deps, "process_queued_jobs", source, async (reached) => {
    const since = new Date(deps.clock().getTime() - options.windowMs);
    const [dispatched, outcomes] = await Promise.all([
      dispatchDueJobs(deps, options.maxJobs),
      jobOutcomesSince(deps.db, since),
    ]);
    outcomes.reached.forEach((providerId) => reached.add(providerId));
    const counts = emptyCounts();
    counts.queued = dispatched.enqueued;
    counts.skipped = dispatched.exists + dispatched.notQueued + dispatched.invalid;
    counts.failed = outcomes.failed;
    return {
      counts,
      errors: [
        ...outcomes.errors,
        ...groupErrors(
          dispatched.errored.map(() => ({ provider: "dispatch", code: "enqueue_failed" })),
        ),
      ],
      details: {
        dispatched: { ...dispatched, errored: dispatched.errored.length },
        ...(dispatched.errored.length > 0 ? { dispatchErrors: dispatched.errored } : {}),
        finished: { since: since.toISOString(), failed: outcomes.failed, capped: outcomes.capped },
      },
    };
  });
}

/** The worker endpoint: due jobs run here, now, one after another. */
export function sweepOperation(
  deps: ProcessDeps & OperationDeps,
  source: string,
  options: { maxJobs: number; maxUsers: number; budgetMs?: number },
): Promise<OperationResult> {
  const { budgetMs = REQUEST_BUDGET_MS, ...limits } = options;
  return recorded(deps, "process_queued_jobs", source, async (reached) =>
    batchWork(
      await processDueJobs(reaching(deps, reached), {
        ...limits,
        deadline: deadlineAfter(deps, budgetMs),
      }),
    ),
  );
}

/** The process endpoint: one user's due jobs now. */
export function processUserOperation(
  deps: ProcessDeps & OperationDeps,
  source: string,
  userId: string,
  maxJobs: number,
): Promise<OperationResult> {
  return recorded(deps, "process_user_jobs", source, async (reached) => {
    const batch = await processUserJobs(reaching(deps, reached), userId, {
      maxJobs,
      deadline: deadlineAfter(deps, REQUEST_BUDGET_MS),
    });
    const work = batchWork(batch);
    return { ...work, details: { ...work.details, userId } };
  });
}

/**
 * Pages of the maintenance operations: 500 deletes are one atomic batch (Firestore's limit);
 * stale resets are transactions of their own, 10 at a time (`resetStaleJobs`).
 */
export const CLEANUP_PAGE_SIZE = 500;
export const STALE_RESET_PAGE_SIZE = 100;

/** Until nothing old is left or the budget is spent (`details.stoppedBy`). */
export function cleanupOperation(
  deps: OperationDeps,
  source: string,
  budgetMs = REQUEST_BUDGET_MS,
): Promise<OperationResult> {
  return recorded(deps, "cleanup_old_jobs", source, async () => {
    const result = await cleanupOldJobs(deps, {
      pageSize: CLEANUP_PAGE_SIZE,
      deadline: deadlineAfter(deps, budgetMs),
    });
    return { counts: emptyCounts(), details: { ...result } };
  });
}

/**
 * Until no stale job is left or the budget is spent (`details.stoppedBy`); each requeued job
 * gets its task at once (the sweep dispatches any whose enqueue failed).
 */
export function resetStaleOperation(
  deps: OperationDeps & DispatchDeps,
  source: string,
  budgetMs = REQUEST_BUDGET_MS,
): Promise<OperationResult> {
  return recorded(deps, "reset_stale_jobs", source, async () => {
    const result = await resetStaleJobs(deps, {
      pageSize: STALE_RESET_PAGE_SIZE,
      deadline: deadlineAfter(deps, budgetMs),
    });
    const dispatched = await dispatchJobs(deps, result.requeuedIds);
    const counts = emptyCounts();
    counts.queued = result.requeued;
    counts.failed = result.failed;
    counts.skipped = result.errored;
    return {
      counts,
      // `invalid` and `errored` only when there were some, as a batch's details (`batchWork`).
      details: {
        requeued: result.requeued,
        failed: result.failed,
        ...(result.invalid > 0 ? { invalid: result.invalid } : {}),
        ...(result.errored > 0 ? { errored: result.errored } : {}),
        ...(dispatched.errored.length > 0 ? { dispatchErrors: dispatched.errored } : {}),
        stoppedBy: result.stoppedBy,
      },
      staleFound: result.requeued + result.failed + result.invalid + result.errored,
    };
  });
}
