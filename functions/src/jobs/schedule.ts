/**
 * Fan-out: which integrations get a job now. Used by `scheduledEnqueue` (every ten minutes) and
 * by the cron endpoint's `process_all_users`, so several scheduling sources (the guide recommends
 * redundancy) enqueue each integration once per cadence slot.
 *
 * Slots: an integration with cadence C hours has a slot every C hours, aligned so the daily slot
 * starts at 02:00 UTC (the nightly run). Every cadence has a slot starting at 02:00; in another
 * hour only the cadences dividing the hours since 02:00 start one (03:00: hourly; 04:00: 1 and
 * 2; 08:00: 1, 2, 3 and 6; 14:00: all but 8 and 24).
 *
 * Reading only what is due. A scheduled fan-out without an explicit cursor works through
 * *passes*, kept in one state document (`ENQUEUE_STATE_PATH`): a pass is a set of cadences, the
 * slot it enqueues each for, and a cursor. An invocation
 *
 * 1. starts a pass for every cadence whose current slot no pass has finished or holds (in
 *    03:00–03:10, the hourly cadence; none in 03:10–04:00 once it is done), so a slot missed
 *    by an outage or a first deploy is caught by the next invocation, not by the next start;
 * 2. continues the unfinished passes from their cursors, the one whose slot ends soonest
 *    first, until they reach the end or its budget (`deadline`): there is no cap, a large pass
 *    just takes several invocations;
 * 3. writes the state once, and only when it changed: an invocation in a slot already done
 *    reads one document and writes nothing.
 *
 * A pass with the daily cadence reads every active integration (`activeIntegrationsQuery`), once
 * a day: a document without `automation.cadenceHours` — written before the setting existed, or
 * whose automation endpoint set only another setting (each setting defaults on its own) — is
 * daily by default and matches no filter on the field, so no filter may decide the daily pass;
 * being read then, invalid documents are reported daily. Other passes read only the active
 * integrations with their cadences (`dueIntegrationsQuery`, `cadenceHours in [...]`), which
 * every sub-daily integration has as a stored field (its default is daily). Integrations with
 * automatic sync off cost a read a day (the daily pass), and one per slot only if they keep a
 * sub-daily cadence: `autoSync` is not filtered on, because a document without the field is on
 * by default and would match no `autoSync == true`. No field is added for scheduling, so nothing
 * — the automation endpoint, older documents, the web app creating integrations — has to keep
 * one in step.
 *
 * What that costs: an integration is enqueued in the slots that *start* while it is due — one
 * connected, re-enabled or switched to another cadence within a slot gets its first scheduled job
 * at its cadence's next slot start (for daily, the next 02:00), not at the next invocation. A
 * pass cut by its slot's end (only a pass that outlasts its slot: an hourly pass of more than an
 * hour) leaves the rest to the next slot's pass and says so (`overrun`).
 *
 * Each pass is read with one streamed query (`runScan` says why), cut into pages of up to 250
 * integrations, each enqueued in one commit (`enqueueBatch`, falling back to one job at a time
 * for a page whose commit fails), `COMMITS_IN_FLIGHT` pages at once; each slot's jobs are
 * spread over a window after its start (`slotRunAfter`).
 */
import { createHash } from "node:crypto";

import {
  type DocumentSnapshot,
  FieldPath,
  type Firestore,
  type Query,
  type QueryDocumentSnapshot,
  Timestamp,
} from "firebase-admin/firestore";
import { z } from "zod";

import {
  CADENCE_HOURS,
  INTEGRATIONS_COLLECTION,
  integrationSchema,
  isProviderId,
} from "../integrations/model";
import type { JobType } from "./model";
import {
  describeIssues,
  ENQUEUE_BATCH_MAX,
  enqueueBatch,
  type EnqueueCandidate,
  type EnqueueOutcome,
  type EnqueueRequest,
  type StoreDeps,
} from "./store";

const HOUR_MS = 3_600_000;
/** Daily slots begin at 02:00 UTC. */
const SLOT_ORIGIN_MS = 2 * HOUR_MS;
const DAILY = 24;

