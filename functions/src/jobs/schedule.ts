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
 * Each pass is read in streamed queries of up to `STREAM_LIMIT` integrations (`runScan` says
 * why), cut into pages of up to 250, each enqueued in one commit (`enqueueBatch`, falling back
 * to one job at a time for a page whose commit fails), `COMMITS_IN_FLIGHT` pages at once; each
 * slot's jobs are spread over a window after its start (`slotRunAfter`).
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
import { PROVIDER_IDS } from "../providers/types";
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
 * Active integrations across all users in document-path order (users grouped together), the
 * first `limit` (absent: all) after the path `after`.
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
  /** Integrations one streamed query reads at most; default (and at most) `STREAM_LIMIT`. */
  streamLimit?: number;
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
   * trips: a scan streams up to `STREAM_LIMIT` integrations per query.
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
  /** The first `limit` integrations the scan reads after the path `after` (absent: the start). */
  query: (after: string | undefined, limit: number) => Query;
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
  streamLimit: number;
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
 * Page commits a scan keeps in flight at once (each at most `ENQUEUE_BATCH_MAX` integrations,
 * 500 writes). Four, because:
 *
 * - a commit is mostly waiting (the round trip, the server applying 500 writes), while the
 *   client's own work per page — reading, deciding, building and serializing 250 enqueues — is
 *   about 30 ms of CPU (the bench: 5 s for 160 pages): a few in flight hide the wait, more only
 *   queue up. On the emulator, which saturates the bench machine's two cores by itself, 2, 4
 *   and 8 took the same 9–10 s;
 * - it bounds the load instead of the rate: at most 2,000 writes outstanding, so the fan-out
 *   is closed-loop — when Firestore slows under the burst, so does the fan-out, where a fixed
 *   rate would keep pushing. A commit answered RESOURCE_EXHAUSTED or UNAVAILABLE is retried by
 *   the SDK with backoff before its page falls back, and at most four pages fall back at once
 *   (four times `ENQUEUE_CHUNK` single enqueues in flight).
 *
 * No write-rate cap ("500/50/5" ramp-up) is needed for the slot's jobs: their ids are scattered
 * over the collection (`slotJobId`), so a slot opens no new key range. The integrations a page
 * locks are existing documents.
 */
export const COMMITS_IN_FLIGHT = 4;

/** The pages a scan has sent to commit, and what they came back with, in read order. */
class PagePipeline {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly done: Array<{ outcomes: EnqueueOutcome[]; fallbacks: string[] }> = [];
  private failure: { error: unknown } | undefined;

  constructor(private readonly deps: StoreDeps) {}

  /** Sends a page to commit; resolves once fewer than `COMMITS_IN_FLIGHT` are in flight. */
  async send(candidates: readonly EnqueueCandidate[]): Promise<void> {
    const index = this.done.length;
    this.done.push({ outcomes: [], fallbacks: [] });
    const commit: Promise<void> = enqueueBatch(this.deps, candidates)
      .then(
        (batch) => {
          this.done[index] = batch;
        },
        (error: unknown) => {
          this.failure ??= { error };
        },
      )
      .finally(() => this.inFlight.delete(commit));
    this.inFlight.add(commit);
    while (this.inFlight.size >= COMMITS_IN_FLIGHT) {
      await Promise.race(this.inFlight);
    }
  }

  /** Whether a page failed (`report` throws its error): no more should be sent. */
  get failed(): boolean {
    return this.failure !== undefined;
  }

  /** Waits for every page sent to settle (never rejects: failures are kept for `report`). */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) {
      await Promise.all(this.inFlight);
    }
  }

  /** After `drain`: the pages' outcomes into `result`, in read order, or the first failure. */
  report(result: EnqueueAllResult): void {
    if (this.failure) {
      throw this.failure.error;
    }
    for (const page of this.done) {
      result.outcomes.push(...page.outcomes);
      result.batchFallbacks.push(...page.fallbacks);
    }
  }
}

/**
 * Integrations one streamed query reads at most: the daily pass of 10,000 users (40,000
 * integrations) is one query, and a cut (below) reads at most this many documents it does not
 * use. Far above a page: the emulator, which has no indexes, scans the whole collection group
 * for every query, so paging 40,000 integrations by 250 was 161 scans (148 s of the bench's
 * 149 s); production reads an indexed range either way, each document costing one read.
 */
export const STREAM_LIMIT = 50_000;

