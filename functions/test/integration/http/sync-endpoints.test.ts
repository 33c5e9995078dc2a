/**
 * The sync endpoints' happy paths with their real store effects: jobs queued and deduplicated,
 * automation honoured by the next scheduler run, jobs processed into metrics, stale jobs reset,
 * old jobs cleaned up, and each caller seeing only their own integrations.
 */
import { type Firestore, Timestamp } from "firebase-admin/firestore";

import { handleAccounts } from "../../../src/http/accounts";
import { handleAutomation } from "../../../src/http/automation";
import type { Handler } from "../../../src/http/context";
import { handleCron } from "../../../src/http/cron";
import { handleProcess } from "../../../src/http/process";
import { handleSchedule } from "../../../src/http/schedule";
import { handleStatus } from "../../../src/http/status";
import { handleWorker } from "../../../src/http/worker";
import { integrationPath, integrationSchema } from "../../../src/integrations/model";
import { JOBS_COLLECTION } from "../../../src/jobs/model";
import { claimJob, parseJob } from "../../../src/jobs/store";
import type { ProviderId } from "../../../src/providers/types";
import { EVENTS_COLLECTION } from "../../../src/scheduler/events";
import {
  accessTokenOf,
  ADMIN_EMAIL,
  bearer,
  cronHeaders,
  endpointDeps,
  request,
  seedIntegration,
  startTestAuth,
  type TestAuth,
  writtenState,
} from "../../harness/auth";
import { type TestFirestore, testFirestore } from "../../harness/firestore";

const NOW = new Date("2026-11-28T10:00:00Z");
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** Auth lives in the first project; each describe block below gets its own Firestore project. */
let authProject: TestFirestore;
let testAuth: TestAuth;
const projects: TestFirestore[] = [];

beforeAll(async () => {
  authProject = testFirestore("http-sync-auth");
  testAuth = await startTestAuth(authProject);
});
afterAll(async () => {
  await testAuth.close();
  await Promise.all([authProject, ...projects].map((project) => project.close()));
});

function freshProject(label: string): Firestore {
  const project = testFirestore(label);
  projects.push(project);
  return project.db;
}

interface OperationBody {
  success: true;
  operation: string;
  counts: Record<"queued" | "processed" | "succeeded" | "failed" | "retried" | "skipped", number>;
  errors: unknown[];
  jobIds: string[];
  details: Record<string, unknown>;
  eventId: string;
  durationMs: number;
}

async function invoke(
  db: Firestore,
  handler: Handler,
  input: { method: string; headers: Record<string, string>; body?: unknown; query?: unknown },
  now = NOW,
) {
  await testAuth.settle();
  const response = await handler(
    request(input.method, input),
    endpointDeps({ db, auth: testAuth.auth, now }),
  );
  return { status: response.status, body: response.body as OperationBody };
}

const adminHeaders = () =>
  bearer(testAuth.mintIdToken({ uid: "ops", email: ADMIN_EMAIL, emailVerified: true }));
const userHeaders = (uid: string) => bearer(testAuth.mintIdToken({ uid }));

const cron = (db: Firestore, body: unknown, now = NOW) =>
  invoke(db, handleCron, { method: "POST", headers: cronHeaders(), body }, now);
const schedule = (db: Firestore, body: unknown) =>
  invoke(db, handleSchedule, { method: "POST", headers: adminHeaders(), body });

async function jobsOf(db: Firestore, userId: string) {
  const snapshot = await db.collection(JOBS_COLLECTION).where("userId", "==", userId).get();
  return snapshot.docs.map((doc) => ({ id: doc.id, ...parseJob(doc.id, doc.data()).job }));
}

const integrationRef = (db: Firestore, userId: string, providerId: ProviderId) =>
  db.doc(integrationPath(userId, providerId));

/** The stored integration, read through the model (defaults applied). */
const integration = async (db: Firestore, userId: string, providerId: ProviderId) =>
  integrationSchema.parse((await integrationRef(db, userId, providerId).get()).data());

/** The `automation` field exactly as stored. */
const storedAutomation = async (db: Firestore, userId: string, providerId: ProviderId) =>
  (await integrationRef(db, userId, providerId).get()).get("automation") as unknown;

