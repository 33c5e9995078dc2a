/**
 * Dispatch against the official Firestore emulator: which task each job state gets, and what a
 * task's run does when it finds the job in another state. Cloud Tasks is the recording stand-in
 * of `harness/tasks.ts` (names used once); the end-to-end tests run the real emulator.
 */
import { randomUUID } from "node:crypto";

import { Timestamp } from "firebase-admin/firestore";

import {
  dispatchJobs,
  dispatchSnapshot,
  RedeliverTask,
  runDispatchedJob,
  taskId,
} from "../../../src/jobs/dispatch";
import { DEFAULT_LEASE_MS } from "../../../src/jobs/lease";
import { JOBS_COLLECTION, type JobType } from "../../../src/jobs/model";
import type { MetricsFetcher, ProcessDeps } from "../../../src/jobs/process";
import { claimJob, enqueueJobs, jobRef, parseJob } from "../../../src/jobs/store";
import { ProviderError } from "../../../src/providers/errors";
import { resetStaleOperation } from "../../../src/scheduler/operations";
import { recordingLogger, twoRowFetcher } from "../../harness/auth";
import { type TestFirestore, testFirestore } from "../../harness/firestore";
import { manualClock, seedIntegration, TEST_TOKEN_KEYS } from "../../harness/seed";
import { type RecordingQueues, recordingQueues } from "../../harness/tasks";

let firestore: TestFirestore;
let time: ReturnType<typeof manualClock>;
let queues: RecordingQueues;
let users = 0;

beforeAll(() => {
  firestore = testFirestore("dispatch");
});
afterAll(() => firestore.close());
beforeEach(() => {
  time = manualClock();
  queues = recordingQueues();
});

const deps = (
  fetchMetrics: MetricsFetcher = twoRowFetcher,
): ProcessDeps & {
  queues: RecordingQueues["queues"];
  env: Record<string, string>;
} => ({
  db: firestore.db,
  clock: time.clock,
  logger: recordingLogger(),
  fetchMetrics,
  owner: `test-${randomUUID()}`,
  leaseMs: DEFAULT_LEASE_MS,
  tokenKeys: TEST_TOKEN_KEYS,
  queues: queues.queues,
  env: {},
});

async function queuedJob(type: JobType = "manual-sync"): Promise<string> {
  const userId = `dispatch-user-${(users += 1)}`;
  await seedIntegration(firestore.db, { userId, providerId: "meta" });
  const [outcome] = await enqueueJobs(deps(), [
    { userId, providerId: "meta", type, timeframeDays: 1, source: "test" },
  ]);
  if (outcome?.status !== "queued") {
    throw new Error("expected a queued job");
  }
  return outcome.jobId;
}

const snapshot = (jobId: string) => jobRef(firestore.db, jobId).get();
const readJob = async (jobId: string) => parseJob(jobId, (await snapshot(jobId)).data()).job;

describe("dispatching a job", () => {
  it("creates one task per queued state, on the platform's queue, for the job's due time", async () => {
    const jobId = await queuedJob();
    const job = await readJob(jobId);
    expect(await dispatchSnapshot(deps(), await snapshot(jobId))).toBe("enqueued");
    // A duplicate delivery of the trigger's event, and the sweep: the same name, so no task.
    expect(await dispatchSnapshot(deps(), await snapshot(jobId))).toBe("exists");
    expect(await dispatchJobs(deps(), [jobId])).toMatchObject({ enqueued: 0, exists: 1 });
    expect(queues.tasks).toEqual([
      {
        providerId: "meta",
        task: { jobId, taskId: taskId(jobId, job) },
        id: taskId(jobId, job),
        scheduleTime: job.nextAttemptAt.toDate(),
        queue: "sync",
      },
    ]);
    expect(taskId(jobId, job)).toMatch(/^[0-9a-f]{40}$/);
  });

  it("sends a backfill run to its platform's backfill queue, every other job to the sync queue", async () => {
    const backfill = await queuedJob("initial-backfill");
    const sync = await queuedJob();
    expect(await dispatchJobs(deps(), [backfill, sync])).toMatchObject({ enqueued: 2 });
    expect(queues.tasks.map((task) => [task.task.jobId, task.queue])).toEqual([
      [backfill, "backfill"],
      [sync, "sync"],
    ]);
  });

  it("gives a running or finished job no task", async () => {
    const jobId = await queuedJob();
    await claimJob(deps(), jobId, "a-worker", DEFAULT_LEASE_MS);
    expect(await dispatchSnapshot(deps(), await snapshot(jobId))).toBe("not_queued");
    expect(queues.tasks).toEqual([]);
  });

  it("dispatches a document that fails validation, so that the run's claim fails it and says why", async () => {
    const ref = firestore.db.collection(JOBS_COLLECTION).doc();
    await ref.create({ providerId: "google", status: "queued", attempts: "many" });
    expect(await dispatchSnapshot(deps(), await ref.get())).toBe("enqueued");
    const [task] = queues.tasks;
    const run = await runDispatchedJob(deps(), task!.task);
    expect(run).toMatchObject({ outcome: "invalid_document", errorCode: "permanent" });
    expect((await ref.get()).get("status")).toBe("failed");
  });

  it("cannot dispatch a document whose platform it cannot read", async () => {
    const ref = firestore.db.collection(JOBS_COLLECTION).doc();
    await ref.create({ providerId: "myspace", status: "queued" });
    expect(await dispatchSnapshot(deps(), await ref.get())).toBe("invalid");
    expect(queues.tasks).toEqual([]);
  });

  it("reports an enqueue that failed and goes on with the others", async () => {
    const [first, second] = [await queuedJob(), await queuedJob()];
    queues.failNext(1);
    const counts = await dispatchJobs(deps(), [first, second]);
    expect(counts.enqueued).toBe(1);
    expect(counts.errored).toEqual([
      { jobId: expect.any(String) as string, error: "Cloud Tasks is unavailable" },
    ]);
  });
});

