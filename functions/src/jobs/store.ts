/**
 * The job store: every state transition of a sync job, each one a Firestore transaction, so the
 * trigger, the sweep, the worker endpoint and duplicate trigger deliveries race safely.
 *
 * Invariants:
 * - at most one active (queued or running) job per integration: the integration document's
 *   `activeJobId` is the lock, read and written in the same transaction as the job;
 * - a job runs under a lease (`leaseOwner`, `leaseExpiresAt`); only the current owner may
 *   complete or fail it, so a worker that lost its lease cannot overwrite the outcome;
 * - a scheduled slot enqueues at most one job per integration (`lastScheduledSlot`), however
 *   often the scheduler fires.
 */
import {
  type DocumentReference,
  type Firestore,
  type Query,
  Timestamp,
  type Transaction,
} from "firebase-admin/firestore";

import { type Integration, integrationPath, integrationSchema } from "../integrations/model";
import type { ProviderErrorCode, ProviderErrorInfo, ProviderId } from "../providers/types";
import type { Clock } from "../shared/clock";
import { retryDelayMs } from "./backoff";
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
export const DEFAULT_MAX_ATTEMPTS = 5;
/** Writes per transaction stay well under Firestore's 500 per commit: two per enqueued job. */
const ENQUEUE_CHUNK = 100;

export const jobRef = (db: Firestore, jobId: string): DocumentReference =>
  db.collection(JOBS_COLLECTION).doc(jobId);

export function parseJob(id: string, data: unknown): JobRecord {
  return { id, job: jobSchema.parse(data) };
}

/** The job as this transaction sees it (validated), or `undefined` when it is gone. */
async function readJob(tx: Transaction, ref: DocumentReference): Promise<Job | undefined> {
  const snapshot = await tx.get(ref);
  return snapshot.exists ? parseJob(snapshot.id, snapshot.data()).job : undefined;
}

async function readIntegration(
  tx: Transaction,
  ref: DocumentReference,
): Promise<Integration | undefined> {
  const snapshot = await tx.get(ref);
  return snapshot.exists ? integrationSchema.parse(snapshot.data()) : undefined;
}

// ---------------------------------------------------------------------------------------------
// Enqueue

export interface EnqueueRequest {
  userId: string;
  providerId: ProviderId;
  type: JobType;
  timeframeDays: number;
  source: string;
  /** Scheduled runs: the cadence slot (e.g. `2026-11-28T02`); the same slot enqueues once. */
  slot?: string;
}

export type EnqueueOutcome =
  | { userId: string; providerId: ProviderId; status: "queued"; jobId: string }
  | { userId: string; providerId: ProviderId; status: "existing"; jobId: string }
  | {
      userId: string;
      providerId: ProviderId;
      status: "skipped";
      reason: "no_integration" | "integration_inactive" | "already_scheduled";
    };

/** Deterministic id for a scheduled slot: a second delivery of the same run finds it taken. */
const scheduledJobId = (request: EnqueueRequest): string =>
  `${request.slot}_${request.userId}_${request.providerId}`.replace(/[^A-Za-z0-9_-]/g, "-");

function newJob(request: EnqueueRequest, now: Timestamp, maxAttempts: number): Job {
  return {
    userId: request.userId,
    providerId: request.providerId,
    type: request.type,
    status: "queued",
    timeframeDays: request.timeframeDays,
    attempts: 0,
    maxAttempts,
    nextAttemptAt: now,
    leaseOwner: null,
    leaseExpiresAt: null,
    createdAt: now,
    updatedAt: now,
    startedAt: null,
    finishedAt: null,
    source: request.source,
    result: null,
    lastError: null,
    expireAt: null,
  };
}

/**
 * Enqueues jobs idempotently, in transactions of up to 100 integrations each (one commit per
 * chunk rather than one per job). Returns one outcome per request, in order.
 */
export async function enqueueJobs(
  deps: StoreDeps,
  requests: readonly EnqueueRequest[],
  maxAttempts = DEFAULT_MAX_ATTEMPTS,
): Promise<EnqueueOutcome[]> {
  const outcomes: EnqueueOutcome[] = [];
  for (let start = 0; start < requests.length; start += ENQUEUE_CHUNK) {
    const chunk = requests.slice(start, start + ENQUEUE_CHUNK);
    outcomes.push(...(await enqueueChunk(deps, chunk, maxAttempts)));
  }
  return outcomes;
}