describe("POST /api/integrations/schedule", () => {
  let db: Firestore;

  beforeAll(async () => {
    db = freshProject("http-schedule");
    await seedIntegration(db, "alice", "google");
    await seedIntegration(db, "alice", "meta");
    await seedIntegration(db, "alice", "tiktok", { status: "needs_reauth" });
    await seedIntegration(db, "bob", "linkedin");
  });

  it("queues a job for one integration, locks it, and records the event", async () => {
    const { status, body } = await schedule(db, { userId: "alice", providerId: "google" });
    expect(status).toBe(200);
    expect(body).toMatchObject({ success: true, operation: "schedule" });
    expect(body.counts).toEqual({
      queued: 1,
      processed: 0,
      succeeded: 0,
      failed: 0,
      retried: 0,
      skipped: 0,
    });
    const [jobId] = body.jobIds;
    const job = (await db.collection(JOBS_COLLECTION).doc(jobId!).get()).data() as unknown;
    expect(job).toMatchObject({
      userId: "alice",
      providerId: "google",
      type: "manual-sync",
      status: "queued",
      timeframeDays: 7,
    });
    const stored = await integration(db, "alice", "google");
    expect(stored.activeJobId).toBe(jobId);
    expect(stored.lastSyncRequestedAt?.toDate()).toEqual(NOW);
    const event = (
      await db.collection(EVENTS_COLLECTION).doc(body.eventId).get()
    ).data() as unknown;
    expect(event).toMatchObject({ operation: "schedule", counts: body.counts });
  });

  it("returns the active job instead of queueing a second one", async () => {
    const first = (await jobsOf(db, "alice")).filter((job) => job.providerId === "google");
    const { status, body } = await schedule(db, { userId: "alice", providerId: "google" });
    expect(status).toBe(200);
    expect(body.counts.queued).toBe(0);
    expect(body.counts.skipped).toBe(1);
    expect(body.jobIds).toEqual([first[0]!.id]);
    expect(body.details.skipped).toEqual({ active_job_exists: 1 });
    expect((await jobsOf(db, "alice")).filter((job) => job.providerId === "google")).toHaveLength(
      1,
    );
  });

  it("plans a backfill for every integration of a user when no provider is named, beside the syncs' jobs", async () => {
    const { status, body } = await schedule(db, {
      userId: "alice",
      jobType: "initial-backfill",
      timeframeDays: 400,
    });
    expect(status).toBe(200);
    // google's active sync job does not hold its backfill back (a lock of its own); tiktok needs
    // re-authorisation.
    expect(body.counts.queued).toBe(2);
    expect(body.details.skipped).toEqual({ integration_inactive: 1 });
    const backfills = (await jobsOf(db, "alice")).filter((job) => job.type === "initial-backfill");
    expect(backfills.map((job) => job.providerId).sort()).toEqual(["google", "meta"]);
    expect(await jobsOf(db, "bob")).toEqual([]);
    const plans = body.details.backfills as Array<Record<string, unknown>>;
    expect(plans.map((plan) => plan.providerId).sort()).toEqual(["google", "meta"]);
    for (const plan of plans) {
      expect(plan).toMatchObject({ status: "active", slicesDone: 0 });
      expect(plan.slicesTotal).toBeGreaterThan(0);
    }
    // The same request again changes nothing: each plan keeps its job.
    const again = await schedule(db, {
      userId: "alice",
      jobType: "initial-backfill",
      timeframeDays: 400,
    });
    expect(again.body.counts.queued).toBe(0);
    expect(again.body.details.skipped).toEqual({ active_job_exists: 2, integration_inactive: 1 });
  });

  it.each([
    [{ userId: "nobody" }, "has no integrations"],
    [{ userId: "bob", providerId: "google" }, "has no google integration"],
  ])("answers 404 for %j and writes nothing", async (body, message) => {
    const before = await writtenState(db);
    const response = await schedule(db, body);
    expect(response.status).toBe(404);
    expect(JSON.stringify(response.body)).toContain(message);
    expect(await writtenState(db)).toEqual(before);
  });
});

