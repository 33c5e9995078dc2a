/**
 * Backfill plans in Firestore: `users/{userId}/backfills/{providerId}`, one per integration
 * (`plan.ts` says what it holds). The plan is its own lock (`jobId`): a backfill never takes the
 * integration's `activeJobId`, so the integration's syncs — nightly, hourly, manual — are
 * enqueued and run while a backfill is under way (the two write different days, `plan.ts`).
 *
 * A backfill is a chain of bounded jobs (`initial-backfill`), one per run: a run works through
 * slices until its request budget or its deadline, then succeeds and, in the same transaction,
 * creates the next job if slices are left (`finishRun`). Each job has its own attempts and wait
 * bound, so a two-year backfill is never failed by a bound meant for one run, and each run is a
 * task of its own (the sweep, the stale reset and the dispatch treat it as any job).
 */
import {
  FieldPath,
  FieldValue,
  type Firestore,
  Timestamp,
  type Transaction,
} from "firebase-admin/firestore";

import { syncedAccountIds } from "../integrations/accounts";
import { integrationPath, integrationSchema } from "../integrations/model";
import { DEFAULT_MAX_ATTEMPTS } from "../jobs/backoff";
import { type JobResult, JOBS_COLLECTION } from "../jobs/model";
import {
  describeIssues,
  isActive,
  jobRef,
  newJob,
  RETENTION_MS,
  runContended,
  type StoreDeps,
} from "../jobs/store";
import { windowDays } from "../jobs/window";
import type { HistoryLimits } from "../providers/adapter";
import { canonicalAccountId } from "../providers/ids";
import { addDays, dayCount, dayIn } from "../providers/ranges";
import type { ProviderErrorInfo, ProviderId } from "../providers/types";
import {
  type AccountPlan,
  extendAccountPlan,
  isComplete,
  newAccountPlan,
  type Plan,
  type PlanContext,
  planSchema,
  sliceRange,
  slicesDoneOf,
} from "./plan";

export const BACKFILLS_COLLECTION = "backfills";

export const backfillPath = (userId: string, providerId: ProviderId): string =>
  `users/${userId}/${BACKFILLS_COLLECTION}/${providerId}`;

/**
 * The pause between a backfill's runs: the next run's task is scheduled this long after the
 * last one ends, so a backfill yields its queue slot and its share of the platform's budget in
 * turns instead of holding them for hours.
 */
export const BACKFILL_PAUSE_MS = 30_000;

export interface BackfillRequest {
  userId: string;
  providerId: ProviderId;
  /** The oldest day wanted (UTC calendar), clamped per account to the platform's retention. */
  since: string;
  source: string;
}

export type BackfillOutcome =
  | { status: "queued"; jobId: string; plan: Plan }
  | { status: "existing"; jobId: string; plan: Plan }
  | { status: "complete"; plan: Plan }
  | {
      status: "skipped";
      reason: "no_integration" | "integration_inactive" | "invalid_integration" | "no_accounts";
      issues?: string;
    };

/** The oldest day `days` back from `now`'s UTC day (the day itself counted). */
export const sinceDaysBack = (now: Date, days: number): string =>
  addDays(dayIn(now.getTime(), "UTC"), -(days - 1));

/** Reads a plan; a document that fails validation is reported, never used (nor overwritten). */
export function parsePlan(data: unknown): { plan?: Plan; invalid?: string } {
  if (data === undefined) {
    return {};
  }
  const parsed = planSchema.safeParse(data);
  return parsed.success ? { plan: parsed.data } : { invalid: describeIssues(parsed.error) };
}

/** The accounts of a plan for the integration's accounts now: new ones added, none dropped. */
function planAccounts(
  ctx: PlanContext,
  providerId: ProviderId,
  accountIds: readonly string[],
  requestedSince: string,
  existing: Readonly<Record<string, AccountPlan>> = {},
): Record<string, AccountPlan> {
  const accounts: Record<string, AccountPlan> = { ...existing };
  for (const accountId of accountIds) {
    const canonicalId = canonicalAccountId(providerId, accountId);
    const current = existing[canonicalId];
    accounts[canonicalId] = current
      ? extendAccountPlan(ctx, current, canonicalId, requestedSince)
      : newAccountPlan(ctx, accountId, canonicalId, requestedSince);
  }
  return accounts;
}

