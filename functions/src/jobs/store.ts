/**
 * The job store: every state transition of a sync job, each one atomic — claims and outcomes in
 * Firestore transactions, enqueues in preconditioned batches (`enqueueJob` one integration at a
 * time, `enqueueBatch` a fan-out page per commit) — so the trigger, the sweep, the worker
 * endpoint, concurrent fan-outs and duplicate trigger deliveries race safely.
 *
 * Invariants:
 * - at most one active (queued or running) job per integration: the integration document's
 *   `activeJobId` is the lock, written atomically with the job's creation and only if the
 *   integration is unchanged since it was read;
 * - a job runs under a lease (`leaseOwner`, `leaseExpiresAt`); only the current owner may
 *   complete or fail it, so a worker that lost its lease cannot overwrite the outcome;
 * - a scheduled slot enqueues at most one job per integration (`lastScheduledSlot`, read before
 *   the job is created, and the slot's deterministic job id, which a `create` cannot take
 *   twice), however often the scheduler fires;
 * - every write touches only the fields its transition owns (`update`, never a whole-document
 *   `set` of a read job), so fields written by newer code survive;
 * - a job document that fails validation is failed `permanent` (`invalid_document`) where it is
 *   met, and the batch reading it goes on;
 * - contention is retried within a bound, then surfaces as `AppError("unavailable")` (503 with
 *   `Retry-After`), never as Firestore's raw ABORTED.
 */
import { createHash } from "node:crypto";

import {
  type DocumentReference,
  type DocumentSnapshot,
  type Firestore,
  type Query,
  Timestamp,
  type Transaction,
  type WriteBatch,
} from "firebase-admin/firestore";
import type { z } from "zod";

import {
  type Integration,
  integrationPath,
  integrationSchema,
  type StoredCredentials,
} from "../integrations/model";
import type { ProviderErrorCode, ProviderErrorInfo, ProviderId } from "../providers/types";
import type { Clock } from "../shared/clock";
import { AppError } from "../shared/errors";
import { hasFirestoreCode } from "../shared/firestore-errors";
import { DEFAULT_MAX_ATTEMPTS, nextRetry } from "./backoff";
import {
  ACTIVE_STATUSES,
  type Job,
  type JobError,
  type JobRecord,
  type JobResult,
  JOBS_COLLECTION,
  jobSchema,
  type JobStatus,
  type JobType,
} from "./model";

export interface StoreDeps {
  db: Firestore;
  clock: Clock;
}

/** Terminal jobs are kept this long (then `cleanup_old_jobs` or the TTL policy removes them). */
export const RETENTION_MS = 7 * 24 * 60 * 60 * 1000;
/** Enqueues in flight at once (each its own two-write batch). */
export const ENQUEUE_CHUNK = 100;
/**
 * Integrations enqueued in one commit (`enqueueBatch`): each is two writes (the job's `create`
 * and the integration's lock), and a commit holds at most 500.
 */
export const ENQUEUE_BATCH_MAX = 250;

export const jobRef = (db: Firestore, jobId: string): DocumentReference =>
  db.collection(JOBS_COLLECTION).doc(jobId);

export function parseJob(id: string, data: unknown): JobRecord {
  return { id, job: jobSchema.parse(data) };
}