describe("POST /api/integrations/schedule with allUsers", () => {
  let db: Firestore;

  beforeAll(async () => {
    db = freshProject("http-schedule-all");
    await seedIntegration(db, "user-a", "google");
    await seedIntegration(db, "user-b", "meta", { automation: { autoSync: false } });
  });

  it("pages through users with maxUsers and the returned cursor", async () => {
    const first = await schedule(db, { allUsers: true, timeframeDays: 1, maxUsers: 1 });
    expect(first.status).toBe(200);
    expect(first.body.operation).toBe("process_all_users");
    expect(first.body.counts.queued).toBe(1);
    expect(first.body.details.users).toBe(1);
    const cursor = first.body.details.nextCursor;
    expect(typeof cursor).toBe("string");

    const second = await schedule(db, { allUsers: true, timeframeDays: 1, maxUsers: 1, cursor });
    // A manual sync is an explicit request: it ignores the autoSync preference.
    expect(second.body.counts.queued).toBe(1);
    expect(second.body.details.nextCursor).toBeNull();
    const queued = [...first.body.jobIds, ...second.body.jobIds];
    const owners = await Promise.all(
      queued.map(
        async (id) => (await db.collection(JOBS_COLLECTION).doc(id).get()).get("userId") as string,
      ),
    );
    expect(owners.sort()).toEqual(["user-a", "user-b"]);
  });
});

describe("cron, automation, worker and process together", () => {
  let db: Firestore;

  beforeAll(async () => {
    db = freshProject("http-cron");
    await seedIntegration(db, "on", "google");
    await seedIntegration(db, "off", "meta", { automation: { autoSync: false } });
  });

  it("process_all_users enqueues scheduled syncs only where autoSync is on", async () => {
    const { status, body } = await cron(db, { operation: "process_all_users", timeframeDays: 1 });
    expect(status).toBe(200);
    expect(body.operation).toBe("process_all_users");
    expect(body.counts.queued).toBe(1);
    expect(body.details).toMatchObject({ users: 2, autoSyncOff: 1, nextCursor: null });
    expect(await jobsOf(db, "off")).toEqual([]);
    expect(await jobsOf(db, "on")).toEqual([
      expect.objectContaining({ type: "scheduled-sync", status: "queued", timeframeDays: 1 }),
    ]);
  });

  it("a second run in the same slot queues nothing", async () => {
    const { body } = await cron(db, { operation: "process_all_users" });
    expect(body.counts.queued).toBe(0);
    expect(await jobsOf(db, "on")).toHaveLength(1);
  });

  it("the worker runs due jobs and the metrics land under the user", async () => {
    const { status, body } = await invoke(db, handleWorker, {
      method: "POST",
      headers: cronHeaders(),
      body: { maxJobs: 10 },
    });
    expect(status).toBe(200);
    expect(body.operation).toBe("process_queued_jobs");
    expect(body.counts).toMatchObject({ processed: 1, succeeded: 1, failed: 0 });
    const [job] = await jobsOf(db, "on");
    expect(job).toMatchObject({ status: "succeeded", result: { rowsWritten: 2 } });
    const metrics = await db.collection("users/on/metrics").get();
    expect(metrics.docs.map((doc) => doc.get("accountId") as string).sort()).toEqual([
      "acct-1",
      "acct-2",
    ]);
    const stored = await integration(db, "on", "google");
    expect(stored.activeJobId).toBeNull();
    expect(stored.lastSyncedAt?.toDate()).toEqual(NOW);
  });

  it("an automation change by the owner is honoured by the next scheduler run", async () => {
    const patch = await invoke(db, handleAutomation, {
      method: "PATCH",
      headers: userHeaders("off"),
      body: { providerId: "meta", autoSync: true },
    });
    expect(patch.status).toBe(200);
    // The next daily slot: 02:00 UTC the following day.
    const nextSlot = new Date(Date.UTC(2026, 10, 29, 2));
    const { body } = await cron(db, { operation: "process_all_users" }, nextSlot);
    expect(body.counts.queued).toBe(2);
    expect(body.details.autoSyncOff).toBe(0);
    expect(await jobsOf(db, "off")).toHaveLength(1);
  });

  it("process runs one user's due jobs now", async () => {
    const later = new Date(Date.UTC(2026, 10, 29, 4));
    const { status, body } = await invoke(
      db,
      handleProcess,
      { method: "POST", headers: cronHeaders(), body: { userId: "off" } },
      later,
    );
    expect(status).toBe(200);
    expect(body.operation).toBe("process_user_jobs");
    expect(body.counts).toMatchObject({ processed: 1, succeeded: 1 });
    expect(body.details).toEqual({ userId: "off" });
    expect((await db.collection("users/off/metrics").get()).size).toBe(2);
    // The other user's job was left alone.
    const onJobs = await jobsOf(db, "on");
    expect(onJobs.filter((job) => job.status === "queued")).toHaveLength(1);
  });

  it("reset_stale_jobs puts a job whose lease expired back in the queue", async () => {
    const [queued] = (await jobsOf(db, "on")).filter((job) => job.status === "queued");
    const claimedAt = new Date(Date.UTC(2026, 10, 29, 4));
    await claimJob({ db, clock: () => claimedAt }, queued!.id, "dead-worker", 60_000);
    const { body } = await cron(
      db,
      { operation: "reset_stale_jobs" },
      new Date(claimedAt.getTime() + HOUR_MS),
    );
    expect(body.operation).toBe("reset_stale_jobs");
    expect(body.counts.queued).toBe(1);
    expect(body.details).toEqual({ requeued: 1, failed: 0, stoppedBy: "done" });
    const job = (await db.collection(JOBS_COLLECTION).doc(queued!.id).get()).data() as unknown;
    expect(job).toMatchObject({ status: "queued", leaseOwner: null, attempts: 1 });
  });

  it("cleanup_old_jobs removes finished jobs and events older than 7 days", async () => {
    const eventsBefore = (await db.collection(EVENTS_COLLECTION).get()).size;
    const { body } = await cron(
      db,
      { operation: "cleanup_old_jobs" },
      new Date(Date.UTC(2026, 10, 29, 2) + 8 * DAY_MS),
    );
    expect(body.operation).toBe("cleanup_old_jobs");
    expect(body.details).toEqual({
      jobsDeleted: 2,
      eventsDeleted: eventsBefore,
      stoppedBy: "done",
    });
    const left = await db.collection(JOBS_COLLECTION).get();
    expect(left.docs.map((doc) => doc.get("status") as string)).toEqual(["queued"]);
    // Only the cleanup's own event remains.
    const events = await db.collection(EVENTS_COLLECTION).get();
    expect(events.docs.map((doc) => doc.id)).toEqual([body.eventId]);
  });
});