const slotIndex = (atMs: number, cadenceHours: number): number =>
  Math.floor((atMs - SLOT_ORIGIN_MS) / (cadenceHours * HOUR_MS));

const slotStartMs = (atMs: number, cadenceHours: number): number =>
  SLOT_ORIGIN_MS + slotIndex(atMs, cadenceHours) * cadenceHours * HOUR_MS;

export function cadenceSlot(now: Date, cadenceHours: number): string {
  return `${cadenceHours}h-${slotIndex(now.getTime(), cadenceHours)}`;
}

/**
 * How far after its slot's start a daily job may be set to run. The 02:00 slot holds every
 * integration — every cadence's slot starts then, daily is the default, and it pulls the
 * platforms' restatement windows, the heaviest requests of the day — so started at once it is
 * one spike on the queue, the workers and each platform's quota (40,000 jobs due within the
 * minutes the fan-out takes). Over two hours that is about 6 jobs a second, and the night's
 * data is still in place by 04:00 UTC, before the working day in Europe, well inside a job's
 * 12-hour wait bound (`backoff.ts`).
 */
export const DAILY_SPREAD_MS = 2 * HOUR_MS;
/**
 * A sub-daily slot spreads its jobs over a quarter of its period (15 minutes for hourly, an hour
 * for 4-hourly), at most the daily window: each job still runs early in its slot, long before
 * the next slot's job.
 */
const SUB_DAILY_SPREAD_FRACTION = 0.25;

export const spreadWindowMs = (cadenceHours: number): number =>
  Math.min(DAILY_SPREAD_MS, cadenceHours * HOUR_MS * SUB_DAILY_SPREAD_FRACTION);

/**
 * When the job of `userId`'s integration for the slot holding `at` may run: the slot's start
 * plus a fraction of its spread window given by a hash of the user id. Deterministic — every
 * scheduler enqueueing the slot computes the same time, and a user's jobs run at the same point
 * of every slot — and uniform over the window for user ids, which are random (Firebase uids).
 * A user's integrations share it: they call different platforms, with separate quotas. A slot
 * enqueued late (the time already past) gets a job due at once (`newJob`).
 */
export function slotRunAfter(userId: string, at: Date, cadenceHours: number): Date {
  const fraction = createHash("sha256").update(userId).digest().readUInt32BE(0) / 2 ** 32;
  const offset = Math.floor(fraction * spreadWindowMs(cadenceHours));
  return new Date(slotStartMs(at.getTime(), cadenceHours) + offset);
}

/** `query` from just after the document at path `after` (absent: from the start), at most `limit`. */
const range = (db: Firestore, query: Query, limit?: number, after?: string): Query => {
  const limited = limit === undefined ? query : query.limit(limit);
  return after ? limited.startAfter(db.doc(after)) : limited;
};

/**
 * Active integrations across all users in document-path order (users grouped together); no
 * `limit`: all of them (the fan-out streams it).
 * Index: collection-group single-field index on `status` (declared in firestore.indexes.json).
 */
export const activeIntegrationsQuery = (db: Firestore, limit?: number, after?: string): Query =>
  range(
    db,
    db
      .collectionGroup(INTEGRATIONS_COLLECTION)
      .where("status", "==", "active")
      .orderBy(FieldPath.documentId()),
    limit,
    after,
  );

/**
 * Active integrations with one of the given (sub-daily) cadences, in document-path order. Never
 * for the daily cadence: see the module comment. Index: collection group, status ASC,
 * automation.cadenceHours ASC (firestore.indexes.json).
 */
export const dueIntegrationsQuery = (
  db: Firestore,
  cadences: readonly number[],
  limit?: number,
  after?: string,
): Query =>
  range(
    db,
    db
      .collectionGroup(INTEGRATIONS_COLLECTION)
      .where("status", "==", "active")
      .where("automation.cadenceHours", "in", [...cadences])
      .orderBy(FieldPath.documentId()),
    limit,
    after,
  );