const hasPending = (plan: Pick<Plan, "accounts">, held?: ReadonlySet<string>): boolean =>
  Object.entries(plan.accounts).some(
    ([canonicalId, account]) =>
      account.status === "pending" && (held === undefined || held.has(canonicalId)),
  );

const slicesDoneIn = (accounts: Readonly<Record<string, AccountPlan>>): number =>
  Object.values(accounts).reduce((sum, account) => sum + slicesDoneOf(account), 0);

/**
 * Creates the integration's plan, or extends it to `since` (never shortened, never restarted:
 * done slices stay done), and makes sure a job works on it: the plan's job when one is active,
 * else a new one — or `options.jobId`, a running `initial-backfill` job that came without a plan
 * (`run.ts`), which then takes the plan itself and gives back the integration's lock if its
 * enqueue took it. One transaction over the integration, the plan and its job.
 */
export async function requestBackfill(
  deps: StoreDeps,
  request: BackfillRequest,
  history: HistoryLimits,
  options: { jobId?: string } = {},
): Promise<BackfillOutcome> {
  const { db } = deps;
  const planRef = db.doc(backfillPath(request.userId, request.providerId));
  const integrationRef = db.doc(integrationPath(request.userId, request.providerId));
  return runContended(db, async (tx) => {
    const [integrationSnap, planSnap] = await tx.getAll(integrationRef, planRef);
    if (!integrationSnap?.exists) {
      return { status: "skipped", reason: "no_integration" } as const;
    }
    const integration = integrationSchema.safeParse(integrationSnap.data());
    if (!integration.success) {
      return {
        status: "skipped",
        reason: "invalid_integration",
        issues: describeIssues(integration.error),
      } as const;
    }
    if (integration.data.status !== "active") {
      return { status: "skipped", reason: "integration_inactive" } as const;
    }
    if (syncedAccountIds(integration.data).length === 0) {
      return { status: "skipped", reason: "no_accounts" } as const;
    }
    const { plan: stored, invalid } = parsePlan(planSnap?.data());
    if (invalid !== undefined) {
      // Never overwritten: what it holds is history someone may need to look at.
      throw new Error(`the backfill plan ${planRef.path} fails validation: ${invalid}`);
    }
    const now = Timestamp.fromDate(deps.clock());
    const ctx: PlanContext = {
      now: deps.clock(),
      history,
      syncWindowDays: windowDays(
        { type: "scheduled-sync", timeframeDays: 1, slot: null },
        request.providerId,
        integration.data.automation,
      ),
      timeZones: integration.data.accountTimeZones,
    };
    const requestedSince =
      stored && stored.requestedSince < request.since ? stored.requestedSince : request.since;
    const accounts = planAccounts(
      ctx,
      request.providerId,
      syncedAccountIds(integration.data),
      requestedSince,
      stored?.accounts,
    );
    const activeJob =
      stored?.jobId !== undefined && stored.jobId !== null
        ? await tx.get(jobRef(db, stored.jobId))
        : undefined;
    const pending = hasPending({ accounts });
    const resumed = stored?.status === "complete" && pending;
    const base = {
      userId: request.userId,
      providerId: request.providerId,
      requestedSince,
      accounts,
      source: stored?.source ?? request.source,
      updatedAt: now,
    };
    if (!pending) {
      const plan: Plan = {
        runs: 0,
        requests: 0,
        createdAt: now,
        startedAt: now,
        slicesDoneAtStart: 0,
        ...stored,
        ...base,
        status: "complete",
        jobId: isActive(activeJob) ? stored!.jobId : null,
        completedAt: stored?.completedAt ?? now,
      };
      tx.set(planRef, plan);
      return { status: "complete", plan } as const;
    }
    if (isActive(activeJob)) {
      const plan: Plan = { ...stored!, ...base, status: "active", completedAt: null };
      tx.set(planRef, plan);
      return { status: "existing", jobId: stored!.jobId!, plan } as const;
    }
    let jobId = options.jobId;
    if (jobId === undefined) {
      const job = db.collection(JOBS_COLLECTION).doc();
      jobId = job.id;
      tx.create(
        job,
        newJob(
          {
            userId: request.userId,
            providerId: request.providerId,
            type: "initial-backfill",
            timeframeDays: Math.max(
              1,
              dayCount({ since: requestedSince, until: dayIn(now.toMillis(), "UTC") }),
            ),
            source: request.source,
          },
          now,
          DEFAULT_MAX_ATTEMPTS,
        ),
      );
    } else if (integration.data.activeJobId === jobId) {
      // Enqueued as a sync is (the fan-out), it took the integration's lock: a backfill never
      // holds it, so that the syncs go on while it runs.
      tx.update(integrationRef, { activeJobId: null });
    }
    // A complete plan asked for older days starts a new stretch: its pace is measured anew.
    const fresh = !stored || resumed;
    const plan: Plan = {
      runs: 0,
      requests: 0,
      createdAt: now,
      ...stored,
      ...base,
      status: "active",
      jobId,
      startedAt: fresh ? now : stored.startedAt,
      slicesDoneAtStart: fresh ? slicesDoneIn(accounts) : stored.slicesDoneAtStart,
      completedAt: null,
    };
    tx.set(planRef, plan);
    return { status: "queued", jobId, plan } as const;
  });
}

