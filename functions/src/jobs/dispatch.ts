/**
 * Dispatch: how a queued job reaches a worker with the platform's budget held fleet-wide.
 *
 * The job document stays the source of truth (status, attempts, lease, `nextAttemptAt`); what
 * runs it is a Cloud Task on its platform's queue (`triggers/tasks.ts`, one `onTaskDispatched`
 * function per platform, whose concurrency cap splits the budget: `providers/budget.ts`).
 *
 * A task is named after the job's queued state (`taskId`: the job, its attempts, deferrals and
 * due time), so every path that dispatches the same state — the trigger's at-least-once
 * deliveries, the sweep, a run that finds the job already requeued — names the same task, and
 * Cloud Tasks creates it once (`functions/task-already-exists` otherwise). A retry or a
 * platform-requested wait changes the state, so it is a new task, scheduled for its due time:
 * the wait holds no slot of the queue and no instance.
 */
import { createHash } from "node:crypto";

import type { DocumentSnapshot, Firestore } from "firebase-admin/firestore";
import { z } from "zod";

import type { QueueKind } from "../providers/budget";
import { PROVIDER_IDS, type ProviderId } from "../providers/types";
import { emptyCounts, recordEvent } from "../scheduler/events";
import type { Clock } from "../shared/clock";
import { documentIdSchema } from "../shared/document-id";
import { type Job, jobSchema } from "./model";
import { type ProcessDeps, runJob, type RunOutcome } from "./process";
import { jobQueries, jobRef } from "./store";

/**
 * The task's payload: the job document is read (and claimed) by the run itself; `taskId` names
 * the queued state the task was made for (`taskId`), so a run can tell its own state from a
 * newer one.
 */
export const jobTaskSchema = z.strictObject({
  jobId: documentIdSchema,
  taskId: z.string().min(1),
});
export type JobTask = z.infer<typeof jobTaskSchema>;

/**
 * Enqueues one task on a platform's queue (`queue`: its syncs' or its backfills'); `exists` when
 * a task of that name already exists.
 */
export type TaskQueues = (
  providerId: ProviderId,
  task: JobTask,
  options: { id: string; scheduleTime: Date; queue: QueueKind },
) => Promise<"enqueued" | "exists">;

/** Backfill runs go to their platform's backfill queue, every other job to its sync queue. */
export const queueOf = (type: unknown): QueueKind =>
  type === "initial-backfill" ? "backfill" : "sync";

export interface DispatchDeps {
  db: Firestore;
  clock: Clock;
  queues: TaskQueues;
}

/**
 * The task name for a job's queued state. Hashed, because Cloud Tasks spreads names by their
 * prefix and sequential names (auto ids are not, but states of one job are) hot-spot.
 */
const hashed = (name: string): string =>
  createHash("sha256").update(name).digest("hex").slice(0, 40);

export const taskId = (
  jobId: string,
  job: Pick<Job, "attempts" | "deferrals" | "nextAttemptAt">,
): string => hashed(`${jobId}:${job.attempts}:${job.deferrals}:${job.nextAttemptAt.toMillis()}`);

export type DispatchOutcome = "enqueued" | "exists" | "not_queued";

/** Dispatches a job in the state given; a job not queued needs no task. */
async function dispatchJob(
  deps: DispatchDeps,
  jobId: string,
  job: Pick<Job, "status" | "providerId" | "type" | "attempts" | "deferrals" | "nextAttemptAt">,
): Promise<DispatchOutcome> {
  if (job.status !== "queued") {
    return "not_queued";
  }
  const id = taskId(jobId, job);
  // A due time in the past is "now" to Cloud Tasks.
  return deps.queues(
    job.providerId,
    { jobId, taskId: id },
    {
      id,
      scheduleTime: job.nextAttemptAt.toDate(),
      queue: queueOf(job.type),
    },
  );
}

/**
 * Dispatches the job of a snapshot (the trigger's created document, a page of the sweep). A
 * document that fails validation is dispatched too, named after its update time, so that the
 * run's claim fails it `permanent` and reports why (`invalid` only when not even its platform
 * can be read: no queue can take it). An enqueue failure throws.
 */
export async function dispatchSnapshot(
  deps: DispatchDeps,
  snapshot: DocumentSnapshot,
): Promise<DispatchOutcome | "invalid"> {
  if (!snapshot.exists) {
    return "not_queued";
  }
  const parsed = jobSchema.safeParse(snapshot.data());
  if (parsed.success) {
    return dispatchJob(deps, snapshot.id, parsed.data);
  }
  const providerId = z.enum(PROVIDER_IDS).safeParse(snapshot.get("providerId"));
  if (!providerId.success || snapshot.get("status") !== "queued") {
    return providerId.success ? "not_queued" : "invalid";
  }
  const id = hashed(`${snapshot.id}:invalid:${snapshot.updateTime?.toMillis() ?? 0}`);
  return deps.queues(
    providerId.data,
    { jobId: snapshot.id, taskId: id },
    { id, scheduleTime: deps.clock(), queue: queueOf(snapshot.get("type")) },
  );
}