/** One line naming the fields a document fails validation on (never their values). */
export const describeIssues = (error: z.ZodError): string =>
  error.issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`).join("; ");

/**
 * A job document this code cannot read: failed `permanent` for good, touching only the fields
 * the failure owns (whatever else the document holds is kept for whoever looks at it).
 */
export class InvalidJobError extends Error {
  constructor(
    readonly jobId: string,
    readonly issues: string,
  ) {
    super(`job ${jobId} is not a valid job document: ${issues}`);
    this.name = "InvalidJobError";
  }
}

function failInvalid(tx: Transaction, ref: DocumentReference, issues: string, now: Timestamp) {
  tx.update(ref, {
    status: "failed",
    lastError: {
      code: "permanent",
      reason: "invalid_document",
      message: `the job document fails validation: ${issues}`.slice(0, 500),
      at: now,
    },
    leaseOwner: null,
    leaseExpiresAt: null,
    finishedAt: now,
    updatedAt: now,
    expireAt: Timestamp.fromMillis(now.toMillis() + RETENTION_MS),
  });
}

/** The job as this transaction sees it: validated, invalid (with why), or gone. */
async function readJob(
  tx: Transaction,
  ref: DocumentReference,
): Promise<{ job: Job } | { invalid: string } | undefined> {
  const snapshot = await tx.get(ref);
  if (!snapshot.exists) {
    return undefined;
  }
  const parsed = jobSchema.safeParse(snapshot.data());
  return parsed.success ? { job: parsed.data } : { invalid: describeIssues(parsed.error) };
}

/** A missing or unreadable integration is treated alike: there is nothing to update on it. */
async function readIntegration(
  tx: Transaction,
  ref: DocumentReference,
): Promise<Integration | undefined> {
  const snapshot = await tx.get(ref);
  const parsed = snapshot.exists ? integrationSchema.safeParse(snapshot.data()) : undefined;
  return parsed?.success ? parsed.data : undefined;
}

// ---------------------------------------------------------------------------------------------
// Contention

/** Rounds of the SDK's own attempts (five, with its backoff), a jittered pause between them. */
const CONTENTION_ROUNDS = 3;
const CONTENTION_PAUSE_MS = 250;
/** What a refused caller is told to wait: a few seconds clear a burst of contention. */
const CONTENTION_RETRY_AFTER_SECONDS = 5;

/**
 * Errors that mean "another transaction held these documents", not "this request is wrong": the
 * emulator's and production's lock timeouts (ABORTED), and a transaction the server already
 * closed because of them (the emulator says "Transaction is invalid or closed").
 */
function isContention(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  const text = typeof message === "string" ? message : "";
  return (
    code === 10 ||
    code === "aborted" ||
    /Transaction (lock timeout|is invalid or closed|has expired)/i.test(text)
  );
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * `db.runTransaction` with a bound on contention: a few rounds after jittered pauses (spreading
 * the contenders out), then `unavailable` with `Retry-After` rather than a 500. Any other error
 * propagates as it is.
 */
export async function runContended<T>(
  db: Firestore,
  work: (tx: Transaction) => Promise<T>,
  random: () => number = Math.random,
): Promise<T> {
  for (let round = 0; ; round += 1) {
    try {
      return await db.runTransaction(work);
    } catch (error) {
      if (!isContention(error)) {
        throw error;
      }
      if (round + 1 >= CONTENTION_ROUNDS) {
        throw new AppError("unavailable", "The job store is busy; try again shortly", {
          retryAfterSeconds: CONTENTION_RETRY_AFTER_SECONDS,
        });
      }
      await pause(CONTENTION_PAUSE_MS * (round + 1) * (0.5 + random()));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Enqueue

export interface EnqueueRequest {
  userId: string;
  providerId: ProviderId;
  type: JobType;
  timeframeDays: number;
  source: string;
  /** Scheduled runs: the cadence slot (e.g. `24h-20785`); the same slot enqueues once. */
  slot?: string;
  /**
   * Not before this time may the job run: it becomes the job's `nextAttemptAt`, which the claim,
   * the sweep and the dispatch all honour. Absent, or already past: the job is due at once.
   * Scheduled slots spread their jobs over a window (`schedule.ts` `slotRunAfter`).
   */
  runAfter?: Date;
}

export type EnqueueSkipReason =
  | "no_integration"
  | "integration_inactive"
  | "already_scheduled"
  | "invalid_integration"
  /** Backfills (`backfill/store.ts`): nothing to fetch, or every day asked for is stored. */
  | "no_accounts"
  | "history_complete";

type EnqueueTarget = { userId: string; providerId: ProviderId };

export type EnqueueOutcome =
  | (EnqueueTarget & { status: "queued"; jobId: string })
  | (EnqueueTarget & { status: "existing"; jobId: string })
  | (EnqueueTarget & {
      status: "skipped";
      reason: EnqueueSkipReason;
      /** `invalid_integration`: the fields the document fails validation on. */
      issues?: string;
    })
  /** The fan-out only (`schedule.ts`): the request's transaction failed; the rest went on. */
  | (EnqueueTarget & { status: "failed"; error: string });

/**
 * The deterministic id of a slot's job for an integration: a second delivery of the same slot
 * finds it taken. It leads with a hash of the rest (8 hex digits), not with the slot. A slot's
 * jobs are created in one burst (40,000 at 02:00) in the fan-out's read order, user after user
 * in document order; ids led by the slot (`24h-20785_<uid>_…`) would put the whole burst in a
 * key range never written before, each commit just past the previous one — the hotspot
 * Firestore's ramp-up guidance ("500/50/5": at most 500 writes/s to a new key range, +50 %
 * every 5 minutes) is about, and likewise for every index entry keyed by a value the burst
 * shares (`status`, `slot`, `type`…) and then by id. Hashed, the ids scatter over the whole
 * collection as auto-ids do, over the ranges the previous days' jobs (kept `RETENTION_MS`)
 * already occupy, so the fan-out needs no write-rate cap for them (`schedule.ts`,
 * `COMMITS_IN_FLIGHT`). The readable rest names the job for whoever reads an id.
 */
export function slotJobId(slot: string, userId: string, providerId: ProviderId): string {
  const readable = `${slot}_${userId}_${providerId}`.replace(/[^A-Za-z0-9_-]/g, "-");
  const scatter = createHash("sha256").update(readable).digest("hex").slice(0, 8);
  return `${scatter}_${readable}`;
}

export function newJob(request: EnqueueRequest, now: Timestamp, maxAttempts: number): Job {
  // Never before its creation: the wait bound (`backoff.ts`) counts from `createdAt`.
  const due =
    request.runAfter !== undefined && request.runAfter.getTime() > now.toMillis()
      ? Timestamp.fromDate(request.runAfter)
      : now;
  return {
    userId: request.userId,
    providerId: request.providerId,
    type: request.type,
    status: "queued",
    timeframeDays: request.timeframeDays,
    attempts: 0,
    maxAttempts,
    deferrals: 0,
    nextAttemptAt: due,
    leaseOwner: null,
    leaseExpiresAt: null,
    createdAt: now,
    updatedAt: now,
    startedAt: null,
    finishedAt: null,
    source: request.source,
    slot: request.slot ?? null,
    result: null,
    lastError: null,
    lastFailedAt: null,
    expireAt: null,
  };
}

export const isActive = (snapshot: DocumentSnapshot | undefined): boolean =>
  snapshot?.exists === true &&
  (ACTIVE_STATUSES as readonly unknown[]).includes(snapshot.get("status"));

/**
 * The writes of one enqueue, added to `batch`: the job's `create` (which fails if the id is
 * taken: a slot's job already exists) and the integration's lock, which holds only if the
 * integration is unchanged since `integrationSnap` was read (its update time).
 */
function addEnqueue(
  batch: WriteBatch,
  ref: DocumentReference,
  integrationSnap: DocumentSnapshot,
  request: EnqueueRequest,
  now: Timestamp,
  maxAttempts: number,
): WriteBatch {
  return batch.create(ref, newJob(request, now, maxAttempts)).update(
    integrationSnap.ref,
    {
      activeJobId: ref.id,
      lastSyncRequestedAt: now,
      ...(request.slot !== undefined ? { lastScheduledSlot: request.slot } : {}),
    },
    { lastUpdateTime: integrationSnap.updateTime! },
  );
}

const activeJobIdOf = (integration: DocumentSnapshot | undefined): string | undefined => {
  const id: unknown = integration?.get("activeJobId");
  return typeof id === "string" && id !== "" ? id : undefined;
};

const queuedOutcome = (request: EnqueueRequest, jobId: string): EnqueueOutcome => ({
  userId: request.userId,
  providerId: request.providerId,
  status: "queued",
  jobId,
});

/** Rounds of read-decide-write for one integration before the caller is told to come back. */
const ENQUEUE_ROUNDS = 6;

/**
 * What an enqueue round decided: an outcome, or a job to create (and the integration's lock).
 * `slotSnap` undefined: the slot's job was not read (`enqueueBatch`), so its `create` is what
 * finds it, failing the commit.
 */
function decide(
  request: EnqueueRequest,
  integrationSnap: DocumentSnapshot,
  slotSnap: DocumentSnapshot | undefined,
  activeSnap: DocumentSnapshot | undefined,
): EnqueueOutcome | "create" {
  const base = { userId: request.userId, providerId: request.providerId };
  if (!integrationSnap.exists) {
    return { ...base, status: "skipped", reason: "no_integration" };
  }
  const parsed = integrationSchema.safeParse(integrationSnap.data());
  if (!parsed.success) {
    const issues = describeIssues(parsed.error);
    return { ...base, status: "skipped", reason: "invalid_integration", issues };
  }
  const integration = parsed.data;
  if (integration.activeJobId && isActive(activeSnap)) {
    return { ...base, status: "existing", jobId: integration.activeJobId };
  }
  if (integration.status !== "active") {
    return { ...base, status: "skipped", reason: "integration_inactive" };
  }
  if (request.slot !== undefined && integration.lastScheduledSlot === request.slot) {
    return { ...base, status: "skipped", reason: "already_scheduled" };
  }
  if (slotSnap?.exists) {
    // The slot's job exists although `lastScheduledSlot` moved on (a cadence change and back
    // within the slot): it was scheduled, so it is read, never created a second time.
    return isActive(slotSnap)
      ? { ...base, status: "existing", jobId: slotSnap.id }
      : { ...base, status: "skipped", reason: "already_scheduled" };
  }
  return "create";
}

/**
 * Enqueues one job idempotently, with optimistic concurrency instead of a transaction: read the
 * integration (and the slot's and the active job), decide, then commit the job's `create` and
 * the integration's lock in one atomic batch that holds only if the integration is unchanged
 * since the read (`lastUpdateTime`). A racing enqueue makes the batch fail as a whole and this
 * round re-reads (finding the racer's job). No locks are held between read and write, so many
 * concurrent fan-outs cannot pile up on lock timeouts as read-write transactions do. A terminal
 * job never becomes active again, so an active-job status read outside the batch stays true.
 *
 * Throws `unavailable` (503, `Retry-After`) when the integration kept changing for every round.
 */
export async function enqueueJob(
  deps: StoreDeps,
  request: EnqueueRequest,
  maxAttempts = DEFAULT_MAX_ATTEMPTS,
  random: () => number = Math.random,
): Promise<EnqueueOutcome> {
  const { db } = deps;
  const integrationRef = db.doc(integrationPath(request.userId, request.providerId));
  const slotRef =
    request.slot === undefined
      ? undefined
      : jobRef(db, slotJobId(request.slot, request.userId, request.providerId));
  for (let round = 1; ; round += 1) {
    const [integrationSnap, slotSnap] = await db.getAll(
      integrationRef,
      ...(slotRef ? [slotRef] : []),
    );
    const activeId = activeJobIdOf(integrationSnap);
    const activeSnap = activeId === undefined ? undefined : await jobRef(db, activeId).get();
    const decision = decide(request, integrationSnap!, slotSnap, activeSnap);
    if (decision !== "create") {
      return decision;
    }
    const ref = slotRef ?? db.collection(JOBS_COLLECTION).doc();
    const now = Timestamp.fromDate(deps.clock());
    try {
      await addEnqueue(db.batch(), ref, integrationSnap!, request, now, maxAttempts).commit();
      return queuedOutcome(request, ref.id);
    } catch (error) {
      if (
        !hasFirestoreCode(error, "ALREADY_EXISTS", "FAILED_PRECONDITION") &&
        !isContention(error)
      ) {
        throw error;
      }
      if (round >= ENQUEUE_ROUNDS) {
        throw new AppError("unavailable", "The job store is busy; try again shortly", {
          retryAfterSeconds: CONTENTION_RETRY_AFTER_SECONDS,
        });
      }
      await pause(CONTENTION_PAUSE_MS * round * random());
    }
  }
}

/**
 * Enqueues jobs idempotently (`enqueueJob`), up to 100 at a time. Returns one outcome per
 * request, in order; throws the first failure (`unavailable` under contention).
 */
export async function enqueueJobs(
  deps: StoreDeps,
  requests: readonly EnqueueRequest[],
  maxAttempts = DEFAULT_MAX_ATTEMPTS,
): Promise<EnqueueOutcome[]> {
  const outcomes: EnqueueOutcome[] = [];
  for (let start = 0; start < requests.length; start += ENQUEUE_CHUNK) {
    const chunk = requests.slice(start, start + ENQUEUE_CHUNK);
    // Different integrations in parallel; requests for the same one in order, so the first
    // gets the job and the later ones see it (racing them would only make them contend).
    const byIntegration = new Map<string, number[]>();
    chunk.forEach((request, i) => {
      const key = `${request.userId}/${request.providerId}`;
      byIntegration.set(key, [...(byIntegration.get(key) ?? []), i]);
    });
    const results: EnqueueOutcome[] = [];
    await Promise.all(
      [...byIntegration.values()].map(async (indexes) => {
        for (const i of indexes) {
          results[i] = await enqueueJob(deps, chunk[i]!, maxAttempts);
        }
      }),
    );
    outcomes.push(...results);
  }
  return outcomes;
}

/** An integration a fan-out page read, and the job to enqueue for it. */
export interface EnqueueCandidate {
  request: EnqueueRequest;
  /** The integration as the page read it: its update time is the commit's precondition. */
  integration: DocumentSnapshot;
}

export interface BatchEnqueueResult {
  /** One per candidate, in order. */
  outcomes: EnqueueOutcome[];
  /** One per commit that failed (its error), whose jobs were then enqueued one by one. */
  fallbacks: string[];
}

/**
 * Each request on its own (`enqueueJob`), `ENQUEUE_CHUNK` at a time: one that fails (an
 * integration that kept changing, or any store error) is recorded as `failed`, the rest go on.
 */
async function enqueueEach(
  deps: StoreDeps,
  requests: readonly EnqueueRequest[],
  maxAttempts: number,
): Promise<EnqueueOutcome[]> {
  const outcomes: EnqueueOutcome[] = [];
  for (let start = 0; start < requests.length; start += ENQUEUE_CHUNK) {
    const chunk = requests.slice(start, start + ENQUEUE_CHUNK);
    const settled = chunk.map((request) =>
      enqueueJob(deps, request, maxAttempts).catch((error: unknown): EnqueueOutcome => ({
        userId: request.userId,
        providerId: request.providerId,
        status: "failed",
        error: error instanceof Error ? error.message : String(error),
      })),
    );
    outcomes.push(...(await Promise.all(settled)));
  }
  return outcomes;
}

/**
 * The fan-out's enqueue: a page of integrations (one candidate per integration) in one commit
 * per `ENQUEUE_BATCH_MAX`, where `enqueueJob` makes one per job, with the same guarantees:
 *
 * - the integrations are not read again: the page's snapshots are what `decide` judges, and
 *   each lock is written only if its integration is unchanged since the page read it (its
 *   update time), so a racing enqueue, a worker finishing the previous job or an automation
 *   change in between fails the commit instead of being overwritten;
 * - the jobs named by a set `activeJobId` are read in one call (usually none: a finished job
 *   clears the lock), as `enqueueJob` reads its one;
 * - the slot's deterministic job id is not read: its `create` fails the commit if the job
 *   exists (a cadence changed and back within a slot), so a job is never created twice.
 *
 * The commit is all or nothing. Any failure — a precondition, ALREADY_EXISTS, contention, or
 * an error that leaves the outcome unknown (a timeout after the server applied it) — sends the
 * commit's jobs through `enqueueJob` one by one: it reads each integration and slot afresh, so
 * what the failed commit did not write is enqueued and what it did write (or a racer wrote) is
 * found, never created twice. Nothing is lost for a failed commit; it costs one commit per job.
 *
 * Calls may run side by side (the fan-out keeps several pages in flight): each is its own
 * commit, and one that meets another's write (the same integration twice) fails its
 * precondition and falls back as above.
 */
export async function enqueueBatch(
  deps: StoreDeps,
  candidates: readonly EnqueueCandidate[],
  maxAttempts = DEFAULT_MAX_ATTEMPTS,
): Promise<BatchEnqueueResult> {
  const { db } = deps;
  const result: BatchEnqueueResult = { outcomes: [], fallbacks: [] };
  for (let start = 0; start < candidates.length; start += ENQUEUE_BATCH_MAX) {
    const chunk = candidates.slice(start, start + ENQUEUE_BATCH_MAX);
    const activeIds = [
      ...new Set(chunk.flatMap(({ integration }) => activeJobIdOf(integration) ?? [])),
    ];
    const activeSnaps =
      activeIds.length > 0 ? await db.getAll(...activeIds.map((id) => jobRef(db, id))) : [];
    const activeById = new Map(activeSnaps.map((snap) => [snap.id, snap]));
    const now = Timestamp.fromDate(deps.clock());
    const outcomes: EnqueueOutcome[] = [];
    const creates: Array<{ index: number; jobId: string }> = [];
    const batch = db.batch();
    chunk.forEach(({ request, integration }, index) => {
      const activeId = activeJobIdOf(integration);
      const active = activeId === undefined ? undefined : activeById.get(activeId);
      const decision = decide(request, integration, undefined, active);
      if (decision !== "create") {
        outcomes[index] = decision;
        return;
      }
      const ref =
        request.slot === undefined
          ? db.collection(JOBS_COLLECTION).doc()
          : jobRef(db, slotJobId(request.slot, request.userId, request.providerId));
      addEnqueue(batch, ref, integration, request, now, maxAttempts);
      creates.push({ index, jobId: ref.id });
    });
    if (creates.length > 0) {
      try {
        await batch.commit();
        for (const { index, jobId } of creates) {
          outcomes[index] = queuedOutcome(chunk[index]!.request, jobId);
        }
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        result.fallbacks.push(message.split("\n")[0]!.slice(0, 200));
        const requests = creates.map(({ index }) => chunk[index]!.request);
        const each = await enqueueEach(deps, requests, maxAttempts);
        creates.forEach(({ index }, i) => {
          outcomes[index] = each[i]!;
        });
      }
    }
    result.outcomes.push(...outcomes);
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Claim, complete, fail

/**
 * Claims a due queued job for `owner` with a lease. Returns `undefined` when the job is not
 * claimable (another worker has it, it is finished, or it is not due): the caller skips it.
 * Throws `InvalidJobError` after failing a job document that does not validate.
 */
export async function claimJob(
  deps: StoreDeps,
  jobId: string,
  owner: string,
  leaseMs: number,
): Promise<JobRecord | undefined> {
  const ref = jobRef(deps.db, jobId);
  const claimed = await runContended(deps.db, async (tx) => {
    const read = await readJob(tx, ref);
    const now = deps.clock();
    if (read && "invalid" in read) {
      failInvalid(tx, ref, read.invalid, Timestamp.fromDate(now));
      return read;
    }
    const job = read?.job;
    if (!job || job.status !== "queued" || job.nextAttemptAt.toMillis() > now.getTime()) {
      return undefined;
    }
    // Only the claim's own fields: a whole-document write would drop what this code does not know.
    const fields = {
      status: "running" as const,
      attempts: job.attempts + 1,
      leaseOwner: owner,
      leaseExpiresAt: Timestamp.fromMillis(now.getTime() + leaseMs),
      startedAt: Timestamp.fromDate(now),
      updatedAt: Timestamp.fromDate(now),
    };
    tx.update(ref, fields);
    return { job: { ...job, ...fields } };
  });
  if (claimed && "invalid" in claimed) {
    throw new InvalidJobError(jobId, claimed.invalid);
  }
  return claimed ? { id: jobId, job: claimed.job } : undefined;
}

export type FinishOutcome = "succeeded" | "retry_scheduled" | "failed" | "lease_lost";

const RETRYABLE: ReadonlySet<ProviderErrorCode> = new Set(["rate_limited", "transient"]);

interface TransitionContext {
  tx: Transaction;
  jobId: string;
  ref: DocumentReference;
  job: Job;
  now: Timestamp;
  integrationRef: DocumentReference;
  integration: Integration | undefined;
}

/**
 * Runs `apply` in a transaction when the job, read inside it, is `eligible`; returns `undefined`
 * otherwise, and `"invalid"` after failing a job document that does not validate. The job's
 * integration is read up front too (a transaction reads before it writes).
 */
async function transition<T>(
  deps: StoreDeps,
  jobId: string,
  eligible: (job: Job, now: Timestamp) => boolean,
  apply: (ctx: TransitionContext) => T,
): Promise<T | "invalid" | undefined> {
  const ref = jobRef(deps.db, jobId);
  return runContended(deps.db, async (tx) => {
    const read = await readJob(tx, ref);
    const now = Timestamp.fromDate(deps.clock());
    if (read && "invalid" in read) {
      failInvalid(tx, ref, read.invalid, now);
      return "invalid" as const;
    }
    const job = read?.job;
    if (!job || !eligible(job, now)) {
      return undefined;
    }
    const integrationRef = deps.db.doc(integrationPath(job.userId, job.providerId));
    const integration = await readIntegration(tx, integrationRef);
    return apply({ tx, jobId, ref, job, now, integrationRef, integration });
  });
}

/** Only the worker holding the lease may finish a job; a worker that lost it changes nothing. */
const heldBy = (owner: string) => (job: Job) =>
  job.status === "running" && job.leaseOwner === owner;

const integrationError = (error: JobError) => ({
  code: error.code,
  reason: error.reason,
  message: error.message,
  at: error.at,
});

/** Back to `queued`, claimable again from `nextAttemptAt`. */
function requeue(
  ctx: TransitionContext,
  nextAttemptAt: Timestamp,
  lastError: JobError,
  counters: Partial<Pick<Job, "attempts" | "deferrals">> = {},
): void {
  ctx.tx.update(ctx.ref, {
    ...counters,
    status: "queued",
    nextAttemptAt,
    leaseOwner: null,
    leaseExpiresAt: null,
    lastError,
    lastFailedAt: ctx.now,
    updatedAt: ctx.now,
  });
}

/** `failed` for good: the integration records the failure and is free for a new job. */
function failTerminally(ctx: TransitionContext, lastError: JobError): void {
  ctx.tx.update(ctx.ref, {
    status: "failed",
    lastError,
    lastFailedAt: ctx.now,
    leaseOwner: null,
    leaseExpiresAt: null,
    finishedAt: ctx.now,
    updatedAt: ctx.now,
    expireAt: Timestamp.fromMillis(ctx.now.toMillis() + RETENTION_MS),
  });
  if (ctx.integration) {
    ctx.tx.update(ctx.integrationRef, {
      lastError: integrationError(lastError),
      consecutiveFailures: ctx.integration.consecutiveFailures + 1,
      ...(ctx.integration.activeJobId === ctx.jobId ? { activeJobId: null } : {}),
      ...(lastError.code === "auth" ? { status: "needs_reauth" } : {}),
    });
  }
}

/**
 * Marks the job succeeded and records the sync on its integration. Accounts that failed
 * permanently are reported in `result.accounts` and as the integration's last error.
 */
export async function completeJob(
  deps: StoreDeps,
  jobId: string,
  owner: string,
  result: JobResult,
  /** Zones the fetch reported its accounts in (canonical id → zone), kept on the integration. */
  accountTimeZones: Readonly<Record<string, string>> = {},
): Promise<FinishOutcome> {
  const outcome = await transition(deps, jobId, heldBy(owner), (ctx) => {
    ctx.tx.update(ctx.ref, {
      status: "succeeded",
      result,
      leaseOwner: null,
      leaseExpiresAt: null,
      finishedAt: ctx.now,
      updatedAt: ctx.now,
      expireAt: Timestamp.fromMillis(ctx.now.toMillis() + RETENTION_MS),
    });
    if (ctx.integration) {
      const failedAccount = result.accounts.find((account) => account.status === "failed");
      ctx.tx.update(ctx.integrationRef, {
        lastSyncedAt: ctx.now,
        consecutiveFailures: 0,
        ...(Object.keys(accountTimeZones).length > 0
          ? {
              accountTimeZones: { ...ctx.integration.accountTimeZones, ...accountTimeZones },
            }
          : {}),
        lastError: failedAccount?.error ? { ...failedAccount.error, at: ctx.now } : null,
        ...(ctx.integration.activeJobId === jobId ? { activeJobId: null } : {}),
      });
    }
    return "succeeded" as const;
  });
  // A document that stopped validating mid-run was failed by the transition: not this worker's.
  return outcome === undefined || outcome === "invalid" ? "lease_lost" : outcome;
}

/**
 * Records a failed run, by the retry policy (`backoff.ts`): `transient` goes back to `queued`
 * after the backoff (never sooner than the platform's wait) until `maxAttempts`; `rate_limited`
 * is deferred to the platform's wait without spending the attempt; either fails once the job
 * would wait past its bound. `auth` fails at once and marks the integration `needs_reauth`;
 * `permanent` fails at once.
 */
export async function failJob(
  deps: StoreDeps,
  jobId: string,
  owner: string,
  failure: ProviderErrorInfo,
  random: () => number = Math.random,
): Promise<FinishOutcome> {
  const outcome = await transition(deps, jobId, heldBy(owner), (ctx) => {
    const lastError: JobError = { ...failure, at: ctx.now };
    const decision = RETRYABLE.has(failure.code)
      ? nextRetry(
          {
            attempts: ctx.job.attempts,
            maxAttempts: ctx.job.maxAttempts,
            deferrals: ctx.job.deferrals,
            createdAtMs: ctx.job.createdAt.toMillis(),
          },
          failure,
          ctx.now.toMillis(),
          random,
        )
      : undefined;
    if (decision?.kind !== "retry") {
      failTerminally(
        ctx,
        decision?.why === "wait_bound"
          ? { ...lastError, message: `${lastError.message} (gave up: the job's wait bound passed)` }
          : lastError,
      );
      return "failed" as const;
    }
    requeue(
      ctx,
      Timestamp.fromMillis(decision.atMs),
      lastError,
      // The claim counted an attempt; a deferral gives it back.
      decision.deferral ? { attempts: ctx.job.attempts - 1, deferrals: ctx.job.deferrals + 1 } : {},
    );
    if (ctx.integration) {
      ctx.tx.update(ctx.integrationRef, { lastError: integrationError(lastError) });
    }
    return "retry_scheduled" as const;
  });
  return outcome === undefined || outcome === "invalid" ? "lease_lost" : outcome;
}