const accountField = (canonicalId: string, field: string) =>
  new FieldPath("accounts", canonicalId, field);

/** Who records: the run's job and its lease. */
export interface RunIdentity {
  userId: string;
  providerId: ProviderId;
  jobId: string;
  owner: string;
}

/**
 * What a record left: the account as the plan now holds it (a request may have extended it
 * meanwhile), and whether the run still holds the plan (its job, under its lease).
 */
export interface Recorded {
  account: AccountPlan | undefined;
  held: boolean;
}

/**
 * Reads the plan and the run's job, then writes the account's `fields` from `update` and the
 * plan's counts. The account as stored is the base, never the run's copy: a slice recorded while
 * a request extends the plan cannot mark the extended account complete.
 */
async function recordAccount(
  db: Firestore,
  run: RunIdentity,
  canonicalId: string,
  update: (account: AccountPlan) => Partial<AccountPlan>,
  requests: number,
  now: Date,
): Promise<Recorded> {
  const planRef = db.doc(backfillPath(run.userId, run.providerId));
  return runContended(db, async (tx) => {
    const [planSnap, jobSnap] = await tx.getAll(planRef, jobRef(db, run.jobId));
    const { plan } = parsePlan(planSnap?.data());
    const stored = plan?.accounts[canonicalId];
    if (!plan || !stored) {
      // Gone or unreadable: nothing to record on (an unreadable plan is never overwritten).
      return { account: undefined, held: false };
    }
    const fields = update(stored);
    // Field paths, not a dotted string: an account id is a map key of any spelling.
    const accountFields = Object.entries(fields).flatMap(([field, value]) => [
      accountField(canonicalId, field),
      value as unknown,
    ]);
    tx.update(
      planRef,
      "requests",
      FieldValue.increment(requests),
      "updatedAt",
      Timestamp.fromDate(now),
      ...accountFields,
    );
    const held =
      plan.jobId === run.jobId &&
      jobSnap?.get("status") === "running" &&
      jobSnap.get("leaseOwner") === run.owner;
    return { account: { ...stored, ...fields }, held };
  });
}

/**
 * Records a stored slice: added to the account's done slices (a set: a slice stored twice, by
 * a redo after a crash, counts once) and to the plan's counts. Written once the slice's rows
 * are committed: a crash before it redoes this one slice, whose rows then read unchanged.
 */
