/**
 * A backfill plan: one integration's history, fetched slice by slice, newest first, and never
 * started over. Pure logic (no I/O): what a plan holds, how a request becomes one (or extends
 * one), which slice comes next, and what progress it shows. `store.ts` keeps plans in
 * Firestore; `run.ts` works through them.
 *
 * Per account, the plan covers `since`..`until` in the account's own days (the platform's report
 * days), cut into `sliceDays` slices counted back from `until`: slice 0 is the newest. A slice
 * is done once its rows are stored (`done`, slice indexes, only ever added to — two workers that
 * both think they hold the plan can only add the same facts). Extending a plan to older days
 * moves `since` back and adds slices behind the done ones; `until` never moves, so a done
 * slice stays done.
 *
 * `until` stops short of the days the integration's syncs re-pull (their restatement window,
 * and a day for the account zones): the backfill and the syncs never write the same days, so
 * they need no common lock and a long backfill never holds a sync back.
 */
import { Timestamp } from "firebase-admin/firestore";
import { z } from "zod";

import type { HistoryLimits } from "../providers/adapter";
import { addDays, dayCount as dayCountOf, dayIn, monthsBefore } from "../providers/ranges";
import { type DateRange, PROVIDER_ERROR_CODES, PROVIDER_IDS } from "../providers/types";

const isoDay = z.iso.date();

/** The most days a request may ask for: ten years, before each platform's retention clamps it. */
export const MAX_BACKFILL_DAYS = 3650;
/** What a new integration gets on connect, and a request that names neither start nor days. */
export const DEFAULT_BACKFILL_DAYS = 730;

export const accountPlanSchema = z.object({
  /** The account as the integration holds it. */
  accountId: z.string().min(1),
  /** The oldest day asked for, after the platform's retention (`clampedFrom`: what was asked). */
  since: isoDay,
  until: isoDay,
  clampedFrom: isoDay.nullable().default(null),
  /** Why `since` is later than asked: the platform's documented retention, or its refusal. */
  clampedBy: z.enum(["retention", "platform"]).nullable().default(null),
  sliceDays: z.number().int().min(1),
  /** Indexes of the slices stored (0: the newest, ending at `until`). */
  done: z.array(z.number().int().min(0)).default([]),
  /** `failed`: a permanent error other than retention (reported; the other accounts go on). */
  status: z.enum(["pending", "complete", "failed"]),
  error: z
    .object({ code: z.enum(PROVIDER_ERROR_CODES), reason: z.string(), message: z.string() })
    .nullable()
    .default(null),
  rowsWritten: z.number().int().min(0).default(0),
});
export type AccountPlan = z.infer<typeof accountPlanSchema>;

const timestamp = z.instanceof(Timestamp);

export const planSchema = z.object({
  userId: z.string().min(1),
  providerId: z.enum(PROVIDER_IDS),
  status: z.enum(["active", "complete"]),
  /** The plan's lock: its current job (queued or running), or null. */
  jobId: z.string().min(1).nullable(),
  /** The oldest day requested so far (each account clamps it to its platform's retention). */
  requestedSince: isoDay,
  /** By canonical account id. */
  accounts: z.record(z.string(), accountPlanSchema),
  source: z.string(),
  runs: z.number().int().min(0).default(0),
  requests: z.number().int().min(0).default(0),
  createdAt: timestamp,
  updatedAt: timestamp,
  /** When the current stretch of work began (creation, or the last extension of a complete plan). */
  startedAt: timestamp,
  /** Slices already done at `startedAt`: the pace counts only the stretch's own. */
  slicesDoneAtStart: z.number().int().min(0).default(0),
  completedAt: timestamp.nullable().default(null),
});
export type Plan = z.infer<typeof planSchema>;

/** How many days before an account's current day the backfill stops: the syncs' own window. */
export interface PlanContext {
  now: Date;
  history: HistoryLimits;
  /** The days the integration's daily sync re-pulls before the current day (`windowDays`). */
  syncWindowDays: number;
  /** Zones the accounts' days are known to be reported in (canonical id → zone). */
  timeZones: Readonly<Record<string, string>>;
}

