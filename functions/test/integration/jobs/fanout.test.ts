/**
 * The fan-out and the batches against bad data, collisions and limits, on the official Firestore
 * emulator: a slot job that already exists, integration and job documents that fail validation,
 * fields written by newer code, and fan-outs and sweeps bounded by users or a deadline that
 * continue where they stopped. What a fan-out reads and commits: `fanout-due.test.ts`.
 */
import { Timestamp } from "firebase-admin/firestore";

import { integrationPath } from "../../../src/integrations/model";
import { DEFAULT_LEASE_MS } from "../../../src/jobs/lease";
import { JOBS_COLLECTION } from "../../../src/jobs/model";
import type { ProcessDeps } from "../../../src/jobs/process";
import {
  cadenceSlot,
  ENQUEUE_STATE_PATH,
  type EnqueueAllOptions,
  enqueueAllUsers,
} from "../../../src/jobs/schedule";
import {
  claimJob,
  enqueueJobs,
  jobRef,
  resetStaleJobs,
  slotJobId,
  type StoreDeps,
} from "../../../src/jobs/store";
import { processDueJobs } from "../../../src/jobs/worker";
import { readQueueGauges } from "../../../src/scheduler/gauges";
import { enqueueAllOperation } from "../../../src/scheduler/operations";
import { recordingLogger, twoRowFetcher } from "../../harness/auth";
import { type TestFirestore, testFirestore } from "../../harness/firestore";
import { meterFirestore } from "../../harness/firestore-meter";
import { finishJob, manualClock, seedIntegration, TEST_TOKEN_KEYS } from "../../harness/seed";
import { seededJob } from "../scheduler/seeded-jobs";

let firestore: TestFirestore;
let time: ReturnType<typeof manualClock>;
let deps: StoreDeps;

beforeEach(() => {
  firestore = testFirestore("fanout");
  time = manualClock("2026-11-28T03:00:00Z");
  deps = { db: firestore.db, clock: time.clock };
});
afterEach(() => firestore.close());

const FAR = new Date("2100-01-01T00:00:00Z");
const scheduled: EnqueueAllOptions = {
  jobType: "scheduled-sync",
  timeframeDays: 1,
  source: "test",
  deadline: FAR,
};
const users = (prefix: string, count: number) =>
  Array.from({ length: count }, (_, i) => `${prefix}-${String(i).padStart(3, "0")}`);
const seedAll = (ids: readonly string[]) =>
  Promise.all(ids.map((userId) => seedIntegration(firestore.db, { userId, providerId: "google" })));
const jobIdsOf = async () =>
  (await firestore.db.collection(JOBS_COLLECTION).get()).docs.map((doc) => doc.id).sort();
const slotJobs = (ids: readonly string[]) =>
  ids.map((userId) => slotJobId(cadenceSlot(time.clock(), 24), userId, "google")).sort();

const finish = (jobId: string) => finishJob(deps, jobId);

