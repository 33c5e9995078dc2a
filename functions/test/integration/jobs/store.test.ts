/** The job store's transitions against the official Firestore emulator. */
import { Timestamp } from "firebase-admin/firestore";

import { integrationPath, integrationSchema } from "../../../src/integrations/model";
import { DEFAULT_LEASE_MS } from "../../../src/jobs/lease";
import { JOBS_COLLECTION } from "../../../src/jobs/model";
import { enqueueAllUsers } from "../../../src/jobs/schedule";
import {
  claimJob,
  completeJob,
  enqueueJobs,
  failJob,
  jobRef,
  parseJob,
  resetStaleJobs,
  type StoreDeps,
} from "../../../src/jobs/store";
import { cleanupOldJobs } from "../../../src/jobs/worker";
import { emptyCounts, EVENTS_COLLECTION, recordEvent } from "../../../src/scheduler/events";
import { type TestFirestore, testFirestore } from "../../harness/firestore";
import { finishJob, manualClock, seedIntegration } from "../../harness/seed";

let firestore: TestFirestore;
let deps: StoreDeps;
let time: ReturnType<typeof manualClock>;
let userCounter = 0;
const newUser = () => `user-${(userCounter += 1)}`;

beforeAll(() => {
  firestore = testFirestore("store");
});
afterAll(() => firestore.close());
beforeEach(() => {
  time = manualClock();
  deps = { db: firestore.db, clock: time.clock };
});

const readJob = async (id: string) =>
  parseJob(id, (await jobRef(firestore.db, id).get()).data()).job;
const readIntegration = async (userId: string, providerId: "google" | "meta" = "google") =>
  integrationSchema.parse(
    (await firestore.db.doc(integrationPath(userId, providerId)).get()).data(),
  );

const manual = (userId: string) => ({
  userId,
  providerId: "google" as const,
  type: "manual-sync" as const,
  timeframeDays: 7,
  source: "test",
});

const queuedJob = async (userId: string) => {
  await seedIntegration(firestore.db, { userId, providerId: "google" });
  const [outcome] = await enqueueJobs(deps, [manual(userId)]);
  if (outcome?.status !== "queued") {
    throw new Error("expected a queued job");
  }
  return outcome.jobId;
};

describe("enqueueJobs", () => {
  it("creates a queued job and marks it active on the integration", async () => {
    const userId = newUser();
    const jobId = await queuedJob(userId);
    const job = await readJob(jobId);
    expect(job).toMatchObject({ status: "queued", userId, providerId: "google", attempts: 0 });
    const integration = await readIntegration(userId);
    expect(integration.activeJobId).toBe(jobId);
    expect(integration.lastSyncRequestedAt?.toDate()).toEqual(time.clock());
  });

  it("returns the existing active job for a repeated manual request", async () => {
    const userId = newUser();
    const jobId = await queuedJob(userId);
    const [again] = await enqueueJobs(deps, [manual(userId)]);
    expect(again).toMatchObject({ status: "existing", jobId });
  });

  it("enqueues a scheduled slot once however often it is requested", async () => {
    const userId = newUser();
    await seedIntegration(firestore.db, { userId, providerId: "google" });
    const scheduled = { ...manual(userId), type: "scheduled-sync" as const, slot: "24h-1" };
    const [first] = await enqueueJobs(deps, [scheduled]);
    expect(first?.status).toBe("queued");
    // The first job finishes; the same slot fired again must not enqueue another.
    const jobId = first?.status === "queued" ? first.jobId : "";
    await finishJob(deps, jobId);
    const [second] = await enqueueJobs(deps, [scheduled]);
    expect(second).toMatchObject({ status: "skipped", reason: "already_scheduled" });
  });

  it("skips missing and inactive integrations", async () => {
    const userId = newUser();
    await seedIntegration(firestore.db, { userId, providerId: "meta", status: "needs_reauth" });
    const outcomes = await enqueueJobs(deps, [
      manual(userId),
      { ...manual(userId), providerId: "meta" },
    ]);
    expect(outcomes.map((o) => (o.status === "skipped" ? o.reason : o.status))).toEqual([
      "no_integration",
      "integration_inactive",
    ]);
  });

  it("creates one job when the same integration is requested twice in one call", async () => {
    const userId = newUser();
    await seedIntegration(firestore.db, { userId, providerId: "google" });
    const [a, b] = await enqueueJobs(deps, [manual(userId), manual(userId)]);
    expect(a?.status).toBe("queued");
    expect(b).toMatchObject({ status: "existing", jobId: a?.status === "queued" ? a.jobId : "" });
  });

  it("fans out in transactions of 100 and stays idempotent under concurrent runs", async () => {
    const users = Array.from({ length: 120 }, () => newUser());
    await Promise.all(
      users.map((userId) => seedIntegration(firestore.db, { userId, providerId: "google" })),
    );
    const requests = users.map((userId) => ({
      ...manual(userId),
      type: "scheduled-sync" as const,
      slot: "24h-7",
    }));
    const [first, second] = await Promise.all([
      enqueueJobs(deps, requests),
      enqueueJobs(deps, requests),
    ]);
    const queued = [...first, ...second].filter((o) => o.status === "queued");
    expect(queued).toHaveLength(120);
    const jobs = await firestore.db
      .collection(JOBS_COLLECTION)
      .where("userId", "in", users.slice(0, 30))
      .get();
    expect(jobs.size).toBe(30);
  });
});

