/**
 * The deployed functions themselves: scheduled handlers through their own `run`, the job trigger
 * through firebase-functions-test's `wrap`, against the Firestore test server and the sandbox
 * platforms. Schedule → trigger → metrics, with repeated firings and duplicate deliveries.
 */
import { randomUUID } from "node:crypto";

import { deleteApp, getApp, initializeApp } from "firebase-admin/app";
import { type Firestore, getFirestore } from "firebase-admin/firestore";
import functionsTest from "firebase-functions-test";

import type * as FunctionsModule from "../../../src/index";
import { JOBS_COLLECTION } from "../../../src/jobs/model";
import { enqueueJobs, parseJob } from "../../../src/jobs/store";
import { EVENTS_COLLECTION } from "../../../src/scheduler/events";
import { TEST_TOKEN_KEYS_VALUE } from "../../harness/seed";
import {
  expectedTotals,
  seedSandboxIntegration,
  startTestStack,
  storedTotals,
  type TestStack,
} from "../../harness/stack";

const projectId = `demo-functions-${randomUUID().slice(0, 8)}`;
const fft = functionsTest({ projectId });
let stack: TestStack;
let db: Firestore;
let functions: typeof FunctionsModule;

beforeAll(async () => {
  stack = await startTestStack([
    {
      provider: "google",
      id: "1212121212",
      name: "G",
      timeZone: "UTC",
      currency: "EUR",
      campaigns: 2,
    },
    {
      provider: "meta",
      id: "300000000000007",
      name: "M",
      timeZone: "UTC",
      currency: "EUR",
      campaigns: 2,
    },
    {
      provider: "tiktok",
      id: "7000000000000000007",
      name: "T",
      timeZone: "UTC",
      currency: "USD",
      campaigns: 1,
    },
  ]);
  process.env.GCLOUD_PROJECT = projectId;
  process.env.PROVIDER_SETTINGS = stack.env.PROVIDER_SETTINGS;
  process.env.PROVIDER_SECRETS = stack.env.PROVIDER_SECRETS;
  process.env.TOKEN_ENCRYPTION_KEYS = TEST_TOKEN_KEYS_VALUE;
  initializeApp({ projectId });
  db = getFirestore();
  functions = await import("../../../src/index");
  await seedSandboxIntegration(db, stack, "alice", "google");
  await seedSandboxIntegration(db, stack, "alice", "meta");
  await seedSandboxIntegration(db, stack, "bob", "google", { autoSync: false });
  await seedSandboxIntegration(db, stack, "carol", "tiktok", { cadenceHours: 6 });
});

afterAll(async () => {
  fft.cleanup();
  await stack.stop();
  await deleteApp(getApp());
});

const scheduleEvent = () => ({ scheduleTime: new Date().toISOString(), jobName: "test" });

async function jobs() {
  const snapshot = await db.collection(JOBS_COLLECTION).get();
  return snapshot.docs.map((doc) => ({ id: doc.id, ...parseJob(doc.id, doc.data()).job }));
}

async function events(operation: string) {
  const snapshot = await db.collection(EVENTS_COLLECTION).where("operation", "==", operation).get();
  return snapshot.docs.map((doc) => doc.data());
}

describe("scheduled functions", () => {
  it("declare the documented UTC schedules", () => {
    const schedules = Object.fromEntries(
      (["scheduledEnqueue", "sweepQueuedJobs", "cleanupOldJobs", "resetStaleJobs"] as const).map(
        (name) => [name, functions[name].__endpoint.scheduleTrigger],
      ),
    );
    expect(schedules).toMatchObject({
      scheduledEnqueue: { schedule: "0 * * * *", timeZone: "UTC" },
      sweepQueuedJobs: { schedule: "*/5 * * * *", timeZone: "UTC" },
      cleanupOldJobs: { schedule: "0 3 * * 0", timeZone: "UTC" },
      resetStaleJobs: { schedule: "0 * * * *", timeZone: "UTC" },
    });
  });

  it("enqueue once per user and platform however often they fire, skipping autoSync off", async () => {
    await functions.scheduledEnqueue.run(scheduleEvent());
    await functions.scheduledEnqueue.run(scheduleEvent());
    const queued = await jobs();
    expect(queued.map((job) => `${job.userId}/${job.providerId}`).sort()).toEqual([
      "alice/google",
      "alice/meta",
      "carol/tiktok",
    ]);
    expect(queued.every((job) => job.type === "scheduled-sync" && job.status === "queued")).toBe(
      true,
    );
    const recorded = await events("process_all_users");
    expect(recorded.map((event) => (event.counts as { queued: number }).queued).sort()).toEqual([
      0, 3,
    ]);
  });
});

describe("the job trigger", () => {
  it("processes each new job into metrics, and a duplicate delivery changes nothing", async () => {
    const wrapped = fft.wrap(functions.processSyncJob);
    for (const job of await jobs()) {
      const snapshot = await db.collection(JOBS_COLLECTION).doc(job.id).get();
      await wrapped({ data: snapshot, params: { jobId: job.id } });
      await wrapped({ data: snapshot, params: { jobId: job.id } });
    }
    const done = await jobs();
    expect(done.map((job) => [job.providerId, job.status, job.attempts])).toEqual(
      expect.arrayContaining([
        ["google", "succeeded", 1],
        ["meta", "succeeded", 1],
        ["tiktok", "succeeded", 1],
      ]),
    );
    for (const job of done) {
      const range = { since: job.result!.since, until: job.result!.until };
      expect(await storedTotals(db, job.userId, job.providerId)).toEqual(
        expectedTotals(stack.world, job.providerId, range),
      );
    }
    const triggerEvents = await events("process_job");
    expect(triggerEvents).toHaveLength(6);
    const skipped = triggerEvents.filter((event) => (event.counts as { skipped: number }).skipped);
    expect(skipped).toHaveLength(3);
  });

  it("leaves a re-run of the same sync without duplicates: rows are upserted, unchanged ones skipped", async () => {
    const before = await storedTotals(db, "alice", "google");
    const [outcome] = await enqueueJobs({ db, clock: () => new Date() }, [
      {
        userId: "alice",
        providerId: "google",
        type: "manual-sync",
        timeframeDays: 14,
        source: "test",
      },
    ]);
    const jobId = outcome?.status === "queued" ? outcome.jobId : "";
    await functions.sweepQueuedJobs.run(scheduleEvent());
    const job = (await jobs()).find((candidate) => candidate.id === jobId);
    expect(job?.status).toBe("succeeded");
    expect(job?.result?.rowsUnchanged).toBe(before.rows);
    expect(await storedTotals(db, "alice", "google")).toEqual(
      expectedTotals(stack.world, "google", {
        since: job!.result!.since,
        until: job!.result!.until,
      }),
    );
  });
});