/**
 * Reads `scan` from just after `from` until its end, `maxUsers`, the deadline or (a pass) the end
 * of its slots, cutting it into pages of `pageSize` integrations, each enqueued in one batch,
 * `COMMITS_IN_FLIGHT` at once. Says why it stopped and where it continues.
 *
 * Reading: streamed queries (`Query.stream`) of up to `STREAM_LIMIT` integrations each, read
 * while the pages commit, rather than pages of 250 read one query at a time (the emulator's
 * full scan per query; a round trip per page in production). @google-cloud/firestore restarts
 * a stream that fails with a retryable error from the last document it delivered (`startAfter`,
 * at the same read time), so a stream survives what a page read would have retried. A stream
 * is never left unread: the SDK cannot cancel a query — destroying its stream leaves the RPC
 * open, paused, until its deadline (300 s) and then retries it (observed on the emulator:
 * a test run kept alive five minutes). So a cut — the deadline, `maxUsers`, the end of the
 * pass's slots, a failed page — reads the rest of its stream without using it: at most
 * `STREAM_LIMIT` reads, once per invocation (most invocations finish their passes). One read
 * time per stream: an integration that changes while it streams (a job of another slot
 * finishing) fails its page's precondition and the page falls back (`enqueueBatch`), never
 * overwritten.
 *
 * The cursor returned is the last document of the last page sent, and the scan returns only
 * once every page sent has committed (or fallen back): no cursor passes an integration whose
 * enqueue has not committed, and the next invocation streams from just after it — documents
 * read past the cut are read again, none is skipped, none enqueued twice. An integration is in
 * one page of one scan, so pages in flight together never hold the same one. A page that
 * throws (a store error its fallback does not absorb) stops the scan: it throws once the
 * others settle, the shared state is not written, and the next invocation continues from the
 * stored cursor, the pages committed meanwhile settled by their read alone
 * (`lastScheduledSlot`).
 */
async function runScan(
  ctx: ScanContext,
  scan: Scan,
  from: string | undefined,
): Promise<{ stop: ScanStop; cursor: string | null }> {
  const { deps, options, pageSize, result } = ctx;
  // Checked before each stream is opened and before each page: no page starts after either.
  const stopNow = (): "deadline" | "slot_ended" | undefined => {
    const at = deps.clock();
    if (at.getTime() >= options.deadline.getTime()) {
      return "deadline";
    }
    return scan.live(at) ? undefined : "slot_ended";
  };
  // With `maxUsers`, no more than its users can have (and one more, to see the next begin).
  const limitNow = (): number =>
    options.maxUsers === undefined
      ? ctx.streamLimit
      : Math.min(ctx.streamLimit, (options.maxUsers - result.users + 1) * PROVIDER_IDS.length + 1);
  const pipeline = new PagePipeline(deps);
  let cut: ScanStop | "failed" | undefined = stopNow();
  let lastPath = from;
  let lastUser: string | undefined;
  let page: EnqueueCandidate[] = [];
  let read = 0;
  const send = async () => {
    result.pages += 1;
    const candidates = page;
    page = [];
    await pipeline.send(candidates);
  };
  let pageDocs = 0;
  try {
    while (cut === undefined) {
      const limit = limitNow();
      let streamed = 0;
      // The SDK types `stream()` as a byte stream; in object mode it yields document snapshots.
      const docs = scan
        .query(lastPath, limit)
        .stream() as unknown as AsyncIterable<QueryDocumentSnapshot>;
      // No `break` (nor a throw) in this loop: that would destroy the stream (see above).
      for await (const doc of docs) {
        streamed += 1;
        if (cut !== undefined) {
          continue;
        }
        const userId = doc.ref.parent.parent?.id;
        if (userId && isProviderId(doc.id)) {
          if (userId !== lastUser && result.users === options.maxUsers) {
            cut = "max_users";
            continue;
          }
          if (userId !== lastUser) {
            result.users += 1;
            lastUser = userId;
          }
          const candidate = candidateOf(ctx, scan, doc, userId, deps.clock());
          if (candidate) {
            page.push(candidate);
          }
        }
        read += 1;
        pageDocs += 1;
        lastPath = doc.ref.path;
        if (pageDocs === pageSize) {
          pageDocs = 0;
          await send();
          cut = pipeline.failed ? "failed" : stopNow();
        }
      }
      if (cut === undefined) {
        cut = streamed < limit ? "end" : stopNow();
      }
    }
    // The last page, partly filled, read before the cut: it is sent (a scan that read nothing
    // counts one empty page).
    if (cut !== "failed" && (pageDocs > 0 || (read === 0 && cut === "end"))) {
      await send();
    }
  } finally {
    // Every page sent settles before the scan returns or throws: none is left in flight.
    await pipeline.drain();
  }
  pipeline.report(result);
  if (cut === "deadline" || cut === "max_users") {
    return { stop: cut, cursor: lastPath ?? null };
  }
  return { stop: cut === "slot_ended" ? "slot_ended" : "end", cursor: null };
}

/** A pass as a scan: its query, and its slots while they are current. */
function passScan(db: Firestore, pass: Pass): Scan {
  const cadences = Object.keys(pass.slots).map(Number);
  return {
    query: (after, limit) =>
      pass.full
        ? activeIntegrationsQuery(db, limit, after)
        : dueIntegrationsQuery(db, cadences, limit, after),
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
    const scan = passScan(deps.db, pass);
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
  const streamLimit = Math.max(
    pageSize,
    Math.min(STREAM_LIMIT, options.streamLimit ?? STREAM_LIMIT),
  );
  const ctx: ScanContext = { deps, options, pageSize, streamLimit, result };
  if (sharedCursor) {
    await runPasses(ctx);
    return result;
  }
  const scan: Scan = {
    query: (after, limit) => activeIntegrationsQuery(deps.db, limit, after),
    // Each scheduled sync for its cadence's current slot, whatever the passes say.
    ...(scheduled ? { slotOf: (hours: number, at: Date) => cadenceSlot(at, hours) } : {}),
    live: () => true,
  };
  const { stop, cursor } = await runScan(ctx, scan, options.cursor);
  result.stoppedBy = stop === "slot_ended" ? "end" : stop;
  result.nextCursor = cursor;
  return result;
}