describe("enqueueAllUsers", () => {
  it("honours autoSync off and bounds the scan by maxUsers with a cursor", async () => {
    const db = testFirestore("fanout");
    try {
      const fanDeps = { db: db.db, clock: time.clock };
      for (const userId of ["u1", "u2", "u3"]) {
        await seedIntegration(db.db, { userId, providerId: "google" });
        await seedIntegration(db.db, {
          userId,
          providerId: "meta",
          automation: { autoSync: userId !== "u2" },
        });
      }
      const options = {
        jobType: "scheduled-sync" as const,
        timeframeDays: 1,
        source: "test",
        maxUsers: 2,
        deadline: new Date("2100-01-01T00:00:00Z"),
      };
      const first = await enqueueAllUsers(fanDeps, options);
      expect(first.users).toBe(2);
      expect(first.autoSyncOff).toBe(1);
      expect(first.outcomes.filter((o) => o.status === "queued")).toHaveLength(3);
      expect(first.nextCursor).toBe("users/u2/integrations/meta");

      const rest = await enqueueAllUsers(fanDeps, { ...options, cursor: first.nextCursor ?? "" });
      expect(rest.users).toBe(1);
      expect(rest.outcomes.map((o) => [o.userId, o.status])).toEqual([
        ["u3", "queued"],
        ["u3", "queued"],
      ]);
      expect(rest.nextCursor).toBeNull();

      // The same slot again (a second scheduler firing): nothing new.
      const again = await enqueueAllUsers(fanDeps, { ...options, maxUsers: 10 });
      expect(again.outcomes.filter((o) => o.status === "queued")).toHaveLength(0);
    } finally {
      await db.close();
    }
  });
});