/**
 * The scheduled fan-out's passes (see the module comment): one small document, written at most
 * once per invocation (never per user or page), read at the start of the next. Concurrent
 * fan-outs each write what they really did, a plain write: a later writer may put back a cursor
 * another one passed, or a pass it finished (a rescan, idempotent), but never marks done a pass
 * it did not finish — nothing is skipped. A document in the earlier form (`cursor` alone) or
 * unreadable starts the passes afresh.
 */
export const ENQUEUE_STATE_PATH = "admin/scheduler/state/enqueue";

const passSchema = z.object({
  /** Cadence (hours) → the slot this pass enqueues it for. */
  slots: z.record(z.string(), z.string().min(1)),
  /** Every active integration (a pass with the daily cadence), or those of its cadences. */
  full: z.boolean(),
  /** The last integration the pass went past (null: it has not started). */
  cursor: z.string().min(1).nullable(),
});
type Pass = z.infer<typeof passSchema>;

const enqueueStateSchema = z.object({
  /** Cadence (hours) → its last slot whose pass reached the end. */
  done: z.record(z.string(), z.string()).default({}),
  passes: z.array(passSchema).default([]),
});
type EnqueueState = z.infer<typeof enqueueStateSchema>;

async function readState(db: Firestore): Promise<EnqueueState> {
  const data: unknown = (await db.doc(ENQUEUE_STATE_PATH).get()).data() ?? {};
  const parsed = enqueueStateSchema.safeParse(data);
  return parsed.success ? parsed.data : { done: {}, passes: [] };
}

/** A pass's cadences whose slot is still the current one at `at`. */
const liveCadences = (pass: Pass, at: Date): number[] =>
  Object.entries(pass.slots).flatMap(([hours, slot]) =>
    cadenceSlot(at, Number(hours)) === slot ? [Number(hours)] : [],
  );

const slotsOf = (cadences: readonly number[], at: Date): Record<string, string> =>
  Object.fromEntries(cadences.map((hours) => [String(hours), cadenceSlot(at, hours)]));

/** When the first of the pass's slots ends: the pass that must finish first goes first. */
const urgency = (pass: Pass, at: Date): number =>
  Math.min(
    ...liveCadences(pass, at).map((hours) => slotStartMs(at.getTime(), hours) + hours * HOUR_MS),
  );

/**
 * The passes to work on at `at`: the unfinished ones, each kept to its cadences whose slot is
 * still current (the others are `overrun`: their slot ended first), and a new one for every
 * cadence whose current slot is neither done nor in one; the most urgent first.
 */
function planPasses(state: EnqueueState, at: Date): { passes: Pass[]; overrun: number[] } {
  const overrun: number[] = [];
  const passes: Pass[] = [];
  for (const pass of state.passes) {
    const live = liveCadences(pass, at);
    overrun.push(
      ...Object.keys(pass.slots)
        .map(Number)
        .filter((hours) => !live.includes(hours)),
    );
    if (live.length > 0) {
      passes.push({ ...pass, slots: slotsOf(live, at) });
    }
  }
  const held = new Set(passes.flatMap((pass) => Object.keys(pass.slots).map(Number)));
  const needed = CADENCE_HOURS.filter(
    (hours) => !held.has(hours) && state.done[String(hours)] !== cadenceSlot(at, hours),
  );
  if (needed.length > 0) {
    passes.push({ slots: slotsOf(needed, at), full: needed.includes(DAILY), cursor: null });
  }
  passes.sort((a, b) => urgency(a, at) - urgency(b, at) || Number(a.full) - Number(b.full));
  return { passes, overrun };
}