describe("a task's run", () => {
  it("runs the job, and a requeued job gets its next task at its new due time", async () => {
    const failing: MetricsFetcher = () =>
      Promise.reject(new ProviderError("meta", "transient", "meta_code_2", "try again"));
    const jobId = await queuedJob();
    await dispatchSnapshot(deps(), await snapshot(jobId));
    const run = await runDispatchedJob(deps(failing), queues.tasks[0]!.task);
    expect(run.outcome).toBe("retry_scheduled");
    const requeued = await readJob(jobId);
    expect(requeued.nextAttemptAt.toMillis()).toBeGreaterThan(time.clock().getTime());
    expect(queues.tasks).toHaveLength(2);
    expect(queues.tasks[1]).toEqual({
      providerId: "meta",
      task: { jobId, taskId: taskId(jobId, requeued) },
      id: taskId(jobId, requeued),
      scheduleTime: requeued.nextAttemptAt.toDate(),
      queue: "sync",
    });
    expect(queues.tasks[1]!.id).not.toBe(queues.tasks[0]!.id);

    // The retry's task, at its time: the job succeeds and needs no further task.
    time.set(requeued.nextAttemptAt.toDate().toISOString());
    expect((await runDispatchedJob(deps(), queues.tasks[1]!.task)).outcome).toBe("succeeded");
    expect(queues.tasks).toHaveLength(2);
  });

  it("has a task that came before its job's due time redelivered, and does nothing else", async () => {
    const jobId = await queuedJob();
    await jobRef(firestore.db, jobId).update({
      nextAttemptAt: Timestamp.fromMillis(time.clock().getTime() + 60_000),
    });
    await dispatchSnapshot(deps(), await snapshot(jobId));
    await expect(runDispatchedJob(deps(), queues.tasks[0]!.task)).rejects.toBeInstanceOf(
      RedeliverTask,
    );
    expect(await readJob(jobId)).toMatchObject({ status: "queued", attempts: 0 });
    expect(queues.tasks).toHaveLength(1);
  });

  it("makes sure of the current state's task when it was made for an older one", async () => {
    const jobId = await queuedJob();
    await dispatchSnapshot(deps(), await snapshot(jobId));
    const stale = queues.tasks[0]!.task;
    // Another path requeued the job for later (a new state) before this task ran.
    await jobRef(firestore.db, jobId).update({
      deferrals: 1,
      nextAttemptAt: Timestamp.fromMillis(time.clock().getTime() + 60_000),
    });
    expect((await runDispatchedJob(deps(), stale)).outcome).toBe("not_claimed");
    expect(queues.tasks).toHaveLength(2);
    expect(queues.tasks[1]!.id).toBe(taskId(jobId, await readJob(jobId)));
  });

  it("of a job already finished (a duplicate delivery) does nothing", async () => {
    const jobId = await queuedJob();
    await dispatchSnapshot(deps(), await snapshot(jobId));
    const { task } = queues.tasks[0]!;
    expect((await runDispatchedJob(deps(), task)).outcome).toBe("succeeded");
    expect((await runDispatchedJob(deps(), task)).outcome).toBe("not_claimed");
    expect(queues.tasks).toHaveLength(1);
  });
});

it("the stale reset gives each job it requeues its task", async () => {
  const jobId = await queuedJob();
  await claimJob(deps(), jobId, "a-worker-that-died", 60_000);
  time.advance(2 * 60_000);
  const result = await resetStaleOperation(deps(), "test");
  expect(result.details).toMatchObject({ requeued: 1 });
  const requeued = await readJob(jobId);
  expect(queues.tasks).toEqual([
    {
      providerId: "meta",
      task: { jobId, taskId: taskId(jobId, requeued) },
      id: taskId(jobId, requeued),
      scheduleTime: requeued.nextAttemptAt.toDate(),
      queue: "sync",
    },
  ]);
});