/**
 * Stores the tokens a job's fetch refreshed — only while `owner` still holds the job's lease and
 * the credentials document is the one the job read (its `updateTime`): a worker that lost its
 * lease, or a reconnect that stored newer tokens meanwhile, is never overwritten with older ones.
 * Only the token fields are written; whatever else the document holds is kept.
 */
export async function storeRefreshedCredentials(
  deps: StoreDeps,
  jobId: string,
  owner: string,
  credentials: { path: string; readAt: Timestamp; sealed: StoredCredentials },
): Promise<"stored" | "lease_lost" | "superseded"> {
  const ref = deps.db.doc(credentials.path);
  return runContended(deps.db, async (tx) => {
    const [job, current] = await Promise.all([readJob(tx, jobRef(deps.db, jobId)), tx.get(ref)]);
    if (!job || !("job" in job) || !heldBy(owner)(job.job)) {
      return "lease_lost" as const;
    }
    if (!current.exists || !current.updateTime?.isEqual(credentials.readAt)) {
      return "superseded" as const;
    }
    const { accessToken, refreshToken, expiresAt } = credentials.sealed;
    tx.update(ref, { accessToken, refreshToken, expiresAt });
    return "stored" as const;
  });
}

// ---------------------------------------------------------------------------------------------
// Queries (every query on the jobs collection is declared here, next to its index)

