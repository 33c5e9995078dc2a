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
import type { ProviderErrorInfo, ProviderId } from "../providers/types";
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
    const snapshot = await tx.get(ref);
    if (!snapshot.exists) {
      return undefined;
    }
    const { job } = parseJob(snapshot.id, snapshot.data());
    const now = deps.clock();
    if (job.status !== "queued" || job.nextAttemptAt.toMillis() > now.getTime()) {
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

export interface FailureInput extends Omit<ProviderErrorInfo, "code"> {
  code: JobError["code"];
}

const RETRYABLE: ReadonlySet<JobError["code"]> = new Set(["rate_limited", "transient"]);

/** Reads the job and checks `owner` still holds it; `undefined` means the lease was lost. */
async function ownedJob(
  tx: Transaction,
  ref: DocumentReference,
  owner: string,
): Promise<Job | undefined> {
  const snapshot = await tx.get(ref);
  if (!snapshot.exists) {
    return undefined;
  }
  const { job } = parseJob(snapshot.id, snapshot.data());
  return job.status === "running" && job.leaseOwner === owner ? job : undefined;
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
  const ref = jobRef(deps.db, jobId);
  return deps.db.runTransaction(async (tx) => {
    const job = await ownedJob(tx, ref, owner);
    if (!job) {
      return "lease_lost";
    }
    const integrationRef = deps.db.doc(integrationPath(job.userId, job.providerId));
    const integration = await readIntegration(tx, integrationRef);
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
    if (integration) {
      const failedAccount = result.accounts.find((account) => account.status === "failed");
      tx.update(integrationRef, {
        lastSyncedAt: now,
        consecutiveFailures: 0,
        lastError: failedAccount?.error ? { ...failedAccount.error, at: now } : null,
        ...(integration.activeJobId === jobId ? { activeJobId: null } : {}),
      });
    }
    return "succeeded";
  });
}

/**
 * Records a failed attempt: `rate_limited` and `transient` go back to `queued` after the backoff
 * (never sooner than the platform's wait) until `maxAttempts`; `auth` fails at once and marks the
 * integration `needs_reauth`; `permanent` and `internal` fail at once.
 */
export async function failJob(
  deps: StoreDeps,
  jobId: string,
  owner: string,
  failure: FailureInput,
  random: () => number = Math.random,
): Promise<FinishOutcome> {
  const ref = jobRef(deps.db, jobId);
  return deps.db.runTransaction(async (tx) => {
    const job = await ownedJob(tx, ref, owner);
    if (!job) {
      return "lease_lost";
    }
    const integrationRef = deps.db.doc(integrationPath(job.userId, job.providerId));
    const integration = await readIntegration(tx, integrationRef);
    const now = Timestamp.fromDate(deps.clock());
    const lastError: JobError = { ...failure, at: now };
    const retry = RETRYABLE.has(failure.code) && job.attempts < job.maxAttempts;
    if (retry) {
      const delay = retryDelayMs(job.attempts, failure.retryAfterMs, random);
      tx.update(ref, {
        status: "queued",
        nextAttemptAt: Timestamp.fromMillis(now.toMillis() + delay),
        leaseOwner: null,
        leaseExpiresAt: null,
        lastError,
        updatedAt: now,
      });
    } else {
      tx.update(ref, terminalFailure(now, lastError));
    }
    if (integration) {
      tx.update(integrationRef, {
        lastError: {
          code: failure.code,
          reason: failure.reason,
          message: failure.message,
          at: now,
        },
        ...(retry
          ? {}
          : {
              consecutiveFailures: integration.consecutiveFailures + 1,
              ...(integration.activeJobId === jobId ? { activeJobId: null } : {}),
              ...(failure.code === "auth" ? { status: "needs_reauth" } : {}),
            }),
      });
    }
    return retry ? "retry_scheduled" : "failed";
  });
}

function terminalFailure(now: Timestamp, lastError: JobError): Partial<Job> {
  return {
    status: "failed",
    lastError,
    leaseOwner: null,
    leaseExpiresAt: null,
    finishedAt: now,
    updatedAt: now,
    expireAt: Timestamp.fromMillis(now.toMillis() + RETENTION_MS),
  };
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
  for (const doc of stale.docs) {
    const outcome = await deps.db.runTransaction(async (tx) => {
      const snapshot = await tx.get(doc.ref);
      if (!snapshot.exists) {
        return undefined;
      }
      const { job } = parseJob(snapshot.id, snapshot.data());
      const now = Timestamp.fromDate(deps.clock());
      if (
        job.status !== "running" ||
        !job.leaseExpiresAt ||
        job.leaseExpiresAt.toMillis() >= now.toMillis()
      ) {
        return undefined;
      }
      const lastError: JobError = {
        code: "transient",
        reason: "lease_expired",
        message: `worker ${job.leaseOwner ?? "unknown"} did not finish before its lease expired`,
        at: now,
      };
      if (job.attempts < job.maxAttempts) {
        tx.update(doc.ref, {
          status: "queued",
          nextAttemptAt: now,
          leaseOwner: null,
          leaseExpiresAt: null,
          lastError,
          updatedAt: now,
        });
        return "requeued" as const;
      }
      const integrationRef = deps.db.doc(integrationPath(job.userId, job.providerId));
      const integration = await readIntegration(tx, integrationRef);
      tx.update(doc.ref, terminalFailure(now, lastError));
      if (integration) {
        tx.update(integrationRef, {
          lastError: {
            code: lastError.code,
            reason: lastError.reason,
            message: lastError.message,
            at: now,
          },
          consecutiveFailures: integration.consecutiveFailures + 1,
          ...(integration.activeJobId === doc.id ? { activeJobId: null } : {}),
        });
      }
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