describe("enqueueAllUsers against collisions and bad documents", () => {
  it("reads a slot job that exists after a cadence change and back, and schedules every later page", async () => {
    const flip = "a-flip";
    await seedIntegration(firestore.db, { userId: flip, providerId: "google" });
    const integration = firestore.db.doc(integrationPath(flip, "google"));
    const request = (cadenceHours: number) => ({
      userId: flip,
      providerId: "google" as const,
      type: "scheduled-sync" as const,
      timeframeDays: 1,
      source: "test",
      slot: cadenceSlot(time.clock(), cadenceHours),
    });
    for (const cadenceHours of [24, 12]) {
      await integration.update({ "automation.cadenceHours": cadenceHours });
      const [outcome] = await enqueueJobs(deps, [request(cadenceHours)]);
      await finish(outcome?.status === "queued" ? outcome.jobId : "");
    }
    // Back to daily within the same daily slot: its job exists, `lastScheduledSlot` says 12h.
    await integration.update({ "automation.cadenceHours": 24 });
    const others = users("u", 150);
    await seedAll(others);

    const result = await enqueueAllUsers(deps, { ...scheduled, pageSize: 100 });
    expect(result.outcomes.find((o) => o.userId === flip)).toMatchObject({
      status: "skipped",
      reason: "already_scheduled",
    });
    // The first page's commit met the slot's job (its `create`) and fell back to one at a time.
    expect(result.batchFallbacks).toEqual([expect.stringMatching(/already exists/i) as unknown]);
    expect(result.outcomes.filter((o) => o.status === "queued")).toHaveLength(150);
    expect(result.stoppedBy).toBe("end");
    const ids = await jobIdsOf();
    expect(ids.filter((id) => id.includes("_u-"))).toEqual(slotJobs(others));
  });

  it("records an integration document that fails validation, skips it, and schedules the rest", async () => {
    const others = users("v", 120);
    await seedAll(others);
    await firestore.db.doc(integrationPath("v-050", "google")).update({ accountIds: "not-a-list" });
    const result = await enqueueAllUsers(deps, scheduled);
    expect(result.invalid).toEqual([
      {
        path: "users/v-050/integrations/google",
        problem: expect.stringContaining("accountIds") as unknown,
      },
    ]);
    expect(result.outcomes.filter((o) => o.status === "queued")).toHaveLength(119);
    expect(await jobIdsOf()).toEqual(slotJobs(others.filter((id) => id !== "v-050")));
  });

  it("reports invalid integrations in the scheduler event", async () => {
    await seedAll(users("w", 3));
    await firestore.db
      .doc(integrationPath("w-001", "google"))
      .update({ lastSyncedAt: "yesterday" });
    const result = await enqueueAllOperation(
      { ...deps, env: {}, logger: recordingLogger() },
      "test",
      { jobType: "scheduled-sync", timeframeDays: 1 },
    );
    expect(result.counts).toMatchObject({ queued: 2, skipped: 1 });
    expect(result.details).toMatchObject({
      skipped: { invalid_integration: 1 },
      invalidIntegrations: [{ integration: "w-001/google" }],
    });
    expect(result.errors).toEqual([{ provider: "enqueue", code: "invalid_integration", count: 1 }]);
  });
});

describe("a fan-out over more users than one invocation takes", () => {
  it("continues from the shared cursor across invocations and schedules each user once per slot", async () => {
    const everyone = users("x", 25);
    await seedAll(everyone);
    const opDeps = { ...deps, env: {}, logger: recordingLogger() };
    const run = () =>
      enqueueAllOperation(opDeps, "cloud-scheduler", {
        jobType: "scheduled-sync",
        timeframeDays: 1,
        maxUsers: 10,
      });
    const runs = [await run(), await run(), await run()];
    expect(runs.map((r) => [r.details.users, r.counts.queued, r.details.stoppedBy])).toEqual([
      [10, 10, "max_users"],
      [10, 10, "max_users"],
      [5, 5, "end"],
    ]);
    expect(runs[1]?.details.startCursor).toBe(runs[0]?.details.nextCursor);
    expect((await firestore.db.doc(ENQUEUE_STATE_PATH).get()).get("passes")).toEqual([]);
    // The pass is finished: the next invocation in the same slot reads no integration at all.
    const again = await run();
    expect(again.details).toMatchObject({ startCursor: null, users: 0, pages: 0, passes: [] });
    expect(again.counts.queued).toBe(0);
    expect(await jobIdsOf()).toEqual(slotJobs(everyone));
  });

  it("stops starting pages at the deadline and the next invocations finish the pass", async () => {
    const everyone = users("y", 250);
    await seedAll(everyone);
    // Every integration read takes 1.2 s, a page of 50 a minute: three pages fit in 150 s.
    meterFirestore(firestore.db).hooks.afterDocument = () => time.advance(1_200);
    const stops: string[] = [];
    for (let invocation = 0; invocation < 5 && stops.at(-1) !== "end"; invocation += 1) {
      const result = await enqueueAllUsers(deps, {
        ...scheduled,
        pageSize: 50,
        deadline: time.later(150_000),
      });
      stops.push(result.stoppedBy);
    }
    expect(stops).toEqual(["deadline", "end"]);
    expect((await jobIdsOf()).length).toBe(250);
  });

  it("an explicit cursor neither reads nor moves the shared one", async () => {
    await seedAll(users("z", 3));
    const result = await enqueueAllUsers(deps, {
      ...scheduled,
      cursor: "users/z-000/integrations/google",
    });
    expect(result).toMatchObject({ sharedCursor: false, users: 2, stoppedBy: "end" });
    expect((await firestore.db.doc(ENQUEUE_STATE_PATH).get()).exists).toBe(false);
  });
});