export interface DispatchCounts {
  enqueued: number;
  exists: number;
  notQueued: number;
  /** Documents that failed validation: left for the run that claims them to fail and report. */
  invalid: number;
  /** Enqueues that threw; the job stays queued and the sweep dispatches it again. */
  errored: Array<{ jobId: string; error: string }>;
}

const emptyDispatchCounts = (): DispatchCounts => ({
  enqueued: 0,
  exists: 0,
  notQueued: 0,
  invalid: 0,
  errored: [],
});

/** Enough to diagnose from an event; the log has every one. */
const MAX_NAMED = 20;
const PARALLELISM = 20;

/** Dispatches each job of the snapshots in its current state, isolating every failure. */
async function dispatchSnapshots(
  deps: DispatchDeps,
  snapshots: readonly DocumentSnapshot[],
  counts: DispatchCounts,
): Promise<void> {
  for (let i = 0; i < snapshots.length; i += PARALLELISM) {
    await Promise.all(
      snapshots.slice(i, i + PARALLELISM).map(async (snapshot) => {
        try {
          const outcome = await dispatchSnapshot(deps, snapshot);
          counts[outcome === "not_queued" ? "notQueued" : outcome] += 1;
        } catch (error) {
          if (counts.errored.length < MAX_NAMED) {
            const message = error instanceof Error ? error.message : String(error);
            counts.errored.push({ jobId: snapshot.id, error: message.slice(0, 300) });
          }
        }
      }),
    );
  }
}

/** Reads the jobs and dispatches those still queued (after a requeue, a stale reset). */
export async function dispatchJobs(
  deps: DispatchDeps,
  jobIds: readonly string[],
): Promise<DispatchCounts> {
  const counts = emptyDispatchCounts();
  for (let i = 0; i < jobIds.length; i += 100) {
    const refs = jobIds.slice(i, i + 100).map((id) => jobRef(deps.db, id));
    if (refs.length > 0) {
      await dispatchSnapshots(deps, await deps.db.getAll(...refs), counts);
    }
  }
  return counts;
}

/**
 * The sweep's safety net: the oldest due queued jobs, dispatched again. Their tasks normally
 * exist (`exists`, one cheap call each); a job whose dispatch was lost — the trigger's retries
 * exhausted, a requeue whose enqueue failed — gets its task here. Oldest first, so a lost job,
 * being old, is reached even behind a backlog once the queue drains to it.
 */
export async function dispatchDueJobs(deps: DispatchDeps, limit: number): Promise<DispatchCounts> {
  const counts = emptyDispatchCounts();
  const due = await jobQueries.due(deps.db, deps.clock(), limit).get();
  await dispatchSnapshots(deps, due.docs, counts);
  return counts;
}

/** Thrown to have Cloud Tasks deliver the task again later (its `retryConfig` backoff). */
export class RedeliverTask extends Error {
  override name = "RedeliverTask";
}

/**
 * A platform task's run (`triggers/tasks.ts`): the job, then, when the run requeued it (a retry,
 * a platform's wait), its next task, scheduled for its due time. A run that could not claim the
 * job looks at why: running or finished elsewhere (a duplicate delivery), nothing to do; queued
 * in a newer state, that state's task is made sure of; queued in the task's own state but not
 * yet due (the instance's clock behind Cloud Tasks'), the task is redelivered — its name stays
 * taken for an hour after it ran, so no other path could dispatch that state meanwhile.
 */
export async function runDispatchedJob(
  deps: ProcessDeps & DispatchDeps,
  task: JobTask,
): Promise<RunOutcome> {
  const startedAt = deps.clock();
  const run = await runJob(deps, task.jobId);
  if (run.backfill) {
    // One event per backfill run (a bounded run every few minutes per backfill, not per sync):
    // operators follow a backfill's pace from the events as from the status endpoint.
    const counts = emptyCounts();
    counts.processed = 1;
    counts.succeeded = run.outcome === "succeeded" ? 1 : 0;
    counts.retried = run.outcome === "retry_scheduled" ? 1 : 0;
    counts.failed = run.outcome === "failed" ? 1 : 0;
    await recordEvent(deps.db, {
      operation: "backfill_run",
      source: "cloud-tasks",
      startedAt,
      finishedAt: deps.clock(),
      counts,
      errors: run.errorCode
        ? [{ provider: run.backfill.providerId, code: run.errorCode, count: 1 }]
        : [],
      details: { jobId: task.jobId, ...run.backfill, nextJobId: run.nextJobId ?? null },
    });
  }
  if (run.nextJobId !== undefined) {
    // The backfill's next run, at once rather than when its creation's trigger fires (which
    // dispatches it too: the same state, the same task name).
    await dispatchJobs(deps, [run.nextJobId]);
  }
  if (run.outcome !== "retry_scheduled" && run.outcome !== "not_claimed") {
    return run;
  }
  const snapshot = await jobRef(deps.db, task.jobId).get();
  const parsed = jobSchema.safeParse(snapshot.data());
  if (!parsed.success || parsed.data.status !== "queued") {
    return run;
  }
  if (taskId(task.jobId, parsed.data) === task.taskId) {
    throw new RedeliverTask(
      `job ${task.jobId} is not due until ${parsed.data.nextAttemptAt.toDate().toISOString()}`,
    );
  }
  await dispatchJob(deps, task.jobId, parsed.data);
  return run;
}