export interface EnqueueAllOptions {
  jobType: JobType;
  timeframeDays: number;
  source: string;
  /** Stop after this many users (absent: no limit but the deadline). */
  maxUsers?: number;
  /**
   * No page is started at or after this time (the pages in flight then still commit);
   * `nextCursor` says where to continue.
   */
  deadline: Date;
  /**
   * Where to continue. Absent for a scheduled sync: the shared passes (`ENQUEUE_STATE_PATH`),
   * which this run continues and advances, so every source of scheduled fan-outs (the
   * scheduled function, external crons' `process_all_users`) shares them instead of rescanning.
   * Absent for other job types: the first user (such a fan-out is a one-off the caller pages).
   * An explicit cursor scans every active integration from it and never moves the shared
   * passes: it may point anywhere.
   */
  cursor?: string;
  /**
   * Integrations per page: read from the pass's stream, then enqueued in one commit; default and
   * at most 250 (`ENQUEUE_BATCH_MAX`: two writes each, 500 a commit).
   */
  pageSize?: number;
}

export type EnqueueStop = "end" | "max_users" | "deadline";

/** An integration document the fan-out could not use. */
export interface FanOutProblem {
  path: string;
  problem: string;
}

/** What a shared run did with one pass. */
export interface PassReport {
  /** The cadences (hours) it enqueues, each for its current slot. */
  cadences: number[];
  /** Whether it reads every active integration (it holds the daily cadence). */
  full: boolean;
  startCursor: string | null;
  /** Where it continues; null once it is finished (or its slots ended). */
  nextCursor: string | null;
  finished: boolean;
}

export interface EnqueueAllResult {
  users: number;
  outcomes: EnqueueOutcome[];
  /** Integrations left out because their owner turned automatic sync off. */
  autoSyncOff: number;
  /** Where this run started (null: the first user, or no pass needed work). */
  startCursor: string | null;
  /** Where to continue (as `cursor`, or the shared passes do); null when nothing is left. */
  nextCursor: string | null;
  stoppedBy: EnqueueStop;
  /** Whether the shared passes were read and advanced. */
  sharedCursor: boolean;
  /** Invalid integration documents, skipped and reported. */
  invalid: FanOutProblem[];
  /**
   * Pages of up to `pageSize` integrations read from the scans' streams, each enqueued in (at
   * most) one commit; a scan that finds no integration counts one, empty. Not query round
   * trips: each scan is one streamed query.
   */
  pages: number;
  /** Shared runs: the passes worked on or left, the most urgent first (none: all done). */
  passes: PassReport[];
  /** Cadences (hours) whose last slot ended before its pass was finished. */
  overrun: number[];
  /** Integrations a pass read whose cadence another pass holds (the daily pass reads all). */
  otherCadence: number;
  /** Commits that failed (their errors); their jobs were enqueued one by one. */
  batchFallbacks: string[];
}

/** Which integrations a scan enqueues, and for which slot. */
interface Scan {
  /** Every integration the scan reads after the path `after` (absent: from the start). */
  query: (after: string | undefined) => Query;
  /**
   * Scheduled syncs: the slot to enqueue an integration of this cadence for at `at`, or
   * undefined when it is not this scan's (another pass holds the cadence, or its slot ended).
   */
  slotOf?: (cadenceHours: number, at: Date) => string | undefined;
  /** Whether the scan has anything left to enqueue at `at` (a pass: a slot still current). */
  live: (at: Date) => boolean;
}

interface ScanContext {
  deps: StoreDeps;
  options: EnqueueAllOptions;
  pageSize: number;
  result: EnqueueAllResult;
}

type ScanStop = EnqueueStop | "slot_ended";

/** The candidate an integration document makes, or what it is instead (into `result`). */
function candidateOf(
  ctx: ScanContext,
  scan: Scan,
  doc: DocumentSnapshot,
  userId: string,
  at: Date,
): EnqueueCandidate | undefined {
  const { options, result } = ctx;
  const base = { userId, providerId: doc.id as EnqueueRequest["providerId"] };
  const parsed = integrationSchema.safeParse(doc.data());
  if (!parsed.success) {
    const issues = describeIssues(parsed.error);
    result.invalid.push({ path: doc.ref.path, problem: issues });
    result.outcomes.push({ ...base, status: "skipped", reason: "invalid_integration", issues });
    return undefined;
  }
  const request: EnqueueRequest = {
    ...base,
    type: options.jobType,
    timeframeDays: options.timeframeDays,
    source: options.source,
  };
  if (!scan.slotOf) {
    return { request, integration: doc };
  }
  const { autoSync, cadenceHours } = parsed.data.automation;
  const slot = scan.slotOf(cadenceHours, at);
  if (slot === undefined) {
    result.otherCadence += 1;
    return undefined;
  }
  if (!autoSync) {
    result.autoSyncOff += 1;
    return undefined;
  }
  if (parsed.data.lastScheduledSlot === slot) {
    // Settled by the page read alone: no write (and no contention).
    result.outcomes.push({ ...base, status: "skipped", reason: "already_scheduled" });
    return undefined;
  }
  const runAfter = slotRunAfter(userId, at, cadenceHours);
  return { request: { ...request, slot, runAfter }, integration: doc };
}

