/**
 * Every scheduler operation records one event with the figures operators read: operation and
 * source, counts, duration, errors grouped by platform and class, details, and the TTL expiry.
 * A job run on a platform queue records none: the scheduled sweep's event aggregates them.
 */
import { randomUUID } from "node:crypto";

import { Timestamp } from "firebase-admin/firestore";

import { type DispatchDeps, dispatchJobs, runDispatchedJob } from "../../../src/jobs/dispatch";
import { DEFAULT_LEASE_MS } from "../../../src/jobs/lease";
import type { MetricsFetcher, ProcessDeps } from "../../../src/jobs/process";
import { jobRef, RETENTION_MS } from "../../../src/jobs/store";
import { ProviderError } from "../../../src/providers/errors";
import { EVENTS_COLLECTION } from "../../../src/scheduler/events";
import {
  cleanupOperation,
  dispatchSweepOperation,
  enqueueAllOperation,
  enqueueOperation,
  type OperationDeps,
  type OperationResult,
  processUserOperation,
  resetStaleOperation,
  sweepOperation,
} from "../../../src/scheduler/operations";
import { recordingLogger, twoRowFetcher } from "../../harness/auth";
import { type TestFirestore, testFirestore } from "../../harness/firestore";
import { manualClock, seedIntegration, TEST_TOKEN_KEYS } from "../../harness/seed";
import { type RecordingQueues, recordingQueues } from "../../harness/tasks";
import { seededJob } from "./seeded-jobs";

let firestore: TestFirestore;
let cloudTasks: RecordingQueues;
const time = manualClock();

/** Meta fails (rate limited, retried later); every other platform answers. */
const fetcher: MetricsFetcher = (providerId, request) =>
  providerId === "meta"
    ? Promise.reject(new ProviderError("meta", "rate_limited", "meta_code_17", "slow down", 60_000))
    : twoRowFetcher(providerId, request);

const deps = (): ProcessDeps & OperationDeps & DispatchDeps => ({
  db: firestore.db,
  clock: time.clock,
  queues: cloudTasks.queues,
  logger: recordingLogger(),
  fetchMetrics: fetcher,
  owner: `test-${randomUUID()}`,
  leaseMs: DEFAULT_LEASE_MS,
  tokenKeys: TEST_TOKEN_KEYS,
  env: {},
});

beforeEach(() => {
  firestore = testFirestore("events");
  cloudTasks = recordingQueues();
});
afterEach(() => firestore.close());

async function eventOf(result: OperationResult) {
  const snapshot = await firestore.db.collection(EVENTS_COLLECTION).doc(result.eventId).get();
  return snapshot.data() ?? {};
}

const SWEEP = { maxJobs: 50, windowMs: 5 * 60_000 };

const manual = (userId: string, providerId: "google" | "meta") => ({
  userId,
  providerId,
  type: "manual-sync" as const,
  timeframeDays: 1,
  source: "test",
});

