/**
 * A platform's request budget, held across every instance. Cloud Tasks caps each platform
 * queue's concurrent dispatches fleet-wide (`maxConcurrentDispatches`, `triggers/tasks.ts`), so
 * the budget (`requestsPerSecond` of `PROVIDER_SETTINGS`, the app-wide rate the platform allows)
 * is split into that many equal shares, and each job run gets one: its own limiter allows
 * `requestsPerSecond × HEADROOM / maxConcurrentDispatches`, one request at a time. At most
 * `maxConcurrentDispatches` runs exist at once, whatever the number of instances, so the fleet
 * stays under the budget. Per-instance limiters could not: ten instances, each at the budget,
 * send ten times the budget.
 */
import type { ProviderId } from "./types";

/**
 * Each platform's queue. The concurrency is the number of budget shares (and so of runs at
 * once); it is kept small enough that a share still serves a run at a useful pace (the
 * defaults of `providers/settings.ts`: Google 5 requests/s → 0.48 per run, TikTok 5 → 0.48,
 * Meta and LinkedIn 2 → 0.48). The dispatch rate only spreads task starts: runs are seconds
 * long, so it never binds before the concurrency does.
 */
export const TASK_QUEUES: {
  readonly [P in ProviderId]: {
    functionName: string;
    maxConcurrentDispatches: number;
    maxDispatchesPerSecond: number;
  };
} = {
  google: {
    functionName: "runSyncJobGoogle",
    maxConcurrentDispatches: 10,
    maxDispatchesPerSecond: 5,
  },
  meta: { functionName: "runSyncJobMeta", maxConcurrentDispatches: 4, maxDispatchesPerSecond: 2 },
  linkedin: {
    functionName: "runSyncJobLinkedin",
    maxConcurrentDispatches: 4,
    maxDispatchesPerSecond: 2,
  },
  tiktok: {
    functionName: "runSyncJobTiktok",
    maxConcurrentDispatches: 10,
    maxDispatchesPerSecond: 5,
  },
};

/**
 * Each platform's backfill queue (`triggers/tasks.ts`): history runs get shares of their own, a
 * few beside the syncs', so however many backfills wait, the syncs keep their shares — a
 * backfill is never ahead of a nightly sync, and never holds one back. One share each: 1 of 11
 * of Google's and TikTok's budget, 1 of 5 of Meta's and LinkedIn's (whose syncs have only 4);
 * what an idle backfill queue leaves unused is the price of the syncs never waiting. A backfill
 * run is bounded (`backfill/run.ts`), so the slot turns over every few minutes.
 */
export const BACKFILL_QUEUES: typeof TASK_QUEUES = {
  google: {
    functionName: "runBackfillGoogle",
    maxConcurrentDispatches: 1,
    maxDispatchesPerSecond: 1,
  },
  meta: { functionName: "runBackfillMeta", maxConcurrentDispatches: 1, maxDispatchesPerSecond: 1 },
  linkedin: {
    functionName: "runBackfillLinkedin",
    maxConcurrentDispatches: 1,
    maxDispatchesPerSecond: 1,
  },
  tiktok: {
    functionName: "runBackfillTiktok",
    maxConcurrentDispatches: 1,
    maxDispatchesPerSecond: 1,
  },
};

/** The queues a job can run on: its platform's syncs', or its backfills'. */
export type QueueKind = "sync" | "backfill";
export const queuesOf = (kind: QueueKind) => (kind === "sync" ? TASK_QUEUES : BACKFILL_QUEUES);

/**
 * The share of the budget left unused, for request arrival times that jitter: the fleet aims
 * 5 % under the configured rate. (A run that follows another in the same queue slot cannot
 * burst: its limiter starts with its window spent, `RateLimiter` `startFull`.)
 */
export const HEADROOM = 0.95;

/**
 * One run's limits: an equal share of the platform's fleet-wide budget — of its request rate
 * and of its requests in flight (at least one).
 */
export function runLimits(
  providerId: ProviderId,
  budget: { requestsPerSecond: number; concurrency: number },
): { requestsPerSecond: number; concurrency: number } {
  // Every run of either queue holds one share: at most this many run at once.
  const shares =
    TASK_QUEUES[providerId].maxConcurrentDispatches +
    BACKFILL_QUEUES[providerId].maxConcurrentDispatches;
  return {
    requestsPerSecond: (budget.requestsPerSecond * HEADROOM) / shares,
    concurrency: Math.max(1, Math.floor(budget.concurrency / shares)),
  };
}