async function enqueueChunk(
  deps: StoreDeps,
  chunk: readonly EnqueueRequest[],
  maxAttempts: number,
): Promise<EnqueueOutcome[]> {
  const { db } = deps;
  return db.runTransaction(async (tx) => {
    const integrationRefs = chunk.map((request) =>
      db.doc(integrationPath(request.userId, request.providerId)),
    );
    const integrationSnaps = integrationRefs.length > 0 ? await tx.getAll(...integrationRefs) : [];
    const integrations = integrationSnaps.map((snap) =>
      snap.exists ? integrationSchema.parse(snap.data()) : undefined,
    );
    const activeRefs = integrations.map((integration) =>
      integration?.activeJobId ? jobRef(db, integration.activeJobId) : undefined,
    );
    const presentActiveRefs = activeRefs.filter(
      (ref): ref is DocumentReference => ref !== undefined,
    );
    const activeSnaps = presentActiveRefs.length > 0 ? await tx.getAll(...presentActiveRefs) : [];
    const activeStatus = new Map(
      activeSnaps.map((snap) => [
        snap.id,
        snap.exists ? (snap.get("status") as unknown) : undefined,
      ]),
    );

    const now = Timestamp.fromDate(deps.clock());
    const outcomes: EnqueueOutcome[] = [];
    // Two requests for the same integration in one chunk: the second sees the first's job.
    const queuedInChunk = new Map<string, string>();
    chunk.forEach((request, index) => {
      const key = `${request.userId}/${request.providerId}`;
      const base = { userId: request.userId, providerId: request.providerId };
      const integration = integrations[index];
      const activeId = integration?.activeJobId;
      const sameChunk = queuedInChunk.get(key);
      if (!integration) {
        outcomes.push({ ...base, status: "skipped", reason: "no_integration" });
      } else if (sameChunk) {
        outcomes.push({ ...base, status: "existing", jobId: sameChunk });
      } else if (
        activeId &&
        (ACTIVE_STATUSES as readonly unknown[]).includes(activeStatus.get(activeId))
      ) {
        outcomes.push({ ...base, status: "existing", jobId: activeId });
      } else if (integration.status !== "active") {
        outcomes.push({ ...base, status: "skipped", reason: "integration_inactive" });
      } else if (request.slot !== undefined && integration.lastScheduledSlot === request.slot) {
        outcomes.push({ ...base, status: "skipped", reason: "already_scheduled" });
      } else {
        const ref =
          request.slot !== undefined
            ? jobRef(db, scheduledJobId(request))
            : db.collection(JOBS_COLLECTION).doc();
        // create(): if the slot's job somehow exists, the commit fails and the transaction retries.
        tx.create(ref, newJob(request, now, maxAttempts));
        tx.update(integrationRefs[index]!, {
          activeJobId: ref.id,
          lastSyncRequestedAt: now,
          ...(request.slot !== undefined ? { lastScheduledSlot: request.slot } : {}),
        });
        queuedInChunk.set(key, ref.id);
        outcomes.push({ ...base, status: "queued", jobId: ref.id });
      }
    });
    return outcomes;
  });
}

// ---------------------------------------------------------------------------------------------
// Claim, complete, fail

/**
 * Claims a due queued job for `owner` with a lease. Returns `undefined` when the job is not
 * claimable (another worker has it, it is finished, or it is not due): the caller skips it.
 */