describe("claim, complete, fail", () => {
  it("lets exactly one of many concurrent claimers win", async () => {
    const jobId = await queuedJob(newUser());
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => claimJob(deps, jobId, `worker-${i}`, 60_000)),
    );
    const winners = results.filter((result) => result !== undefined);
    expect(winners).toHaveLength(1);
    const job = await readJob(jobId);
    expect(job.status).toBe("running");
    expect(job.attempts).toBe(1);
    expect(job.leaseOwner).toBe(winners[0]?.job.leaseOwner);
  });

  it("does not claim a job before its nextAttemptAt", async () => {
    const jobId = await queuedJob(newUser());
    await jobRef(firestore.db, jobId).update({
      nextAttemptAt: Timestamp.fromMillis(time.clock().getTime() + 60_000),
    });
    expect(await claimJob(deps, jobId, "w", 60_000)).toBeUndefined();
    time.advance(60_000);
    expect(await claimJob(deps, jobId, "w", 60_000)).toBeDefined();
  });

  it("lets only the lease owner finish the job", async () => {
    const userId = newUser();
    const jobId = await queuedJob(userId);
    await claimJob(deps, jobId, "owner", 60_000);
    const result = {
      since: "2026-11-21",
      until: "2026-11-28",
      rowsFetched: 3,
      rowsWritten: 3,
      rowsUnchanged: 0,
      rowsZeroed: 0,
      accounts: [{ accountId: "acct-1", status: "ok" as const, rows: 3 }],
    };
    expect(await completeJob(deps, jobId, "intruder", result)).toBe("lease_lost");
    expect(
      await failJob(deps, jobId, "intruder", { code: "permanent", reason: "x", message: "x" }),
    ).toBe("lease_lost");
    expect(await completeJob(deps, jobId, "owner", result)).toBe("succeeded");
    const job = await readJob(jobId);
    expect(job).toMatchObject({ status: "succeeded", leaseOwner: null, result });
    expect(job.expireAt!.toMillis() - job.finishedAt!.toMillis()).toBe(7 * 86_400_000);
    const integration = await readIntegration(userId);
    expect(integration.activeJobId).toBeNull();
    expect(integration.lastSyncedAt?.toDate()).toEqual(time.clock());
  });

  it("defers a rate-limited run to the platform's wait without spending the attempt", async () => {
    const jobId = await queuedJob(newUser());
    await claimJob(deps, jobId, "w", 60_000);
    const outcome = await failJob(
      deps,
      jobId,
      "w",
      { code: "rate_limited", reason: "http_429", message: "slow down", retryAfterMs: 3_600_000 },
      () => 0,
    );
    expect(outcome).toBe("retry_scheduled");
    const job = await readJob(jobId);
    expect(job).toMatchObject({ status: "queued", attempts: 0, deferrals: 1 });
    expect(job.nextAttemptAt.toMillis() - time.clock().getTime()).toBe(3_600_000);
    expect(job.lastError).toMatchObject({ code: "rate_limited", reason: "http_429" });
  });

  it("keeps deferring past maxAttempts, and fails once the wait bound would pass", async () => {
    const userId = newUser();
    const jobId = await queuedJob(userId);
    await jobRef(firestore.db, jobId).update({ maxAttempts: 2 });
    const createdAt = time.clock().getTime();
    const throttled = {
      code: "rate_limited" as const,
      reason: "meta_code_17",
      message: "user request limit reached",
      retryAfterMs: 47 * 60_000,
    };
    let runs = 0;
    for (;;) {
      expect(await claimJob(deps, jobId, "w", 60_000)).toBeDefined();
      runs += 1;
      if ((await failJob(deps, jobId, "w", throttled, () => 0)) === "failed") {
        break;
      }
      time.set((await readJob(jobId)).nextAttemptAt.toDate().toISOString());
    }
    // 12 h / 47 min: fifteen deferrals fit, the sixteenth would start past the bound.
    expect(runs).toBe(16);
    const job = await readJob(jobId);
    expect(job).toMatchObject({ status: "failed", attempts: 1, deferrals: 15 });
    expect(job.lastError?.message).toContain("wait bound");
    expect(time.clock().getTime() - createdAt).toBeLessThanOrEqual(12 * 3_600_000);
    expect((await readIntegration(userId)).activeJobId).toBeNull();
  });

  it.each([
    ["the longest", () => 1, [2, 4, 8, 16, 32, 60, 60, 60, 60]],
    ["the shortest", () => 0, [1, 2, 4, 8, 16, 30, 30, 30, 30]],
  ])("retries transient failures for hours: %s schedule", async (_which, random, minutes) => {
    const userId = newUser();
    const jobId = await queuedJob(userId);
    const waits: number[] = [];
    for (;;) {
      expect(await claimJob(deps, jobId, "w", 60_000)).toBeDefined();
      const outcome = await failJob(
        deps,
        jobId,
        "w",
        { code: "transient", reason: "http_503", message: "platform down" },
        random,
      );
      if (outcome === "failed") {
        break;
      }
      const next = (await readJob(jobId)).nextAttemptAt.toMillis();
      waits.push((next - time.clock().getTime()) / 60_000);
      time.set(new Date(next).toISOString());
    }
    expect(waits).toEqual(minutes);
    const job = await readJob(jobId);
    expect(job).toMatchObject({ status: "failed", attempts: 10, deferrals: 0 });
    expect(job.lastError?.reason).toBe("http_503");
    expect((await readIntegration(userId)).consecutiveFailures).toBe(1);
  });

  it("fails after maxAttempts and keeps the last error", async () => {
    const userId = newUser();
    const jobId = await queuedJob(userId);
    await jobRef(firestore.db, jobId).update({ maxAttempts: 2 });
    for (let attempt = 1; attempt <= 2; attempt += 1) {
      await claimJob(deps, jobId, "w", 60_000);
      const outcome = await failJob(deps, jobId, "w", {
        code: "transient",
        reason: `http_50${attempt}`,
        message: "platform down",
      });
      expect(outcome).toBe(attempt === 1 ? "retry_scheduled" : "failed");
      time.advance(3_600_000);
    }
    const job = await readJob(jobId);
    expect(job).toMatchObject({ status: "failed", attempts: 2 });
    expect(job.lastError?.reason).toBe("http_502");
    const integration = await readIntegration(userId);
    expect(integration).toMatchObject({ activeJobId: null, consecutiveFailures: 1 });
  });

  it("fails at once on auth and marks the integration needs_reauth", async () => {
    const userId = newUser();
    const jobId = await queuedJob(userId);
    await claimJob(deps, jobId, "w", 60_000);
    const outcome = await failJob(deps, jobId, "w", {
      code: "auth",
      reason: "invalid_grant",
      message: "reconnect",
    });
    expect(outcome).toBe("failed");
    expect((await readIntegration(userId)).status).toBe("needs_reauth");
  });
});