describe("job documents in batches", () => {
  const processDeps = (): ProcessDeps => ({
    ...deps,
    fetchMetrics: (providerId, request) => {
      time.advance(60_000);
      return twoRowFetcher(providerId, request);
    },
    logger: recordingLogger(),
    owner: "worker",
    leaseMs: DEFAULT_LEASE_MS,
    tokenKeys: TEST_TOKEN_KEYS,
  });
  const manual = (userId: string) => ({
    userId,
    providerId: "google" as const,
    type: "manual-sync" as const,
    timeframeDays: 1,
    source: "test",
  });

  it("a claim keeps the fields it does not own, including those of newer code", async () => {
    await seedIntegration(firestore.db, { userId: "k", providerId: "google" });
    const [outcome] = await enqueueJobs(deps, [manual("k")]);
    const jobId = outcome?.status === "queued" ? outcome.jobId : "";
    await jobRef(firestore.db, jobId).update({ priority: 7 });
    await claimJob(deps, jobId, "w", 60_000);
    expect((await jobRef(firestore.db, jobId).get()).data()).toMatchObject({
      status: "running",
      priority: 7,
    });
  });

  it("the gauges and the stale reset read past a document that fails validation", async () => {
    await jobRef(firestore.db, "queued-broken").set({
      ...seededJob(time.clock(), {}),
      attempts: "two",
    });
    await jobRef(firestore.db, "stale-broken").set({
      ...seededJob(time.clock(), {
        status: "running",
        leaseExpiresAt: Timestamp.fromMillis(time.clock().getTime() - 1),
      }),
      type: "legacy-sync",
    });
    expect(await readQueueGauges(firestore.db, time.clock())).toMatchObject({
      queued: 1,
      oldestDueJobId: "queued-broken",
    });
    expect(await resetStaleJobs(deps, { pageSize: 10, deadline: time.later(60_000) })).toEqual({
      requeued: 0,
      failed: 0,
      invalid: 1,
      errored: 0,
      stoppedBy: "done",
      requeuedIds: [],
    });
    expect((await jobRef(firestore.db, "stale-broken").get()).data()).toMatchObject({
      status: "failed",
      type: "legacy-sync",
      lastError: { code: "permanent", reason: "invalid_document" },
    });
  });

  it("a batch claims no job after its deadline and says how many it left", async () => {
    const owners = ["d-1", "d-2", "d-3"];
    for (const userId of owners) {
      await seedIntegration(firestore.db, { userId, providerId: "google" });
      await enqueueJobs(deps, [manual(userId)]);
      time.advance(1_000);
    }
    // Each job takes a minute (the fetcher moves the clock): the third would start past 90 s.
    const result = await processDueJobs(processDeps(), {
      maxJobs: 10,
      maxUsers: 10,
      deadline: new Date(time.clock().getTime() + 90_000),
    });
    expect(result.counts).toMatchObject({ processed: 2, succeeded: 2, skipped: 1 });
    expect(result.details.leftByDeadline).toBe(1);
    const left = await firestore.db
      .collection(JOBS_COLLECTION)
      .where("status", "==", "queued")
      .get();
    expect(left.docs.map((doc) => doc.get("userId") as string)).toEqual(["d-3"]);
  });
});