describe("GET /api/integrations/status", () => {
  let db: Firestore;

  beforeAll(async () => {
    db = freshProject("http-status");
    await seedIntegration(db, "carol", "google", { accountIds: ["1", "2", "3"] });
    await seedIntegration(db, "carol", "tiktok", { automation: { cadenceHours: 6 } });
    await seedIntegration(db, "dave", "meta");
    await schedule(db, { userId: "carol", providerId: "google" });
    await schedule(db, { userId: "dave" });
  });

  it("returns the caller's own integrations and jobs, and no token", async () => {
    const { status, body } = await invoke(db, handleStatus, {
      method: "GET",
      headers: userHeaders("carol"),
      query: { limit: "5" },
    });
    expect(status).toBe(200);
    const view = body as unknown as {
      userId: string;
      integrations: Array<Record<string, unknown>>;
      recentJobs: Array<Record<string, unknown>>;
    };
    expect(view.userId).toBe("carol");
    const [jobId] = (await jobsOf(db, "carol")).map((job) => job.id);
    expect(view.integrations).toEqual([
      {
        providerId: "google",
        status: "active",
        accountCount: 3,
        lastSyncRequestedAt: NOW.toISOString(),
        lastSyncedAt: null,
        automation: { autoSync: true, cadenceHours: 24, lookbackDays: null },
        lastError: null,
        consecutiveFailures: 0,
        activeJobId: jobId,
        backfill: null,
        // Not discovered yet: its fixed accounts are synced, its health unknown.
        accountSelection: "selected",
        accounts: [],
        discoveredAt: null,
        credentialHealth: null,
      },
      expect.objectContaining({
        providerId: "tiktok",
        automation: { autoSync: true, cadenceHours: 6, lookbackDays: null },
        activeJobId: null,
      }),
    ]);
    expect(view.recentJobs).toEqual([
      expect.objectContaining({
        jobId,
        providerId: "google",
        status: "queued",
        createdAt: NOW.toISOString(),
      }),
    ]);
    const text = JSON.stringify(body);
    for (const secret of [accessTokenOf("carol", "google"), "refresh-token", "do-not-leak"]) {
      expect(text).not.toContain(secret);
    }
    expect(text).not.toContain("dave");
  });

  it("shows each backfill's covered range, progress and accounts", async () => {
    const scheduled = await schedule(db, {
      userId: "carol",
      providerId: "tiktok",
      jobType: "initial-backfill",
      startDate: "2026-01-01",
    });
    expect(scheduled.status).toBe(200);
    const { body } = await invoke(db, handleStatus, {
      method: "GET",
      headers: userHeaders("carol"),
    });
    const view = body as unknown as { integrations: Array<Record<string, unknown>> };
    const tiktok = view.integrations.find((entry) => entry.providerId === "tiktok");
    const backfill = tiktok?.backfill as Record<string, unknown>;
    expect(backfill).toMatchObject({
      status: "active",
      jobId: scheduled.body.jobIds[0],
      requestedSince: "2026-01-01",
      since: "2026-01-01",
      oldestCompleteDate: null,
      slicesDone: 0,
      estimatedSecondsLeft: null,
      runs: 0,
    });
    // The newest day stops before the days TikTok's syncs re-pull (11-21..11-28) and a day
    // for the accounts' zones.
    expect(backfill.until).toBe("2026-11-19");
    expect(backfill.slicesTotal).toBeGreaterThan(0);
    expect(backfill.accounts).toHaveLength(2);
  });

  it("answers a user without integrations with empty lists", async () => {
    const { status, body } = await invoke(db, handleStatus, {
      method: "GET",
      headers: userHeaders("newcomer"),
    });
    expect(status).toBe(200);
    expect(body).toEqual({ success: true, userId: "newcomer", integrations: [], recentJobs: [] });
  });
});

