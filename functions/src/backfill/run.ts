/**
 * One backfill run (an `initial-backfill` job): the plan's slices, newest first, until the run's
 * request budget or its deadline, then the next run is chained (`store.ts` `finishRun`).
 *
 * A slice is one account's fixed range, fetched whole through the platform's asynchronous
 * report path where it has one (`FetchRequest.bulk`), its rows stored additively
 * (`MetricsStore.addRows`: nothing zeroed), then recorded done. A run stops *between* slices:
 * a slice started always finishes or fails whole, so no slice is asked for twice unless a worker
 * died inside it (then that one slice is redone, its rows reading unchanged).
 *
 * A slice's failure decides by class: `beyond_retention` ends the account's history there
 * (recorded); another `permanent` one fails that account (reported) and the others go on;
 * `auth`, `rate_limited` and `transient` end the run as the job's failure (`failJob`: a
 * reconnect, a deferral to the platform's wait, a retry with backoff), every slice stored so far
 * kept.
 */
import { syncedAccountIds } from "../integrations/accounts";
import type { Integration } from "../integrations/model";
import type { Job, JobResult } from "../jobs/model";
import { addCounts, MetricsStore, noCounts } from "../metrics/store";
import type { HistoryLimits } from "../providers/adapter";
import { canonicalAccountId } from "../providers/ids";
import { BEYOND_RETENTION } from "../providers/ranges";
import type {
  Credentials,
  FetchRequest,
  FetchResult,
  ProviderErrorInfo,
  ProviderId,
} from "../providers/types";
import type { Clock } from "../shared/clock";
import type { Logger } from "../shared/logger";
import { nextSlice, type Plan } from "./plan";
import {
  backfillPath,
  finishRun,
  parsePlan,
  recordAccountEnd,
  recordSlice,
  requestBackfill,
  type RunEnd,
  type RunIdentity,
  sinceDaysBack,
} from "./store";

/**
 * Platform requests one run may start slices with: a run past it starts no further slice (the
 * one under way finishes), so a run holds its queue slot for minutes, not hours, and the other
 * backfills waiting on the queue get their turn.
 */
export const BACKFILL_RUN_REQUESTS = 200;

/** The reason of an account the fetch did not start for its deadline (`providers/http.ts`). */
const RUN_DEADLINE = "run_deadline";

export interface BackfillDeps {
  db: FirebaseFirestore.Firestore;
  clock: Clock;
  logger: Logger;
  fetchMetrics: (providerId: ProviderId, request: FetchRequest) => Promise<FetchResult>;
  /** No slice starts at or after it. */
  deadline?: Date;
  /** The platforms' history limits (default: the adapters'). */
  history?: (providerId: ProviderId) => HistoryLimits;
  /** Requests a run may start slices with (default `BACKFILL_RUN_REQUESTS`). */
  runRequests?: number;
}

export interface BackfillWork {
  jobId: string;
  owner: string;
  job: Job;
  integration: Integration;
  credentials: Credentials;
  /** Persists a refreshed token before anything that may fail (`process.ts`). */
  persist: (refreshed: Credentials) => Promise<void>;
}

/** A failure that ends the run as the job's (`process.ts` records it with `failJob`). */
export class BackfillRunFailure extends Error {
  constructor(
    readonly failure: ProviderErrorInfo,
    /** What the run did before it failed (kept: its slices are recorded), for its event. */
    readonly progress: { slices: number; requests: number; rowsWritten: number } = {
      slices: 0,
      requests: 0,
      rowsWritten: 0,
    },
  ) {
    super(failure.message);
  }
}

export interface BackfillRunResult {
  end: RunEnd;
  result: JobResult;
  nextJobId?: string;
  slices: number;
  requests: number;
}

async function historyOf(deps: BackfillDeps, providerId: ProviderId): Promise<HistoryLimits> {
  if (deps.history) {
    return deps.history(providerId);
  }
  const { ADAPTERS } = await import("../providers/registry");
  return ADAPTERS[providerId].history;
}

/** The plan this job works on: its own, or (a job enqueued without one) one made from it. */
async function loadPlan(deps: BackfillDeps, work: BackfillWork): Promise<Plan> {
  const { job } = work;
  const { plan, invalid } = parsePlan(
    (await deps.db.doc(backfillPath(job.userId, job.providerId)).get()).data(),
  );
  if (invalid !== undefined) {
    throw new BackfillRunFailure({
      code: "permanent",
      reason: "invalid_backfill_plan",
      message: `the backfill plan fails validation: ${invalid}`,
    });
  }
  if (plan && plan.jobId === work.jobId) {
    return plan;
  }
  // An initial-backfill job from the fan-out or an older enqueue: a plan for its days, which
  // this job takes unless another job holds it (then this one ends with nothing to do).
  const outcome = await requestBackfill(
    deps,
    {
      userId: job.userId,
      providerId: job.providerId,
      since: sinceDaysBack(deps.clock(), job.timeframeDays),
      source: job.source,
    },
    await historyOf(deps, job.providerId),
    { jobId: work.jobId },
  );
  if (outcome.status !== "skipped") {
    return outcome.plan;
  }
  throw new BackfillRunFailure({
    code: "permanent",
    reason: outcome.reason,
    message: `no backfill plan could be made: ${outcome.reason}`,
  });
}