/**
 * Pages through `scan` from `from` until its end, `maxUsers`, the deadline or (a pass) the end
 * of its slots, enqueueing each page's candidates in one batch. Says why it stopped and where
 * it continues. The next page is read while this one commits (a read's latency hidden behind a
 * commit's): everything that stops a scan is known from the page itself or the clock before
 * the commit, so that read is never wasted, and no page is started once the deadline passed.
 */
async function runScan(
  ctx: ScanContext,
  scan: Scan,
  from: string | undefined,
): Promise<{ stop: ScanStop; cursor: string | null }> {
  const { deps, options, pageSize, result } = ctx;
  const read = (after: string | undefined): Promise<QuerySnapshot> | "deadline" | "slot_ended" => {
    const at = deps.clock();
    if (at.getTime() >= options.deadline.getTime()) {
      return "deadline";
    }
    if (!scan.live(at)) {
      return "slot_ended";
    }
    const page = scan.query(after).get();
    // Awaited below, after the commit in flight: a failure meanwhile is not unhandled.
    page.catch(() => undefined);
    return page;
  };
  let cursor = from;
  let lastUser: string | undefined;
  let next = read(cursor);
  for (;;) {
    if (next === "deadline") {
      return { stop: "deadline", cursor: cursor ?? null };
    }
    if (next === "slot_ended") {
      return { stop: "slot_ended", cursor: null };
    }
    const page = await next;
    result.pages += 1;
    const at = deps.clock();
    const candidates: EnqueueCandidate[] = [];
    let reachedMaxUsers = false;
    let lastPathOfCompleteUser: string | undefined;
    for (const doc of page.docs) {
      const userId = doc.ref.parent.parent?.id;
      if (!userId || !isProviderId(doc.id)) {
        continue;
      }
      if (userId !== lastUser) {
        if (result.users === options.maxUsers) {
          reachedMaxUsers = true;
          break;
        }
        result.users += 1;
        lastUser = userId;
      }
      lastPathOfCompleteUser = doc.ref.path;
      const candidate = candidateOf(ctx, scan, doc, userId, at);
      if (candidate) {
        candidates.push(candidate);
      }
    }
    const last = reachedMaxUsers || page.size < pageSize;
    const pageEnd = page.docs[page.docs.length - 1]?.ref.path;
    if (!last) {
      next = read(pageEnd);
    }
    const batch = await enqueueBatch(deps, candidates);
    result.outcomes.push(...batch.outcomes);
    result.batchFallbacks.push(...batch.fallbacks);
    if (reachedMaxUsers) {
      return { stop: "max_users", cursor: lastPathOfCompleteUser ?? cursor ?? null };
    }
    if (last) {
      return { stop: "end", cursor: null };
    }
    cursor = pageEnd;
  }
}

/** A pass as a scan: its query, and its slots while they are current. */
function passScan(db: Firestore, pass: Pass, pageSize: number): Scan {
  const cadences = Object.keys(pass.slots).map(Number);
  return {
    query: (after) =>
      pass.full
        ? activeIntegrationsQuery(db, pageSize, after)
        : dueIntegrationsQuery(db, cadences, pageSize, after),
    slotOf: (cadenceHours, at) => {
      const slot = pass.slots[String(cadenceHours)];
      return slot !== undefined && cadenceSlot(at, cadenceHours) === slot ? slot : undefined;
    },
    live: (at) => liveCadences(pass, at).length > 0,
  };
}