describe("PATCH /api/integrations/automation", () => {
  let db: Firestore;

  beforeAll(async () => {
    db = freshProject("http-automation");
    await seedIntegration(db, "erin", "google");
    await seedIntegration(db, "erin", "meta");
    await seedIntegration(db, "frank", "google");
    // A document written before automation settings existed: defaults apply on read.
    await integrationRef(db, "erin", "linkedin").set({ status: "active", accountIds: ["9"] });
  });

  const patch = (uid: string, body: unknown) =>
    invoke(db, handleAutomation, { method: "PATCH", headers: userHeaders(uid), body });

  it("updates only the caller's named integration", async () => {
    const { status, body } = await patch("erin", {
      providerId: "google",
      autoSync: false,
      lookbackDays: 30,
    });
    expect(status).toBe(200);
    const expected = { autoSync: false, cadenceHours: 24, lookbackDays: 30 };
    expect(body).toEqual({ success: true, providerId: "google", automation: expected });
    expect(await storedAutomation(db, "erin", "google")).toEqual(expected);
    const untouched = { autoSync: true, cadenceHours: 24, lookbackDays: null };
    expect(await storedAutomation(db, "erin", "meta")).toEqual(untouched);
    expect(await storedAutomation(db, "frank", "google")).toEqual(untouched);
  });

  it("resets the lookback to the platform default with null", async () => {
    const { body } = await patch("erin", { providerId: "google", lookbackDays: null });
    expect(body).toMatchObject({ automation: { autoSync: false, lookbackDays: null } });
  });

  it("sets one setting of a document that had none, the others reading as their defaults", async () => {
    const { status, body } = await patch("erin", { providerId: "linkedin", cadenceHours: 6 });
    expect(status).toBe(200);
    expect(body).toMatchObject({
      automation: { autoSync: true, cadenceHours: 6, lookbackDays: null },
    });
    expect(await storedAutomation(db, "erin", "linkedin")).toEqual({ cadenceHours: 6 });
    expect((await integration(db, "erin", "linkedin")).automation).toEqual({
      autoSync: true,
      cadenceHours: 6,
      lookbackDays: null,
    });
  });

  it("reads and keeps a setting written by newer code, but refuses it in a request", async () => {
    await integrationRef(db, "erin", "tiktok").set({
      status: "active",
      accountIds: ["7"],
      automation: { autoSync: true, cadenceHours: 24, lookbackDays: null, quietHours: [1, 5] },
    });
    const { status, body } = await patch("erin", { providerId: "tiktok", cadenceHours: 12 });
    expect(status).toBe(200);
    expect(body).toMatchObject({ automation: { autoSync: true, cadenceHours: 12 } });
    expect(await storedAutomation(db, "erin", "tiktok")).toEqual({
      autoSync: true,
      cadenceHours: 12,
      lookbackDays: null,
      quietHours: [1, 5],
    });
    const refused = await patch("erin", { providerId: "tiktok", quietHours: [2, 6] });
    expect(refused.status).toBe(400);
  });

  it("answers 404 when the caller has no such integration, even if someone else does", async () => {
    const { status } = await patch("frank", { providerId: "meta", autoSync: false });
    expect(status).toBe(404);
    expect((await integrationRef(db, "frank", "meta").get()).exists).toBe(false);
    expect(await storedAutomation(db, "erin", "meta")).toMatchObject({ autoSync: true });
  });
});