const errorOf = (error: ProviderErrorInfo) => ({
  code: error.code,
  reason: error.reason,
  message: error.message,
});

export async function runBackfill(
  deps: BackfillDeps,
  work: BackfillWork,
): Promise<BackfillRunResult> {
  const { job, integration, jobId } = work;
  const plan = await loadPlan(deps, work);
  const run: RunIdentity = {
    userId: job.userId,
    providerId: job.providerId,
    jobId,
    owner: work.owner,
  };
  const held = new Set(
    syncedAccountIds(integration).map((accountId) => canonicalAccountId(job.providerId, accountId)),
  );
  // Accounts the integration no longer holds are left as they are (their history kept).
  const accounts = Object.fromEntries(
    Object.entries(plan.accounts).filter(([canonicalId]) => held.has(canonicalId)),
  );
  const budget = deps.runRequests ?? BACKFILL_RUN_REQUESTS;
  const metrics = new MetricsStore(deps.db, job.userId, job.providerId, {
    jobId,
    now: deps.clock(),
  });
  const counts = noCounts();
  const outcomes: JobResult["accounts"] = [];
  let requests = 0;
  let slices = 0;
  let rowsFetched = 0;
  let credentials = work.credentials;
  let span: { since: string; until: string } | undefined;
  const logger = deps.logger.child({ backfill: `${job.userId}/${job.providerId}` });
  // Whether this run still holds the plan: another job may hold it (`loadPlan`), or this one
  // lost its lease (a stale reset gave the job to another worker): then it starts no slice.
  let holding = plan.jobId === jobId;

  while (holding) {
    if (requests >= budget || (deps.deadline && deps.clock() >= deps.deadline)) {
      break;
    }
    const next = nextSlice(accounts);
    if (!next) {
      break;
    }
    const { canonicalId, account, index, range } = next;
    let stored = noCounts();
    const fetched = await deps.fetchMetrics(job.providerId, {
      credentials,
      accountIds: [account.accountId],
      range,
      bulk: true,
      timeZones: integration.accountTimeZones,
      ...(integration.loginCustomerId ? { loginCustomerId: integration.loginCustomerId } : {}),
      ...(deps.deadline ? { deadline: deps.deadline.getTime() } : {}),
      onAccount: async (rows) => {
        if (rows.refreshedCredentials) {
          await work.persist(rows.refreshedCredentials);
        }
        stored = await metrics.addRows({
          accountId: canonicalId,
          range: rows.range,
          rows: rows.rows,
        });
      },
    });
    if (fetched.refreshedCredentials) {
      await work.persist(fetched.refreshedCredentials);
      credentials = fetched.refreshedCredentials;
    }
    requests += fetched.requests;
    const outcome = fetched.accounts[0];
    if (outcome?.status === "ok") {
      slices += 1;
      rowsFetched += outcome.rows;
      addCounts(counts, stored);
      const recorded = await recordSlice(
        deps.db,
        run,
        { canonicalId, index, rowsWritten: stored.written },
        fetched.requests,
        deps.clock(),
      );
      holding = recorded.held;
      // The account as the plan holds it now: a request may have extended it meanwhile.
      accounts[canonicalId] = recorded.account ?? { ...account, status: "complete" };
      span = {
        since: span && span.since < range.since ? span.since : range.since,
        until: span && span.until > range.until ? span.until : range.until,
      };
      outcomes.push({
        accountId: account.accountId,
        status: "ok",
        rows: outcome.rows,
        since: range.since,
        until: range.until,
        timeZone: outcome.timeZone,
      });
      continue;
    }
    const error = outcome?.status === "failed" ? outcome.error : undefined;
    if (error?.code === "rate_limited" && error.reason === RUN_DEADLINE) {
      // The run's time is up before the slice started: the next run starts with it.
      break;
    }
    if (!error || error.code !== "permanent") {
      logger.warn("backfill slice failed", { account: canonicalId, ...range, code: error?.code });
      throw new BackfillRunFailure(
        error ?? {
          code: "transient",
          reason: "no_outcome",
          message: "the fetch reported no account",
        },
        { slices, requests, rowsWritten: counts.written },
      );
    }
    // Refused as too old: the account's history starts after this slice; another permanent
    // error fails the account alone.
    const recorded = await recordAccountEnd(
      deps.db,
      run,
      canonicalId,
      error.reason === BEYOND_RETENTION
        ? { kind: "limited", index, error }
        : { kind: "failed", error },
      fetched.requests,
      deps.clock(),
    );
    holding = recorded.held;
    accounts[canonicalId] = recorded.account ?? { ...account, status: "failed" };
    outcomes.push({ accountId: account.accountId, status: "failed", error: errorOf(error) });
    logger.info("backfill account ended", { account: canonicalId, reason: error.reason });
  }

  const day = deps.clock().toISOString().slice(0, 10);
  const result: JobResult = {
    since: span?.since ?? day,
    until: span?.until ?? day,
    rowsFetched,
    rowsWritten: counts.written,
    rowsUnchanged: counts.unchanged,
    rowsZeroed: 0,
    accounts: outcomes,
  };
  const finished = await finishRun(deps, jobId, work.owner, result, held);
  return { ...finished, result, slices, requests };
}