export const jobQueries = {
  /** Due queued jobs, oldest due first. Index: status ASC, nextAttemptAt ASC. */
  due: (db: Firestore, now: Date, limit: number): Query =>
    db
      .collection(JOBS_COLLECTION)
      .where("status", "==", "queued")
      .where("nextAttemptAt", "<=", Timestamp.fromDate(now))
      .orderBy("nextAttemptAt")
      .limit(limit),
  /** One user's due queued jobs. Index: userId ASC, status ASC, nextAttemptAt ASC. */
  dueForUser: (db: Firestore, userId: string, now: Date, limit: number): Query =>
    db
      .collection(JOBS_COLLECTION)
      .where("userId", "==", userId)
      .where("status", "==", "queued")
      .where("nextAttemptAt", "<=", Timestamp.fromDate(now))
      .orderBy("nextAttemptAt")
      .limit(limit),
  /** Running jobs whose lease has expired. Index: status ASC, leaseExpiresAt ASC. */
  stale: (db: Firestore, now: Date, limit: number): Query =>
    db
      .collection(JOBS_COLLECTION)
      .where("status", "==", "running")
      .where("leaseExpiresAt", "<", Timestamp.fromDate(now))
      .orderBy("leaseExpiresAt")
      .limit(limit),
  /** Terminal jobs finished before `cutoff`. Index: status ASC, finishedAt ASC. */
  finishedBefore: (db: Firestore, cutoff: Date, limit: number): Query =>
    db
      .collection(JOBS_COLLECTION)
      .where("status", "in", ["succeeded", "failed"])
      .where("finishedAt", "<", Timestamp.fromDate(cutoff))
      .orderBy("finishedAt")
      .limit(limit),
  /** A user's most recent jobs for the status endpoint. Index: userId ASC, createdAt DESC. */
  recentForUser: (db: Firestore, userId: string, limit: number): Query =>
    db
      .collection(JOBS_COLLECTION)
      .where("userId", "==", userId)
      .orderBy("createdAt", "desc")
      .limit(limit),
  /** Jobs in one status, for the queue gauges' counts. Single-field index on status (automatic). */
  withStatus: (db: Firestore, status: JobStatus, limit: number): Query =>
    db.collection(JOBS_COLLECTION).where("status", "==", status).limit(limit),
  /**
   * Jobs whose last attempt failed at or after `since` — retried, deferred or failed for good —
   * for the sweep's alert aggregates. Single-field index on lastFailedAt (automatic): written only
   * by failed attempts, it stays far below the 500 writes/s of a sequential indexed field.
   */
  failedAttemptsSince: (db: Firestore, since: Date, limit: number): Query =>
    db
      .collection(JOBS_COLLECTION)
      .where("lastFailedAt", ">=", Timestamp.fromDate(since))
      .orderBy("lastFailedAt")
      .limit(limit),
  /**
   * Jobs that ended in `status` at or after `since`, of every platform or of one: the gauges'
   * failures of the day, the sweep's alert aggregates. Index: status ASC, finishedAt ASC; with a
   * platform, providerId ASC, status ASC, finishedAt ASC.
   */
  finishedSince: (
    db: Firestore,
    status: "succeeded" | "failed",
    since: Date,
    limit: number,
    providerId?: string,
  ): Query => {
    const jobs = db.collection(JOBS_COLLECTION);
    return (providerId === undefined ? jobs : jobs.where("providerId", "==", providerId))
      .where("status", "==", status)
      .where("finishedAt", ">=", Timestamp.fromDate(since))
      .orderBy("finishedAt")
      .limit(limit);
  },
};