export function recordSlice(
  db: Firestore,
  run: RunIdentity,
  slice: { canonicalId: string; index: number; rowsWritten: number },
  requests: number,
  now: Date,
): Promise<Recorded> {
  return recordAccount(
    db,
    run,
    slice.canonicalId,
    (account) => {
      const done = account.done.includes(slice.index)
        ? account.done
        : [...account.done, slice.index].sort((a, b) => a - b);
      return {
        done,
        rowsWritten: account.rowsWritten + slice.rowsWritten,
        // A failed account stays failed until a request tries it again.
        status:
          account.status === "failed"
            ? "failed"
            : isComplete({ ...account, done })
              ? "complete"
              : "pending",
      };
    },
    requests,
    now,
  );
}

/**
 * An account the platform will not serve further: `limited` — slice `index` reaches days older
 * than the platform keeps, so the account's history starts after it (that slice and every older
 * one dropped); `failed` — a permanent error (reported, the other accounts go on).
 */
export function recordAccountEnd(
  db: Firestore,
  run: RunIdentity,
  canonicalId: string,
  end:
    | { kind: "limited"; index: number; error: ProviderErrorInfo }
    | { kind: "failed"; error: ProviderErrorInfo },
  requests: number,
  now: Date,
): Promise<Recorded> {
  const error = { code: end.error.code, reason: end.error.reason, message: end.error.message };
  return recordAccount(
    db,
    run,
    canonicalId,
    (account): Partial<AccountPlan> => {
      if (end.kind === "failed") {
        return { status: "failed", error };
      }
      const since = addDays(sliceRange(account, end.index).until, 1);
      return {
        since,
        clampedFrom: account.clampedFrom ?? account.since,
        clampedBy: "platform",
        status: isComplete({ ...account, since }) ? "complete" : "pending",
        error,
      };
    },
    requests,
    now,
  );
}

export type RunEnd = "continued" | "complete" | "lease_lost";

/**
 * Ends a run that held its job: the job succeeds with the run's `result`; the plan's next job is
 * created, due after `BACKFILL_PAUSE_MS`, when slices are left for the accounts the integration
 * holds, else the plan is complete. One transaction: the chain never breaks, never forks.
 */
export async function finishRun(
  deps: StoreDeps,
  jobId: string,
  owner: string,
  result: JobResult,
  heldAccounts: ReadonlySet<string>,
): Promise<{ end: RunEnd; nextJobId?: string }> {
  const { db } = deps;
  return runContended(db, async (tx: Transaction) => {
    const ref = jobRef(db, jobId);
    const jobSnap = await tx.get(ref);
    const job = jobSnap.data();
    if (!job || job.status !== "running" || job.leaseOwner !== owner) {
      return { end: "lease_lost" as const };
    }
    const planRef = db.doc(backfillPath(job.userId as string, job.providerId as ProviderId));
    const { plan } = parsePlan((await tx.get(planRef)).data());
    const now = Timestamp.fromDate(deps.clock());
    tx.update(ref, {
      status: "succeeded",
      result,
      leaseOwner: null,
      leaseExpiresAt: null,
      finishedAt: now,
      updatedAt: now,
      expireAt: Timestamp.fromMillis(now.toMillis() + RETENTION_MS),
    });
    if (!plan || plan.jobId !== jobId) {
      // The plan moved on (replaced, or another job holds it): this run only ends its own job.
      return { end: "complete" as const };
    }
    if (!hasPending(plan, heldAccounts)) {
      tx.update(planRef, {
        status: "complete",
        jobId: null,
        runs: FieldValue.increment(1),
        completedAt: now,
        updatedAt: now,
      });
      return { end: "complete" as const };
    }
    const next = db.collection(JOBS_COLLECTION).doc();
    tx.create(
      next,
      newJob(
        {
          userId: plan.userId,
          providerId: plan.providerId,
          type: "initial-backfill",
          timeframeDays: job.timeframeDays as number,
          source: plan.source,
          runAfter: new Date(now.toMillis() + BACKFILL_PAUSE_MS),
        },
        now,
        DEFAULT_MAX_ATTEMPTS,
      ),
    );
    tx.update(planRef, {
      jobId: next.id,
      runs: FieldValue.increment(1),
      updatedAt: now,
    });
    return { end: "continued" as const, nextJobId: next.id };
  });
}