/** An account's current day: in its known zone, else UTC (the margin absorbs the difference). */
const todayOf = (ctx: PlanContext, canonicalId: string): string => {
  const zone = ctx.timeZones[canonicalId] ?? "UTC";
  try {
    return dayIn(ctx.now.getTime(), zone);
  } catch {
    return dayIn(ctx.now.getTime(), "UTC");
  }
};

/**
 * The oldest day the platform serves for an account whose current day is `today`:
 * `retentionMonths` back, plus a day for where the platform counts from.
 */
export function retentionStart(today: string, history: HistoryLimits): string {
  return addDays(monthsBefore(today, history.retentionMonths), 1);
}

/** The newest day a new plan covers for an account: before the syncs' window and a zone's day. */
const planUntil = (ctx: PlanContext, canonicalId: string): string =>
  addDays(todayOf(ctx, canonicalId), -(ctx.syncWindowDays + 2));

/** A new account's plan, `requestedSince` clamped to the platform's retention. */
export function newAccountPlan(
  ctx: PlanContext,
  accountId: string,
  canonicalId: string,
  requestedSince: string,
): AccountPlan {
  const until = planUntil(ctx, canonicalId);
  const oldest = retentionStart(todayOf(ctx, canonicalId), ctx.history);
  const clamped = requestedSince < oldest;
  const since = clamped ? oldest : requestedSince;
  return {
    accountId,
    since,
    until,
    clampedFrom: clamped ? requestedSince : null,
    clampedBy: clamped ? "retention" : null,
    sliceDays: ctx.history.backfillSliceDays,
    done: [],
    // Nothing to fetch when the request ends before the window the syncs already cover.
    status: since > until ? "complete" : "pending",
    error: null,
    rowsWritten: 0,
  };
}

/**
 * An account's plan asked to reach back to `requestedSince`: `since` moves back (never forward:
 * history already covered is never given up), within retention; a failed account is tried again.
 */
export function extendAccountPlan(
  ctx: PlanContext,
  plan: AccountPlan,
  canonicalId: string,
  requestedSince: string,
): AccountPlan {
  const oldest = retentionStart(todayOf(ctx, canonicalId), ctx.history);
  const target = requestedSince < oldest ? oldest : requestedSince;
  const since = target < plan.since && plan.clampedBy !== "platform" ? target : plan.since;
  // The oldest slice is cut short at `since` unless the range is a whole number of slices.
  // Moved back, `since` gives that index more days, which were never fetched: it is fetched
  // again, whole (its days already stored read unchanged), or they would stay a hole for good.
  const cut = sliceCount(plan) - 1;
  const reopened = since < plan.since && cut >= 0 && dayCount(plan) % plan.sliceDays !== 0;
  const extended: AccountPlan = {
    ...plan,
    since,
    done: reopened ? plan.done.filter((index) => index !== cut) : plan.done,
    ...(requestedSince < oldest && since === oldest
      ? { clampedFrom: requestedSince, clampedBy: "retention" as const }
      : {}),
  };
  return { ...extended, status: isComplete(extended) ? "complete" : "pending", error: null };
}

const dayCount = (account: Pick<AccountPlan, "since" | "until">): number =>
  account.since > account.until ? 0 : dayCountOf({ since: account.since, until: account.until });

export const sliceCount = (account: AccountPlan): number =>
  Math.ceil(dayCount(account) / account.sliceDays);

/**
 * Whether every slice of the account's range is stored. Counted by index, not by `done.length`:
 * an index past the range (its days given up since, `store.ts` `recordAccountEnd`) stands for
 * no slice of it.
 */
export function isComplete(account: AccountPlan): boolean {
  const done = new Set(account.done);
  for (let index = 0; index < sliceCount(account); index += 1) {
    if (!done.has(index)) {
      return false;
    }
  }
  return true;
}

/** Slice `index` of an account: `sliceDays` days ending `index` slices before `until`. */
export function sliceRange(account: AccountPlan, index: number): DateRange {
  const until = addDays(account.until, -index * account.sliceDays);
  const start = addDays(until, -(account.sliceDays - 1));
  return { since: start < account.since ? account.since : start, until };
}

export interface NextSlice {
  canonicalId: string;
  account: AccountPlan;
  index: number;
  range: DateRange;
}