describe("PATCH /api/integrations/accounts", () => {
  let db: Firestore;
  const seen = Timestamp.fromDate(NOW);
  const entry = (
    accountId: string,
    status: "active" | "inactive" | "lost_access",
    selected = false,
  ) => ({
    accountId,
    name: `Account ${accountId}`,
    currency: "USD",
    timeZone: "UTC",
    status,
    platformStatus: status === "active" ? "ENABLED" : "CANCELED",
    hierarchy: ["9000000001"],
    selected,
    firstSeenAt: seen,
    lastSeenAt: seen,
    lostAccessAt: null,
  });

  beforeAll(async () => {
    db = freshProject("http-accounts");
    await seedIntegration(db, "gina", "google");
    await integrationRef(db, "gina", "google").update({
      accountIds: ["1111111111"],
      discoveredAt: seen,
      accounts: {
        "1111111111": entry("1111111111", "active", true),
        "2222222222": entry("2222222222", "active"),
        "3333333333": entry("3333333333", "inactive"),
      },
    });
    await seedIntegration(db, "henry", "google");
  });

  const patch = (uid: string, body: unknown) =>
    invoke(db, handleAccounts, { method: "PATCH", headers: userHeaders(uid), body });
  const synced = (body: unknown) => (body as { accountIds: string[] }).accountIds;

  it("syncs every active account with selection all, and only the chosen ones with a selection", async () => {
    const all = await patch("gina", { providerId: "google", selection: "all" });
    expect(all.status).toBe(200);
    expect(synced(all.body)).toEqual(["1111111111", "2222222222"]);

    const chosen = await patch("gina", {
      providerId: "google",
      selection: "selected",
      accountIds: ["222-222-2222"],
    });
    expect(chosen.status).toBe(200);
    expect(synced(chosen.body)).toEqual(["2222222222"]);
    const stored = await integration(db, "gina", "google");
    expect(stored.accountSelection).toBe("selected");
    expect(stored.accounts["1111111111"]?.selected).toBe(false);
    expect(stored.accounts["2222222222"]?.selected).toBe(true);
  });

  it("refuses an account discovery has not found, and writes nothing", async () => {
    const before = await writtenState(db);
    const response = await patch("gina", { providerId: "google", accountIds: ["4444444444"] });
    expect(response.status).toBe(400);
    expect(JSON.stringify(response.body)).toContain("4444444444");
    expect(await writtenState(db)).toEqual(before);
  });

  it("answers 404 for an integration the caller does not have, and touches no other user's", async () => {
    const before = await writtenState(db);
    const response = await patch("henry", { providerId: "meta", selection: "all" });
    expect(response.status).toBe(404);
    expect(await writtenState(db)).toEqual(before);
  });

  it.each([
    [{ providerId: "google" }],
    [{ providerId: "google", selection: "some" }],
    [{ providerId: "google", accountIds: "1111111111" }],
    [{ providerId: "google", selection: "all", userId: "gina" }],
  ])("answers 400 for %j", async (body) => {
    expect((await patch("gina", body)).status).toBe(400);
  });
});