export async function claimJob(
  deps: StoreDeps,
  jobId: string,
  owner: string,
  leaseMs: number,
): Promise<JobRecord | undefined> {
  const ref = jobRef(deps.db, jobId);
  return deps.db.runTransaction(async (tx) => {
    const job = await readJob(tx, ref);
    const now = deps.clock();
    if (!job || job.status !== "queued" || job.nextAttemptAt.toMillis() > now.getTime()) {
      return undefined;
    }
    const claimed: Job = {
      ...job,
      status: "running",
      attempts: job.attempts + 1,
      leaseOwner: owner,
      leaseExpiresAt: Timestamp.fromMillis(now.getTime() + leaseMs),
      startedAt: Timestamp.fromDate(now),
      updatedAt: Timestamp.fromDate(now),
    };
    tx.set(ref, claimed);
    return { id: jobId, job: claimed };
  });
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
 * otherwise. The job's integration is read up front too (a transaction reads before it writes).
 */
async function transition<T>(
  deps: StoreDeps,
  jobId: string,
  eligible: (job: Job, now: Timestamp) => boolean,
  apply: (ctx: TransitionContext) => T,
): Promise<T | undefined> {
  const ref = jobRef(deps.db, jobId);
  return deps.db.runTransaction(async (tx) => {
    const job = await readJob(tx, ref);
    const now = Timestamp.fromDate(deps.clock());
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
function requeue(ctx: TransitionContext, nextAttemptAt: Timestamp, lastError: JobError): void {
  ctx.tx.update(ctx.ref, {
    status: "queued",
    nextAttemptAt,
    leaseOwner: null,
    leaseExpiresAt: null,
    lastError,
    updatedAt: ctx.now,
  });
}

/** `failed` for good: the integration records the failure and is free for a new job. */
function failTerminally(ctx: TransitionContext, lastError: JobError): void {
  ctx.tx.update(ctx.ref, {
    status: "failed",
    lastError,
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
        lastError: failedAccount?.error ? { ...failedAccount.error, at: ctx.now } : null,
        ...(ctx.integration.activeJobId === jobId ? { activeJobId: null } : {}),
      });
    }
    return "succeeded" as const;
  });
  return outcome ?? "lease_lost";
}

/**
 * Records a failed attempt: `rate_limited` and `transient` go back to `queued` after the backoff
 * (never sooner than the platform's wait) until `maxAttempts`; `auth` fails at once and marks the
 * integration `needs_reauth`; `permanent` fails at once.
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
    if (!RETRYABLE.has(failure.code) || ctx.job.attempts >= ctx.job.maxAttempts) {
      failTerminally(ctx, lastError);
      return "failed" as const;
    }
    const delay = retryDelayMs(ctx.job.attempts, failure.retryAfterMs, random);
    requeue(ctx, Timestamp.fromMillis(ctx.now.toMillis() + delay), lastError);
    if (ctx.integration) {
      ctx.tx.update(ctx.integrationRef, { lastError: integrationError(lastError) });
    }
    return "retry_scheduled" as const;
  });
  return outcome ?? "lease_lost";
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
  /** Jobs that failed at or after `since`, for the gauges. Index: status ASC, finishedAt ASC. */
  failedSince: (db: Firestore, since: Date, limit: number): Query =>
    db
      .collection(JOBS_COLLECTION)
      .where("status", "==", "failed")
      .where("finishedAt", ">=", Timestamp.fromDate(since))
      .orderBy("finishedAt")
      .limit(limit),
};

// ---------------------------------------------------------------------------------------------
// Stale reset and cleanup

export interface StaleResetCounts {
  requeued: number;
  failed: number;
}

/**
 * Running jobs whose lease expired (the worker died or timed out) go back to `queued`, or to
 * `failed` when their attempts are spent. Each is re-checked in its own transaction, so a worker
 * that completes at the same moment wins cleanly.
 */
export async function resetStaleJobs(deps: StoreDeps, limit: number): Promise<StaleResetCounts> {
  const counts: StaleResetCounts = { requeued: 0, failed: 0 };
  const stale = await jobQueries.stale(deps.db, deps.clock(), limit).get();
  const expired = (job: Job, now: Timestamp) =>
    job.status === "running" &&
    job.leaseExpiresAt !== null &&
    job.leaseExpiresAt.toMillis() < now.toMillis();
  for (const doc of stale.docs) {
    const outcome = await transition(deps, doc.id, expired, (ctx) => {
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
    if (outcome) {
      counts[outcome] += 1;
    }
  }
  return counts;
}

/**
 * Deletes documents matched by `query` in batches of `batchSize`, at most `maxBatches` batches
 * (bounded work per invocation; the next run continues). Returns how many were deleted.
 */
export async function deleteInBatches(
  db: Firestore,
  query: Query,
  maxBatches: number,
): Promise<number> {
  let deleted = 0;
  for (let batchIndex = 0; batchIndex < maxBatches; batchIndex += 1) {
    const snapshot = await query.get();
    if (snapshot.empty) {
      break;
    }
    const batch = db.batch();
    snapshot.docs.forEach((doc) => batch.delete(doc.ref));
    await batch.commit();
    deleted += snapshot.size;
  }
  return deleted;
}