/**
 * The slice to fetch next: across the pending accounts, the one whose next undone slice is the
 * newest (the dashboard fills from today backwards, every account together); ties by account.
 */
export function nextSlice(accounts: Readonly<Record<string, AccountPlan>>): NextSlice | undefined {
  let best: NextSlice | undefined;
  for (const canonicalId of Object.keys(accounts).sort()) {
    const account = accounts[canonicalId]!;
    if (account.status !== "pending") {
      continue;
    }
    const done = new Set(account.done);
    const total = sliceCount(account);
    let index = 0;
    while (index < total && done.has(index)) {
      index += 1;
    }
    if (index >= total) {
      continue;
    }
    const range = sliceRange(account, index);
    if (!best || range.until > best.range.until) {
      best = { canonicalId, account, index, range };
    }
  }
  return best;
}

/** The oldest day from which an account's history is complete up to `until` (null: none yet). */
export function oldestComplete(account: AccountPlan): string | null {
  const done = new Set(account.done);
  const total = sliceCount(account);
  let index = 0;
  while (index < total && done.has(index)) {
    index += 1;
  }
  return index === 0 ? null : sliceRange(account, index - 1).since;
}

/** The account's slices stored, within its range. */
export const slicesDoneOf = (account: AccountPlan): number => {
  const total = sliceCount(account);
  return new Set(account.done.filter((index) => index < total)).size;
};

export interface PlanProgress {
  status: Plan["status"];
  requestedSince: string;
  /** The span every account's plan covers. */
  since: string | null;
  until: string | null;
  /** The latest of the accounts' oldest complete days: history is complete from it to `until`. */
  oldestCompleteDate: string | null;
  slicesDone: number;
  slicesTotal: number;
  /**
   * At the pace of the current stretch (the slices done since `startedAt`); null before one is
   * done, or once none is left.
   */
  estimatedSecondsLeft: number | null;
  accounts: Array<{
    accountId: string;
    status: AccountPlan["status"];
    since: string;
    until: string;
    clampedFrom: string | null;
    clampedBy: AccountPlan["clampedBy"];
    oldestCompleteDate: string | null;
    slicesDone: number;
    slicesTotal: number;
    rowsWritten: number;
    error: AccountPlan["error"];
  }>;
}

/** What `/api/integrations/status` shows of a plan. */
export function progressOf(plan: Plan, now: Date): PlanProgress {
  const accounts = Object.values(plan.accounts).map((account) => ({
    accountId: account.accountId,
    status: account.status,
    since: account.since,
    until: account.until,
    clampedFrom: account.clampedFrom,
    clampedBy: account.clampedBy,
    oldestCompleteDate: oldestComplete(account),
    slicesDone: slicesDoneOf(account),
    slicesTotal: sliceCount(account),
    rowsWritten: account.rowsWritten,
    error: account.error,
  }));
  const slicesDone = accounts.reduce((sum, account) => sum + account.slicesDone, 0);
  // Failed accounts' slices are not waited for.
  const slicesTotal = accounts.reduce(
    (sum, account) =>
      sum + (account.status === "failed" ? account.slicesDone : account.slicesTotal),
    0,
  );
  const elapsedSeconds = (now.getTime() - plan.startedAt.toMillis()) / 1000;
  const left = slicesTotal - slicesDone;
  // Slices of an earlier stretch took no time of this one: counted, they would shrink the ETA.
  const doneNow = slicesDone - plan.slicesDoneAtStart;
  const oldest = accounts
    .map((account) => account.oldestCompleteDate)
    .filter((day): day is string => day !== null);
  const sinceAll = accounts.map((account) => account.since).sort();
  const untilAll = accounts.map((account) => account.until).sort();
  return {
    status: plan.status,
    requestedSince: plan.requestedSince,
    since: sinceAll[0] ?? null,
    until: untilAll.at(-1) ?? null,
    oldestCompleteDate:
      oldest.length === accounts.length && oldest.length > 0 ? oldest.sort().at(-1)! : null,
    slicesDone,
    slicesTotal,
    estimatedSecondsLeft:
      plan.status === "complete" || doneNow <= 0 || left <= 0
        ? null
        : Math.round((elapsedSeconds / doneNow) * left),
    accounts,
  };
}