// ---------------------------------------------------------------------------------------------
// Stale reset and cleanup

export interface StaleResetCounts {
  requeued: number;
  failed: number;
  /** Documents that failed validation, failed `permanent` (`invalid_document`). */
  invalid: number;
  /** Jobs whose reset could not commit (contention); the next run retries them. */
  errored: number;
}

/** Stale jobs reset at once, each its own transaction: a backlog after an outage clears quickly. */
const STALE_RESET_PARALLELISM = 10;

/**
 * Running jobs whose lease expired (the worker died or timed out) go back to `queued`, or to
 * `failed` when their attempts are spent. Each is re-checked in its own transaction, so a worker
 * that completes at the same moment wins cleanly. Pages of `pageSize` until none is left or the
 * deadline passes (the next run continues: a reset job leaves the query).
 */
export async function resetStaleJobs(
  deps: StoreDeps,
  limits: { pageSize: number; deadline: Date },
): Promise<StaleResetCounts & { stoppedBy: "done" | "deadline"; requeuedIds: string[] }> {
  const counts: StaleResetCounts = { requeued: 0, failed: 0, invalid: 0, errored: 0 };
  // The jobs put back in the queue, for their tasks (`dispatch.ts`).
  const requeuedIds: string[] = [];
  const expired = (job: Job, now: Timestamp) =>
    job.status === "running" &&
    job.leaseExpiresAt !== null &&
    job.leaseExpiresAt.toMillis() < now.toMillis();
  const reset = async (jobId: string): Promise<void> => {
    let outcome: keyof StaleResetCounts | undefined;
    try {
      outcome = await resetOne(jobId);
    } catch {
      // Contention outlasting its retries: this job waits for the next run, the rest go on.
      outcome = "errored";
    }
    if (outcome) {
      counts[outcome] += 1;
    }
    if (outcome === "requeued") {
      requeuedIds.push(jobId);
    }
  };
  const resetOne = async (jobId: string) => {
    const outcome = await transition(deps, jobId, expired, (ctx) => {
      const lastError: JobError = {
        code: "transient",
        reason: "lease_expired",
        message: `worker ${ctx.job.leaseOwner ?? "unknown"} did not finish before its lease expired`,
        at: ctx.now,
      };
      if (ctx.job.attempts < ctx.job.maxAttempts) {
        requeue(ctx, ctx.now, lastError);
        return "requeued" as const;
      }
      failTerminally(ctx, lastError);
      return "failed" as const;
    });
    return outcome === "invalid" ? ("invalid" as const) : outcome;
  };
  for (;;) {
    if (deps.clock().getTime() >= limits.deadline.getTime()) {
      return { ...counts, stoppedBy: "deadline", requeuedIds };
    }
    const before = counts.requeued + counts.failed + counts.invalid;
    const page = await jobQueries.stale(deps.db, deps.clock(), limits.pageSize).get();
    for (let i = 0; i < page.docs.length; i += STALE_RESET_PARALLELISM) {
      await Promise.all(
        page.docs.slice(i, i + STALE_RESET_PARALLELISM).map((doc) => reset(doc.id)),
      );
    }
    // A short page was the last; a full page that reset nothing would only come back the same.
    if (
      page.size < limits.pageSize ||
      counts.requeued + counts.failed + counts.invalid === before
    ) {
      return { ...counts, stoppedBy: "done", requeuedIds };
    }
  }
}

/**
 * Deletes the documents `query` matches, a page (one atomic batch) at a time, until none is left
 * or the deadline passes. Returns how many were deleted and why it stopped.
 */
export async function deleteUntilDeadline(
  deps: StoreDeps,
  query: Query,
  deadline: Date,
): Promise<{ deleted: number; stoppedBy: "done" | "deadline" }> {
  let deleted = 0;
  for (;;) {
    if (deps.clock().getTime() >= deadline.getTime()) {
      return { deleted, stoppedBy: "deadline" };
    }
    const snapshot = await query.get();
    if (snapshot.empty) {
      return { deleted, stoppedBy: "done" };
    }
    const batch = deps.db.batch();
    snapshot.docs.forEach((doc) => batch.delete(doc.ref));
    await batch.commit();
    deleted += snapshot.size;
  }
}