describe("resetStaleJobs", () => {
  it("requeues expired leases, fails spent ones, and leaves fresh leases alone", async () => {
    const db = testFirestore("stale");
    try {
      const staleDeps = { db: db.db, clock: time.clock };
      const ids: string[] = [];
      for (const userId of ["fresh", "expired", "spent", "expired-2", "expired-3"]) {
        await seedIntegration(db.db, { userId, providerId: "google" });
        const [outcome] = await enqueueJobs(staleDeps, [manual(userId)]);
        const id = outcome?.status === "queued" ? outcome.jobId : "";
        ids.push(id);
      }
      const [fresh, expired, spent, ...others] = ids as [string, string, string, ...string[]];
      await db.db.collection(JOBS_COLLECTION).doc(spent).update({ maxAttempts: 1 });
      for (const id of [expired, spent, ...others]) {
        await claimJob(staleDeps, id, "dead-worker", DEFAULT_LEASE_MS);
      }
      time.advance(DEFAULT_LEASE_MS + 1);
      await claimJob(staleDeps, fresh, "live-worker", DEFAULT_LEASE_MS);

      // Pages of two: one call goes on until no stale job is left, and names the requeued.
      const reset = await resetStaleJobs(staleDeps, { pageSize: 2, deadline: time.later(60_000) });
      expect({ ...reset, requeuedIds: [...reset.requeuedIds].sort() }).toEqual({
        requeued: 3,
        failed: 1,
        invalid: 0,
        errored: 0,
        stoppedBy: "done",
        requeuedIds: [expired, ...others].sort(),
      });
      const read = async (id: string) =>
        parseJob(id, (await db.db.collection(JOBS_COLLECTION).doc(id).get()).data()).job;
      expect((await read(fresh)).status).toBe("running");
      expect(await read(expired)).toMatchObject({ status: "queued", leaseOwner: null });
      expect((await read(expired)).lastError?.reason).toBe("lease_expired");
      expect((await read(spent)).status).toBe("failed");
      // The dead worker coming back cannot overwrite the reset.
      expect(
        await completeJob(staleDeps, expired, "dead-worker", {
          since: "x",
          until: "x",
          rowsFetched: 0,
          rowsWritten: 0,
          rowsUnchanged: 0,
          rowsZeroed: 0,
          accounts: [],
        }),
      ).toBe("lease_lost");
      // A dead worker's job is back in the queue within lease + one 5-minute run of the reset.
      expect(DEFAULT_LEASE_MS + 5 * 60_000).toBeLessThanOrEqual(15 * 60_000);
    } finally {
      await db.close();
    }
  });

  it("starts no page after its deadline", async () => {
    const db = testFirestore("stale-deadline");
    try {
      const staleDeps = { db: db.db, clock: time.clock };
      await seedIntegration(db.db, { userId: "u", providerId: "google" });
      const [outcome] = await enqueueJobs(staleDeps, [manual("u")]);
      const id = outcome?.status === "queued" ? outcome.jobId : "";
      await claimJob(staleDeps, id, "dead-worker", 1_000);
      time.advance(2_000);
      expect(await resetStaleJobs(staleDeps, { pageSize: 10, deadline: time.later(0) })).toEqual({
        requeued: 0,
        failed: 0,
        invalid: 0,
        errored: 0,
        stoppedBy: "deadline",
        requeuedIds: [],
      });
      expect((await jobRef(db.db, id).get()).get("status")).toBe("running");
    } finally {
      await db.close();
    }
  });
});