/** The shared scheduled run: plans the passes, works through them, stores what is left. */
async function runPasses(ctx: ScanContext): Promise<void> {
  const { deps, result } = ctx;
  const read = await readState(deps.db);
  const plan = planPasses(read, deps.clock());
  const overrun = new Set(plan.overrun);
  const done = { ...read.done };
  const left: Pass[] = [];
  result.startCursor = plan.passes[0]?.cursor ?? null;
  for (const pass of plan.passes) {
    const report: PassReport = {
      cadences: Object.keys(pass.slots).map(Number),
      full: pass.full,
      startCursor: pass.cursor,
      nextCursor: pass.cursor,
      finished: false,
    };
    result.passes.push(report);
    if (result.stoppedBy !== "end") {
      // The budget (or `maxUsers`) went on a more urgent pass: this one waits for the next run.
      left.push(pass);
      continue;
    }
    const scan = passScan(deps.db, pass, ctx.pageSize);
    const { stop, cursor } = await runScan(ctx, scan, pass.cursor ?? undefined);
    report.nextCursor = cursor;
    if (stop === "deadline" || stop === "max_users") {
      result.stoppedBy = stop;
      result.nextCursor = cursor;
      left.push({ ...pass, cursor });
      continue;
    }
    report.finished = true;
    // Its slots still current are done; one that ended on the way (or all, `slot_ended`) left
    // the integrations past that point to the next slot's pass.
    const live = stop === "end" ? liveCadences(pass, deps.clock()) : [];
    for (const hours of report.cadences) {
      if (live.includes(hours)) {
        done[String(hours)] = pass.slots[String(hours)]!;
      } else {
        overrun.add(hours);
      }
    }
  }
  result.overrun = [...overrun].sort((a, b) => a - b);
  const state: EnqueueState = { done, passes: left };
  if (JSON.stringify(state) !== JSON.stringify(read)) {
    await deps.db
      .doc(ENQUEUE_STATE_PATH)
      .set({ ...state, updatedAt: Timestamp.fromDate(deps.clock()) });
  }
}

/**
 * Enqueues a job for every due integration, page by page, until the end, `maxUsers` or the
 * deadline, whichever comes first: a scheduled sync without a cursor through the shared passes
 * (see the module comment), any other from `cursor` (or the first user) through every active
 * integration. Work is never cut silently: the result says why it stopped and where it
 * continues, and a shared run stores that for the next invocation.
 */
export async function enqueueAllUsers(
  deps: StoreDeps,
  options: EnqueueAllOptions,
): Promise<EnqueueAllResult> {
  const scheduled = options.jobType === "scheduled-sync";
  const sharedCursor = scheduled && options.cursor === undefined;
  const pageSize = Math.max(1, Math.min(ENQUEUE_BATCH_MAX, options.pageSize ?? ENQUEUE_BATCH_MAX));
  const result: EnqueueAllResult = {
    users: 0,
    outcomes: [],
    autoSyncOff: 0,
    startCursor: options.cursor ?? null,
    nextCursor: null,
    stoppedBy: "end",
    sharedCursor,
    invalid: [],
    pages: 0,
    passes: [],
    overrun: [],
    otherCadence: 0,
    batchFallbacks: [],
  };
  const ctx: ScanContext = { deps, options, pageSize, result };
  if (sharedCursor) {
    await runPasses(ctx);
    return result;
  }
  const scan: Scan = {
    query: (after) => activeIntegrationsQuery(deps.db, pageSize, after),
    // Each scheduled sync for its cadence's current slot, whatever the passes say.
    ...(scheduled ? { slotOf: (hours: number, at: Date) => cadenceSlot(at, hours) } : {}),
    live: () => true,
  };
  const { stop, cursor } = await runScan(ctx, scan, options.cursor);
  result.stoppedBy = stop === "slot_ended" ? "end" : stop;
  result.nextCursor = cursor;
  return result;
}
