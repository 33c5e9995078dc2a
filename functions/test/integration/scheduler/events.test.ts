/**
 * Every scheduler operation records one event with the figures operators read: operation and
 * source, counts, duration, errors grouped by platform and class, details, and the TTL expiry.
 */
import { randomUUID } from "node:crypto";

import { Timestamp } from "firebase-admin/firestore";

import { DEFAULT_LEASE_MS } from "../../../src/jobs/lease";
import type { MetricsFetcher, ProcessDeps } from "../../../src/jobs/process";
import { jobRef, RETENTION_MS } from "../../../src/jobs/store";
import { ProviderError } from "../../../src/providers/errors";
import { EVENTS_COLLECTION } from "../../../src/scheduler/events";
import {
  cleanupOperation,
  enqueueAllOperation,
  enqueueOperation,
  type OperationDeps,
  type OperationResult,
  processCreatedJobOperation,
  processUserOperation,
  resetStaleOperation,
  sweepOperation,
} from "../../../src/scheduler/operations";
import { recordingLogger, twoRowFetcher } from "../../harness/auth";
import { type TestFirestore, testFirestore } from "../../harness/firestore";
import { manualClock, seedIntegration, TEST_TOKEN_KEYS } from "../../harness/seed";
import { seededJob } from "./seeded-jobs";

let firestore: TestFirestore;
const time = manualClock();

/** Meta fails (rate limited, retried later); every other platform answers. */
const fetcher: MetricsFetcher = (providerId, request) =>
  providerId === "meta"
    ? Promise.reject(new ProviderError("meta", "rate_limited", "meta_code_17", "slow down", 60_000))
    : twoRowFetcher(providerId, request);

const deps = (): ProcessDeps & OperationDeps => ({
  db: firestore.db,
  clock: time.clock,
  logger: recordingLogger(),
  fetchMetrics: fetcher,
  owner: `test-${randomUUID()}`,
  leaseMs: DEFAULT_LEASE_MS,
  tokenKeys: TEST_TOKEN_KEYS,
  env: {},
});

beforeEach(() => {
  firestore = testFirestore("events");
});
afterEach(() => firestore.close());

async function eventOf(result: OperationResult) {
  const snapshot = await firestore.db.collection(EVENTS_COLLECTION).doc(result.eventId).get();
  return snapshot.data() ?? {};
}

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
    const [jobId] = scheduled.jobIds;
    const results = [
      scheduled,
      await processCreatedJobOperation(deps(), jobId!, "google"),
      await enqueueAllOperation(deps(), "cloud-scheduler", {
        jobType: "manual-sync",
        timeframeDays: 1,
        maxUsers: 10,
      }),
      await processUserOperation(deps(), "process-endpoint", "bob", 5),
      await sweepOperation(deps(), "worker-endpoint", { maxJobs: 5, maxUsers: 10 }),
      await resetStaleOperation(deps(), "cron-endpoint"),
      await cleanupOperation(deps(), "cloud-scheduler"),
    ];

    const events = await Promise.all(results.map(eventOf));
    expect(events.map((event) => [event.operation as string, event.source as string])).toEqual([
      ["schedule", "admin"],
      ["process_job", "trigger"],
      ["process_all_users", "cloud-scheduler"],
      ["process_user_jobs", "process-endpoint"],
      ["process_queued_jobs", "worker-endpoint"],
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
    expect(results[2]!.counts.queued).toBe(3);
    expect(results[3]!.counts).toMatchObject({ processed: 1, succeeded: 1 });
    const sweep = results[4]!;
    expect(sweep.counts).toMatchObject({ processed: 2, succeeded: 1, retried: 1 });
    expect(sweep.errors).toEqual([{ provider: "meta", code: "rate_limited", count: 1 }]);
    expect(events[4]?.queue).toMatchObject({ queued: 1, running: 0, stale: 0 });
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