describe("cleanupOldJobs", () => {
  it("deletes only terminal jobs and events older than seven days", async () => {
    const db = testFirestore("cleanup");
    try {
      const cleanDeps = { db: db.db, clock: time.clock };
      const jobs = db.db.collection(JOBS_COLLECTION);
      const at = (days: number) => Timestamp.fromMillis(time.clock().getTime() - days * 86_400_000);
      await jobs.doc("old-ok").set({ status: "succeeded", finishedAt: at(8) });
      await jobs.doc("old-failed").set({ status: "failed", finishedAt: at(30) });
      await jobs.doc("recent").set({ status: "succeeded", finishedAt: at(6) });
      await jobs.doc("old-queued").set({ status: "queued", createdAt: at(9) });
      for (const days of [8, 1]) {
        await recordEvent(db.db, {
          operation: "test",
          source: "test",
          startedAt: new Date(at(days).toMillis()),
          finishedAt: new Date(at(days).toMillis()),
          counts: emptyCounts(),
          errors: [],
        });
      }
      const result = await cleanupOldJobs(cleanDeps, { pageSize: 1, deadline: time.later(60_000) });
      expect(result).toEqual({ jobsDeleted: 2, eventsDeleted: 1, stoppedBy: "done" });
      expect((await jobs.get()).docs.map((doc) => doc.id).sort()).toEqual(["old-queued", "recent"]);
      expect((await db.db.collection(EVENTS_COLLECTION).get()).size).toBe(1);
    } finally {
      await db.close();
    }
  });

  it("keeps up: one run deletes more than a week of the fixed schedules' events", async () => {
    const db = testFirestore("cleanup-volume");
    try {
      // 2,353 events a week from the fixed schedules alone; the old weekly run deleted 2,000.
      const old = Timestamp.fromMillis(time.clock().getTime() - 8 * 86_400_000);
      const events = db.db.collection(EVENTS_COLLECTION);
      for (let start = 0; start < 2_600; start += 500) {
        const batch = db.db.batch();
        for (let i = start; i < Math.min(start + 500, 2_600); i += 1) {
          batch.set(events.doc(), { operation: "test", createdAt: old });
        }
        await batch.commit();
      }
      const result = await cleanupOldJobs(
        { db: db.db, clock: time.clock },
        { pageSize: 500, deadline: time.later(60_000) },
      );
      expect(result).toEqual({ jobsDeleted: 0, eventsDeleted: 2_600, stoppedBy: "done" });
      expect((await events.count().get()).data().count).toBe(0);
    } finally {
      await db.close();
    }
  });

  it("starts no page after its deadline and says so", async () => {
    const db = testFirestore("cleanup-deadline");
    try {
      await db.db
        .collection(JOBS_COLLECTION)
        .doc("old")
        .set({
          status: "succeeded",
          finishedAt: Timestamp.fromMillis(time.clock().getTime() - 8 * 86_400_000),
        });
      const result = await cleanupOldJobs(
        { db: db.db, clock: time.clock },
        { pageSize: 500, deadline: time.later(0) },
      );
      expect(result).toEqual({ jobsDeleted: 0, eventsDeleted: 0, stoppedBy: "deadline" });
      expect((await db.db.collection(JOBS_COLLECTION).doc("old").get()).exists).toBe(true);
    } finally {
      await db.close();
    }
  });
});