describe("scheduler events", () => {
  it("are recorded by every operation with counts, duration, source and expiry", async () => {
    await seedIntegration(firestore.db, { userId: "alice", providerId: "google" });
    await seedIntegration(firestore.db, { userId: "alice", providerId: "meta" });
    await seedIntegration(firestore.db, { userId: "bob", providerId: "google" });

    const scheduled = await enqueueOperation(deps(), "admin", [manual("alice", "google")]);
    // Its task, as the job trigger dispatches it, run as the platform queue runs it: no event.
    await dispatchJobs(deps(), scheduled.jobIds);
    const [task] = cloudTasks.tasks;
    expect(await runDispatchedJob(deps(), task!.task)).toEqual({ outcome: "succeeded" });
    expect((await firestore.db.collection(EVENTS_COLLECTION).get()).size).toBe(1);
    const results = [
      scheduled,
      await enqueueAllOperation(deps(), "cloud-scheduler", {
        jobType: "manual-sync",
        timeframeDays: 1,
        maxUsers: 10,
      }),
      await processUserOperation(deps(), "process-endpoint", "bob", 5),
      await sweepOperation(deps(), "worker-endpoint", { maxJobs: 5, maxUsers: 10 }),
      await dispatchSweepOperation(deps(), "cloud-scheduler", SWEEP),
      await resetStaleOperation(deps(), "cron-endpoint"),
      await cleanupOperation(deps(), "cloud-scheduler"),
    ];

    const events = await Promise.all(results.map(eventOf));
    expect(events.map((event) => [event.operation as string, event.source as string])).toEqual([
      ["schedule", "admin"],
      ["process_all_users", "cloud-scheduler"],
      ["process_user_jobs", "process-endpoint"],
      ["process_queued_jobs", "worker-endpoint"],
      ["process_queued_jobs", "cloud-scheduler"],
      ["reset_stale_jobs", "cron-endpoint"],
      ["cleanup_old_jobs", "cloud-scheduler"],
    ]);
    events.forEach((event, index) => {
      const result = results[index]!;
      expect(event).toMatchObject({
        outcome: "completed",
        counts: result.counts,
        errors: result.errors,
        durationMs: result.durationMs,
      });
      expect(Object.keys(event.counts as object).sort()).toEqual(
        ["failed", "processed", "queued", "retried", "skipped", "succeeded"].sort(),
      );
      const createdAt = (event.createdAt as Timestamp).toMillis();
      expect((event.expireAt as Timestamp).toMillis()).toBe(createdAt + RETENTION_MS);
    });

    // The enqueue for all users queued three jobs; bob's ran through the process endpoint, the
    // sweep ran alice's two, and meta's rate limit put its job back in the queue.
    expect(results[1]!.counts.queued).toBe(3);
    expect(results[2]!.counts).toMatchObject({ processed: 1, succeeded: 1 });
    const sweep = results[3]!;
    expect(sweep.counts).toMatchObject({ processed: 2, succeeded: 1, retried: 1 });
    expect(sweep.errors).toEqual([{ provider: "meta", code: "rate_limited", count: 1 }]);
    expect(events[3]?.queue).toMatchObject({ queued: 1, running: 0, stale: 0 });
    // The scheduled sweep: meta's job is not due yet; its deferred attempt is a failed attempt
    // of the window, which the alerts judge.
    const scheduledSweep = results[4]!;
    expect(scheduledSweep.counts).toMatchObject({ queued: 0, skipped: 0, failed: 1 });
    expect(scheduledSweep.errors).toEqual([{ provider: "meta", code: "rate_limited", count: 1 }]);
    expect(scheduledSweep.details).toEqual({
      dispatched: { enqueued: 0, exists: 0, notQueued: 0, invalid: 0, errored: 0 },
      finished: { since: "2026-11-28T02:55:00.000Z", failed: 1, capped: false },
    });
    expect(events[4]?.details).toEqual(scheduledSweep.details);
  });

  it("of the scheduled sweep: a due job whose task was lost is dispatched, one whose task exists is counted", async () => {
    await seedIntegration(firestore.db, { userId: "dora", providerId: "google" });
    await seedIntegration(firestore.db, { userId: "emil", providerId: "google" });
    const [kept, lost] = (
      await enqueueOperation(deps(), "admin", [manual("dora", "google"), manual("emil", "google")])
    ).jobIds;
    // The trigger dispatched the first job; the second's enqueue failed (Cloud Tasks unavailable).
    expect((await dispatchJobs(deps(), [kept!])).enqueued).toBe(1);
    cloudTasks.failNext(1);
    expect((await dispatchJobs(deps(), [lost!])).errored).toHaveLength(1);
    expect(cloudTasks.tasks.map(({ task }) => task.jobId)).toEqual([kept]);

    const sweep = await dispatchSweepOperation(deps(), "cloud-scheduler", SWEEP);

    expect(sweep.counts).toMatchObject({ queued: 1, skipped: 1 });
    expect(sweep.details).toMatchObject({
      dispatched: { enqueued: 1, exists: 1, notQueued: 0, invalid: 0, errored: 0 },
    });
    expect((await eventOf(sweep)).details).toEqual(sweep.details);
    expect(cloudTasks.tasks.map(({ task }) => task.jobId)).toEqual([kept, lost]);
    // The recovered task runs the job.
    expect(await runDispatchedJob(deps(), cloudTasks.tasks[1]!.task)).toEqual({
      outcome: "succeeded",
    });
  });

  it("are recorded for a run that throws, which still throws", async () => {
    // A user id that is no document path: the store refuses it before any write.
    await expect(
      enqueueOperation(deps(), "admin", [manual("not/a-uid", "google")]),
    ).rejects.toThrow();
    const events = await firestore.db.collection(EVENTS_COLLECTION).get();
    expect(events.docs.map((doc) => doc.data())).toEqual([
      expect.objectContaining({ operation: "schedule", source: "admin", outcome: "crashed" }),
    ]);
  });

  it("report a job document the store cannot read, fail it permanent and go on with the batch", async () => {
    await seedIntegration(firestore.db, { userId: "carol", providerId: "google" });
    const [good] = (await enqueueOperation(deps(), "admin", [manual("carol", "google")])).jobIds;
    await jobRef(firestore.db, "broken").set({
      ...seededJob(time.clock(), {}),
      // Older than the good job, so the sweep meets it first; a field of newer code rides along.
      nextAttemptAt: Timestamp.fromMillis(time.clock().getTime() - 3_600_000),
      providerId: "myspace",
      addedByNewerCode: { keep: true },
    });
    const sweep = await sweepOperation(deps(), "cloud-scheduler", { maxJobs: 5, maxUsers: 5 });
    expect(sweep.counts).toMatchObject({ processed: 1, succeeded: 1, failed: 1 });
    expect(sweep.jobIds).toEqual([good]);
    expect(sweep.errors).toEqual([{ provider: "myspace", code: "invalid_document", count: 1 }]);
    expect(sweep.details).toEqual({
      invalidJobs: [{ jobId: "broken", issues: expect.stringContaining("providerId") as unknown }],
    });
    const broken = (await jobRef(firestore.db, "broken").get()).data() ?? {};
    expect(broken).toMatchObject({
      status: "failed",
      providerId: "myspace",
      addedByNewerCode: { keep: true },
      lastError: { code: "permanent", reason: "invalid_document" },
    });
    expect((await eventOf(sweep)).details).toEqual(sweep.details);
  });
});
