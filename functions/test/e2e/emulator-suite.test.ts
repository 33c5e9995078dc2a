/**
 * The whole Firebase Emulator Suite, offline (`dev/emulators/suite.ts`): firebase-tools runs
 * the built functions (`lib/`) with the project's own firebase.json — Hosting rewrites, rules,
 * indexes — next to the Firestore, Auth and Pub/Sub emulators. Parameters are in the run
 * folder's `.env` and secrets in its `.secret.local`, split by how `src/params.ts` declares
 * them, which is how the CLI hands them to deployed functions. So:
 *
 * - jobs created in Firestore are dispatched by `processSyncJob` as the Functions emulator
 *   delivers the event (a CloudEvent with a protobuf payload, through onInit), through
 *   firebase-admin's task queue to the Cloud Tasks emulator, which runs them on the platform's
 *   task function (`runSyncJob<Platform>`) within the queue's rate limits;
 * - the guide's curl commands are sent, same method, headers and body, to the Hosting URLs;
 * - every scheduled function is invoked the way Cloud Scheduler invokes it, and its effect is
 *   read back from Firestore;
 * - the configuration the functions see is the one deployed: health reports the environment
 *   complete, and the cron endpoint accepts the secret from `.secret.local` and nothing else.
 *
 * Tests run in order and build on each other's data (one project, one suite start).
 */
import { randomBytes, randomUUID } from "node:crypto";

import { type Firestore, Timestamp } from "firebase-admin/firestore";

import { freePorts, type RunningSuite, startSuite } from "../../dev/emulators/suite";
import type { SandboxAccount } from "../../dev/sandbox/world";
import { planSchema } from "../../src/backfill/plan";
import { backfillPath } from "../../src/backfill/store";
import { integrationPath, integrationSchema } from "../../src/integrations/model";
import { type Job, JOBS_COLLECTION } from "../../src/jobs/model";
import { ENQUEUE_STATE_PATH } from "../../src/jobs/schedule";
import { enqueueJobs, jobRef } from "../../src/jobs/store";
import { TASK_QUEUES } from "../../src/providers/budget";
import type { ProviderId } from "../../src/providers/types";
import { EVENTS_COLLECTION } from "../../src/scheduler/events";
import { systemClock } from "../../src/shared/clock";
import { packageVersion } from "../../src/shared/version";
import { TEST_TOKEN_KEYS_VALUE } from "../harness/seed";
import {
  seedSandboxIntegration,
  startTestStack,
  storedTotals,
  type TestStack,
} from "../harness/stack";
import { seededJob } from "../integration/scheduler/seeded-jobs";
import {
  assertLibBuilt,
  coldStart,
  dbAt,
  type EmulatorDb,
  type Endpoint,
  expectJobSynced,
  jobLogs,
  paramsAndSecrets,
  signInEmulatorUser,
  waitFor,
} from "./helpers";

// Waits (helpers' waitFor, 45 s) fail with the emulator's log before a test times out.
jest.setTimeout(90_000);

const PROJECT_ID = `demo-e2e-${randomUUID().slice(0, 8)}`;
/** Generated as the guide says: `require('crypto').randomBytes(32).toString('hex')`. */
const CRON_SECRET = randomBytes(32).toString("hex");
const ADMIN = { uid: "e2e-admin", email: "ops.admin@example.com", password: "admin-password-1" };

const ACCOUNTS: SandboxAccount[] = [
  {
    provider: "google",
    id: "6666666666",
    name: "G1",
    timeZone: "Europe/Berlin",
    currency: "EUR",
    campaigns: 2,
  },
  {
    provider: "meta",
    id: "300000000000066",
    name: "M1",
    timeZone: "UTC",
    currency: "USD",
    campaigns: 2,
  },
  {
    provider: "tiktok",
    id: "7000000000000000066",
    name: "T1",
    timeZone: "UTC",
    currency: "USD",
    campaigns: 2,
  },
];

/** Users of the scenario: A syncs through the trigger, B through the guide's endpoints, … */
const USERS = {
  a: { uid: "e2e-user-a", provider: "google", autoSync: false },
  b: { uid: "e2e-user-b", provider: "meta", autoSync: true },
  worker: { uid: "e2e-user-w", provider: "tiktok", autoSync: false },
  enqueue: { uid: "e2e-user-c", provider: "tiktok", autoSync: true },
  stale: { uid: "e2e-user-d", provider: "google", autoSync: false },
  old: { uid: "e2e-user-e", provider: "meta", autoSync: false },
  lost: { uid: "e2e-user-f", provider: "tiktok", autoSync: false },
  connect: { uid: "e2e-user-g", provider: "google", autoSync: false },
} as const satisfies Record<string, { uid: string; provider: ProviderId; autoSync: boolean }>;

/** What each scheduled function records (its scheduler event's operation). */
const SCHEDULED_OPERATIONS: Record<string, string> = {
  resetStaleJobs: "reset_stale_jobs",
  sweepQueuedJobs: "process_queued_jobs",
  cleanupOldJobs: "cleanup_old_jobs",
  scheduledEnqueue: "process_all_users",
};

let stack: TestStack;
let suite: RunningSuite;
let project: EmulatorDb;
let db: Firestore;
let endpoints: Record<string, Endpoint>;

beforeAll(async () => {
  assertLibBuilt();
  stack = await startTestStack(ACCOUNTS);
  const lib = coldStart();
  endpoints = Object.fromEntries(
    Object.entries(lib.functions).flatMap(([name, value]) => {
      const endpoint = (value as { __endpoint?: Endpoint } | undefined)?.__endpoint;
      return endpoint ? [[name, endpoint]] : [];
    }),
  );
  await lib.close();
  const { params, secrets } = paramsAndSecrets({
    INTEGRATIONS_CRON_SECRET: CRON_SECRET,
    INTEGRATIONS_CRON_SECRET_PREVIOUS: "none",
    STRIPE_SECRET_KEY: "none",
    NEXT_PUBLIC_APP_URL: "http://localhost:3000",
    ADMIN_EMAILS: `someone@example.com, ${ADMIN.email}`,
    TOKEN_ENCRYPTION_KEYS: TEST_TOKEN_KEYS_VALUE,
    ...stack.env,
  });
  suite = await startSuite({
    name: "test-e2e",
    projectId: PROJECT_ID,
    ports: await freePorts(),
    params,
    secrets,
    expectFunctions: Object.keys(endpoints),
    readyTimeoutMs: 150_000,
  });
  project = dbAt(suite.hosts.firestore, PROJECT_ID);
  db = project.db;
}, 180_000);

afterAll(async () => {
  await project?.close();
  await suite?.stop();
  await stack?.stop();
}, 60_000);

// ---------------------------------------------------------------------------------------------

/** The end of firebase-tools' output, for failure messages. */
const suiteLog = () => `firebase-tools output (end):\n${suite.output().slice(-6_000)}`;

interface Reply {
  status: number;
  headers: Headers;
  body: unknown;
}

/** A request to the Hosting emulator, as the guide's curl sends it. */
async function curl(
  method: "GET" | "POST" | "PATCH",
  path: string,
  { headers = {}, body }: { headers?: Record<string, string>; body?: unknown } = {},
): Promise<Reply> {
  const response = await fetch(`http://${suite.hosts.hosting}${path}`, {
    method,
    headers: body === undefined ? headers : { "Content-Type": "application/json", ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text) as unknown;
  } catch {
    // kept as text: the assertion on it will show what came back
  }
  return { status: response.status, headers: response.headers, body: parsed };
}

const cron = (body: unknown, key = CRON_SECRET) =>
  curl("POST", "/api/integrations/cron", { headers: { "x-cron-key": key }, body });

/** The operation endpoints' response shape (README, Endpoints). */
const operationShape = (operation: string) => ({
  success: true,
  operation,
  counts: {
    queued: expect.any(Number) as number,
    processed: expect.any(Number) as number,
    succeeded: expect.any(Number) as number,
    failed: expect.any(Number) as number,
    retried: expect.any(Number) as number,
    skipped: expect.any(Number) as number,
  },
  errors: expect.any(Array) as unknown[],
  jobIds: expect.any(Array) as unknown[],
  details: expect.any(Object) as object,
  eventId: expect.any(String) as string,
  durationMs: expect.any(Number) as number,
});

interface OperationBody {
  counts: Record<string, number>;
  jobIds: string[];
  details: Record<string, unknown>;
  eventId: string;
}

const errorShape = (code: string) => ({
  error: expect.objectContaining({ code, message: expect.any(String) as string }) as object,
});

async function jobStatus(jobId: string): Promise<string | undefined> {
  const snapshot = await jobRef(db, jobId).get();
  return snapshot.exists ? String(snapshot.get("status")) : undefined;
}

/** Waits until the job is terminal (the trigger or a worker ran it), then checks the sync. */
async function expectProcessed(jobId: string) {
  await waitFor(
    `job ${jobId} to finish`,
    async () => {
      const status = await jobStatus(jobId);
      return status === "succeeded" || status === "failed" ? status : undefined;
    },
    { describe: suiteLog },
  );
  return expectJobSynced(db, stack.world, jobId);
}

/** A log entry of a function about the job, once the emulator has printed it. */
const logged = (jobId: string, what: string, entry: Record<string, unknown>) =>
  waitFor(
    `${what} for job ${jobId}`,
    () =>
      Promise.resolve(
        jobLogs(suite.output(), jobId).find((logEntry) =>
          Object.entries(entry).every(([key, value]) => logEntry[key] === value),
        ),
      ),
    { describe: suiteLog },
  );

/** The trigger dispatched the job and its platform's task function ran it to success. */
async function processedThroughQueue(jobId: string, providerId: ProviderId) {
  await logged(jobId, "processSyncJob's dispatch", {
    trigger: "processSyncJob",
    message: "job dispatched",
    outcome: "enqueued",
  });
  return logged(jobId, "the task run", {
    trigger: TASK_QUEUES[providerId].functionName,
    message: "job finished",
    outcome: "succeeded",
  });
}

const readIntegration = async (userId: string, providerId: ProviderId) =>
  integrationSchema.parse((await db.doc(integrationPath(userId, providerId)).get()).data());

type Seeded = (typeof USERS)[keyof typeof USERS];

/** The on-connect trigger's account of a new integration of `userId` (its log line). */
const connected = (userId: string, entry: Record<string, unknown>) =>
  waitFor(
    `startBackfillOnConnect for ${userId}`,
    () =>
      Promise.resolve(
        jobLogs(suite.output(), userId).find((logEntry) =>
          Object.entries({
            trigger: "startBackfillOnConnect",
            message: "integration connected",
            ...entry,
          }).every(([key, value]) => logEntry[key] === value),
        ),
      ),
    { describe: suiteLog },
  );

/**
 * An integration of the scenario, with no on-connect work: each test asserts its own jobs. It
 * is created disabled — the deployed startBackfillOnConnect then finds nothing to do, as for any
 * integration connected inactive — and activated once the trigger has said so. The on-connect
 * work itself has its own test.
 */
async function seed(user: Seeded, cadenceHours = 24): Promise<void> {
  const exists = (await db.doc(integrationPath(user.uid, user.provider)).get()).exists;
  await seedSandboxIntegration(db, stack, user.uid, user.provider, {
    autoSync: user.autoSync,
    cadenceHours,
    status: exists ? "active" : "disabled",
  });
  if (!exists) {
    await connected(user.uid, { sync: "skipped", backfill: "skipped" });
    await db.doc(integrationPath(user.uid, user.provider)).update({ status: "active" });
  }
}

/** A job document in any state, valid for `jobSchema`, written with create() as the store does. */
async function writeJob(user: Seeded, overrides: Partial<Job>): Promise<string> {
  const job = seededJob(new Date(), {
    userId: user.uid,
    providerId: user.provider,
    type: "manual-sync",
    source: "e2e-seed",
    ...overrides,
  });
  const ref = db.collection(JOBS_COLLECTION).doc();
  await ref.create(job);
  return ref.id;
}

let adminToken: string;
let userBToken: string;

// ---------------------------------------------------------------------------------------------

it("serves the guide's health check through Hosting, with the deployed parameters and secrets complete", async () => {
  const reply = await curl("GET", "/api/health");
  expect(reply.status).toBe(200);
  expect(reply.body).toMatchObject({
    status: "healthy",
    timestamp: expect.any(String) as string,
    uptime: expect.any(Number) as number,
    responseTime: expect.any(Number) as number,
    checks: {
      firebase: { status: "ok", responseTime: expect.any(Number) as number },
      // STRIPE_SECRET_KEY is "none" in .secret.local: unused.
      stripe: { status: "not_configured" },
      // INTEGRATIONS_CRON_SECRET (.secret.local), NEXT_PUBLIC_APP_URL and ADMIN_EMAILS (.env).
      environment: { status: "ok" },
    },
    version: packageVersion(),
  });
  const body = reply.body as { timestamp: string; checks: { environment: object } };
  expect(body.checks.environment).toEqual({ status: "ok" });
  expect(Math.abs(Date.parse(body.timestamp) - Date.now())).toBeLessThan(60_000);
});

it("processes a job created in Firestore with the deployed processSyncJob, as the Functions emulator delivers it", async () => {
  const user = USERS.a;
  await seed(user);
  const [outcome] = await enqueueJobs({ db, clock: systemClock }, [
    {
      userId: user.uid,
      providerId: user.provider,
      type: "manual-sync",
      timeframeDays: 2,
      source: "e2e",
    },
  ]);
  if (outcome?.status !== "queued") {
    throw new Error(`expected a queued job, got ${JSON.stringify(outcome)}`);
  }
  const { job, expected } = await expectProcessed(outcome.jobId);
  expect(job.attempts).toBe(1);
  expect(await storedTotals(db, user.uid, user.provider)).toEqual(expected);
  expect(await processedThroughQueue(outcome.jobId, user.provider)).toMatchObject({
    userId: user.uid,
    rowsFetched: expected.rows,
  });
  expect(await readIntegration(user.uid, user.provider)).toMatchObject({ activeJobId: null });
});

describe("the guide's commands through the Hosting rewrites", () => {
  it("cron process_all_users enqueues the automatic integrations, which the trigger then syncs", async () => {
    await seed(USERS.b);
    const reply = await cron({ operation: "process_all_users", timeframeDays: 1 });
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject(operationShape("process_all_users"));
    const body = reply.body as OperationBody;
    const { activeJobId } = await readIntegration(USERS.b.uid, USERS.b.provider);
    expect(activeJobId).toEqual(expect.any(String));
    expect(body.jobIds).toContain(activeJobId);
    expect(body.counts.queued).toBeGreaterThanOrEqual(1);
    // A's automatic sync is off: a scheduled sync leaves it out.
    expect(body.details.autoSyncOff).toBeGreaterThanOrEqual(1);
    const event = await db.collection(EVENTS_COLLECTION).doc(body.eventId).get();
    expect(event.data()).toMatchObject({ operation: "process_all_users", source: "cron-endpoint" });

    const { job, expected } = await expectProcessed(activeJobId!);
    expect(job).toMatchObject({ type: "scheduled-sync", source: "cron-endpoint", attempts: 1 });
    expect(await storedTotals(db, USERS.b.uid, USERS.b.provider)).toEqual(expected);
    await processedThroughQueue(activeJobId!, USERS.b.provider);
  });

  it("a wrong x-cron-key gets 401 and enqueues nothing", async () => {
    const before = (await db.collection(JOBS_COLLECTION).count().get()).data().count;
    const reply = await cron(
      { operation: "process_all_users", timeframeDays: 1 },
      "wrong-cron-key-0123456789",
    );
    expect(reply.status).toBe(401);
    expect(reply.body).toMatchObject(errorShape("unauthenticated"));
    expect((await db.collection(JOBS_COLLECTION).count().get()).data().count).toBe(before);
  });

  it("worker {maxJobs: 10} processes a job whose retry has come due", async () => {
    const user = USERS.worker;
    await seed(user);
    // A job backed off after a failed attempt: created not yet due. Its task is scheduled for
    // then; the Cloud Tasks emulator ignores schedule times and runs it at once, so the run
    // finds it not due and has the task redelivered (after 10 s at the earliest).
    const [outcome] = await enqueueJobs({ db, clock: () => new Date(Date.now() + 600_000) }, [
      {
        userId: user.uid,
        providerId: user.provider,
        type: "manual-sync",
        timeframeDays: 3,
        source: "e2e",
      },
    ]);
    if (outcome?.status !== "queued") {
      throw new Error(`expected a queued job, got ${JSON.stringify(outcome)}`);
    }
    const { jobId } = outcome;
    await logged(jobId, "the early task's redelivery", {
      trigger: TASK_QUEUES[user.provider].functionName,
      message: "task redelivered: its job is not due yet",
    });
    expect(await jobStatus(jobId)).toBe("queued");
    // The backoff has passed.
    await jobRef(db, jobId).update({ nextAttemptAt: Timestamp.fromMillis(Date.now() - 1_000) });

    const reply = await curl("POST", "/api/integrations/worker", {
      headers: { "x-cron-key": CRON_SECRET },
      body: { maxJobs: 10 },
    });
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject(operationShape("process_queued_jobs"));
    const body = reply.body as OperationBody;
    expect(body.jobIds).toContain(jobId);
    expect(body.counts.succeeded).toBeGreaterThanOrEqual(1);
    const { job, expected } = await expectJobSynced(db, stack.world, jobId);
    expect(job.attempts).toBe(1);
    expect(await storedTotals(db, user.uid, user.provider)).toEqual(expected);
  });

  it("schedule with an admin's Firebase ID token queues every user's integrations, and the trigger syncs them", async () => {
    adminToken = await signInEmulatorUser(suite.hosts.auth, PROJECT_ID, ADMIN);
    const reply = await curl("POST", "/api/integrations/schedule", {
      headers: { Authorization: `Bearer ${adminToken}` },
      body: { allUsers: true, timeframeDays: 1 },
    });
    expect(reply.status).toBe(200);
    // allUsers is the fan-out operation (README, Endpoints).
    expect(reply.body).toMatchObject(operationShape("process_all_users"));
    const body = reply.body as OperationBody;
    // Manual syncs ignore the automatic-sync switch: A, B and the worker's user all get one.
    expect(body.counts.queued).toBe(3);
    expect(body.jobIds).toHaveLength(3);
    const synced = await Promise.all(body.jobIds.map((jobId) => expectProcessed(jobId)));
    expect(synced.map(({ job }) => job.userId).sort()).toEqual(
      [USERS.a.uid, USERS.b.uid, USERS.worker.uid].sort(),
    );
    for (const { job } of synced) {
      expect(job).toMatchObject({
        type: "manual-sync",
        source: "schedule-endpoint",
        timeframeDays: 1,
      });
    }
    await Promise.all(
      synced.map(({ job }, i) => processedThroughQueue(body.jobIds[i]!, job.providerId)),
    );
  });

  it("schedule {userId, timeframeDays: 7} with the admin's token queues that user's integration", async () => {
    const reply = await curl("POST", "/api/integrations/schedule", {
      headers: { Authorization: `Bearer ${adminToken}` },
      body: { userId: USERS.a.uid, timeframeDays: 7 },
    });
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject(operationShape("schedule"));
    const body = reply.body as OperationBody;
    expect(body.counts.queued).toBe(1);
    const [jobId] = body.jobIds;
    const { job, expected } = await expectProcessed(jobId!);
    expect(job).toMatchObject({ userId: USERS.a.uid, timeframeDays: 7 });
    // The widest window synced so far for A: every one of its rows is stored.
    expect(await storedTotals(db, USERS.a.uid, USERS.a.provider)).toEqual(expected);
  });

  it("schedule refuses a signed-in user who is not an admin (403)", async () => {
    const token = await signInEmulatorUser(suite.hosts.auth, PROJECT_ID, {
      uid: "e2e-not-admin",
      email: "not.admin@example.com",
      password: "not-admin-password-1",
    });
    const reply = await curl("POST", "/api/integrations/schedule", {
      headers: { Authorization: `Bearer ${token}` },
      body: { allUsers: true, timeframeDays: 1 },
    });
    expect(reply.status).toBe(403);
    expect(reply.body).toMatchObject(errorShape("permission_denied"));
  });

  it("status with the user's own ID token shows their integration and recent jobs", async () => {
    userBToken = await signInEmulatorUser(suite.hosts.auth, PROJECT_ID, {
      uid: USERS.b.uid,
      email: "user.b@example.com",
      password: "user-b-password-1",
    });
    const reply = await curl("GET", "/api/integrations/status", {
      headers: { Authorization: `Bearer ${userBToken}` },
    });
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({
      success: true,
      userId: USERS.b.uid,
      integrations: [
        {
          providerId: "meta",
          status: "active",
          accountCount: 1,
          lastSyncRequestedAt: expect.any(String) as string,
          lastSyncedAt: expect.any(String) as string,
          automation: { autoSync: true, cadenceHours: 24, lookbackDays: null },
          lastError: null,
          consecutiveFailures: 0,
          activeJobId: null,
        },
      ],
    });
    const { recentJobs } = reply.body as { recentJobs: Array<Record<string, unknown>> };
    // B's scheduled sync (cron) and manual sync (schedule), newest first, both succeeded.
    expect(recentJobs.map((job) => [job.type, job.status])).toEqual([
      ["manual-sync", "succeeded"],
      ["scheduled-sync", "succeeded"],
    ]);
    expect(JSON.stringify(reply.body)).not.toMatch(/accessToken|refreshToken|meta-at-|meta-rt-/);
  });

  it("automation is changed with PATCH (and only PATCH) by the owner, as the dashboard does", async () => {
    const change = { providerId: "meta", cadenceHours: 6, lookbackDays: 14 };
    const refused = await curl("POST", "/api/integrations/automation", {
      headers: { Authorization: `Bearer ${userBToken}` },
      body: change,
    });
    expect(refused.status).toBe(405);
    expect(refused.headers.get("allow")).toBe("PATCH");

    const reply = await curl("PATCH", "/api/integrations/automation", {
      headers: { Authorization: `Bearer ${userBToken}` },
      body: change,
    });
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual({
      success: true,
      providerId: "meta",
      automation: { autoSync: true, cadenceHours: 6, lookbackDays: 14 },
    });
    expect((await readIntegration(USERS.b.uid, "meta")).automation).toEqual({
      autoSync: true,
      cadenceHours: 6,
      lookbackDays: 14,
    });
  });
});

describe("scheduled functions, invoked through the Functions emulator as Cloud Scheduler invokes them", () => {
  const DAY_MS = 86_400_000;
  let staleJobId: string;
  let oldJobId: string;
  let oldEventId: string;

  beforeAll(async () => {
    await seed(USERS.enqueue, 1);
    // A job whose worker died: running, its lease long expired.
    await seed(USERS.stale);
    const leaseExpired = Timestamp.fromMillis(Date.now() - 3_600_000);
    staleJobId = await writeJob(USERS.stale, {
      status: "running",
      attempts: 1,
      leaseOwner: "dead-worker",
      leaseExpiresAt: leaseExpired,
      startedAt: Timestamp.fromMillis(Date.now() - 2 * 3_600_000),
    });
    await db
      .doc(integrationPath(USERS.stale.uid, USERS.stale.provider))
      .update({ activeJobId: staleJobId });
    // A job and an event from ten days ago: past the seven days kept.
    await seed(USERS.old);
    const tenDaysAgo = Timestamp.fromMillis(Date.now() - 10 * DAY_MS);
    oldJobId = await writeJob(USERS.old, {
      status: "succeeded",
      attempts: 1,
      createdAt: tenDaysAgo,
      updatedAt: tenDaysAgo,
      startedAt: tenDaysAgo,
      finishedAt: tenDaysAgo,
      expireAt: Timestamp.fromMillis(tenDaysAgo.toMillis() + 7 * DAY_MS),
    });
    const oldEvent = db.collection(EVENTS_COLLECTION).doc();
    await oldEvent.create({
      operation: "process_queued_jobs",
      source: "cloud-scheduler",
      outcome: "completed",
      startedAt: tenDaysAgo,
      durationMs: 10,
      counts: { queued: 0, processed: 0, succeeded: 0, failed: 0, retried: 0, skipped: 0 },
      errors: [],
      details: {},
      createdAt: tenDaysAgo,
      expireAt: Timestamp.fromMillis(tenDaysAgo.toMillis() + 7 * DAY_MS),
    });
    oldEventId = oldEvent.id;
    // Creating them fired processSyncJob, which must leave them alone (neither is queued).
    for (const jobId of [staleJobId, oldJobId]) {
      await logged(jobId, "processSyncJob's dispatch", {
        trigger: "processSyncJob",
        outcome: "not_queued",
      });
    }
    expect(await jobStatus(staleJobId)).toBe("running");
  });

  it("are exactly the four the guide schedules", () => {
    const scheduled = Object.entries(endpoints)
      .filter(([, endpoint]) => Boolean(endpoint.scheduleTrigger))
      .map(([name]) => name);
    expect(scheduled.sort()).toEqual(Object.keys(SCHEDULED_OPERATIONS).sort());
  });

  /** POSTs the function's emulator trigger URL with Cloud Scheduler's headers; returns its event. */
  async function invoke(name: string) {
    const operation = SCHEDULED_OPERATIONS[name];
    const startedAt = Date.now();
    const response = await fetch(suite.triggerUrl(name), {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        "X-CloudScheduler": "true",
        "X-CloudScheduler-JobName": `firebase-schedule-${name}-us-central1`,
        "X-CloudScheduler-ScheduleTime": new Date(startedAt).toISOString(),
      },
      body: "{}",
    });
    const text = await response.text();
    expect({ status: response.status, text }).toEqual({ status: 200, text: "" });
    // The handler resolved before the response: its event is already recorded.
    const events = await db
      .collection(EVENTS_COLLECTION)
      .where("operation", "==", operation)
      .where("source", "==", "cloud-scheduler")
      .get();
    const recorded = events.docs.filter(
      (doc) => (doc.get("createdAt") as Timestamp).toMillis() >= startedAt - 1_000,
    );
    expect(recorded).toHaveLength(1);
    expect(recorded[0]?.get("outcome")).toBe("completed");
    return recorded[0]!.data() as {
      counts: Record<string, number>;
      details: Record<string, unknown>;
    };
  }

  it("resetStaleJobs requeues the job whose lease expired, and its task runs it", async () => {
    const event = await invoke("resetStaleJobs");
    expect(event.details).toMatchObject({ requeued: 1, failed: 0 });
    const { job, expected } = await expectProcessed(staleJobId);
    expect(job.attempts).toBe(2);
    expect(job.lastError).toMatchObject({ code: "transient", reason: "lease_expired" });
    expect(await storedTotals(db, USERS.stale.uid, USERS.stale.provider)).toEqual(expected);
    expect(await readIntegration(USERS.stale.uid, USERS.stale.provider)).toMatchObject({
      activeJobId: null,
    });
    await logged(staleJobId, "the task run", {
      trigger: TASK_QUEUES[USERS.stale.provider].functionName,
      message: "job finished",
      outcome: "succeeded",
    });
  });

  it("sweepQueuedJobs dispatches a due job whose task was lost, and reads the window's outcomes", async () => {
    // Created running (the trigger leaves it alone), then made due without a task: a dispatch
    // that was lost.
    await seed(USERS.lost);
    const lostJobId = await writeJob(USERS.lost, {
      status: "running",
      leaseOwner: "nobody",
      leaseExpiresAt: Timestamp.fromMillis(Date.now() + 3_600_000),
    });
    await db
      .doc(integrationPath(USERS.lost.uid, USERS.lost.provider))
      .update({ activeJobId: lostJobId });
    await logged(lostJobId, "processSyncJob's dispatch", {
      trigger: "processSyncJob",
      outcome: "not_queued",
    });
    await jobRef(db, lostJobId).update({
      status: "queued",
      leaseOwner: null,
      leaseExpiresAt: null,
      nextAttemptAt: Timestamp.fromMillis(Date.now() - 1_000),
    });

    const event = await invoke("sweepQueuedJobs");
    // The window's one failed attempt: the stale job's, whose worker died (requeued above).
    expect(event.details).toMatchObject({
      dispatched: { enqueued: 1, errored: 0 },
      finished: { failed: 1, capped: false },
    });
    expect(event.counts).toMatchObject({ queued: 1, failed: 1 });
    const { job, expected } = await expectProcessed(lostJobId);
    expect(job.attempts).toBe(1);
    expect(await storedTotals(db, USERS.lost.uid, USERS.lost.provider)).toEqual(expected);
  });

  it("cleanupOldJobs deletes the finished job and the event older than seven days, and nothing recent", async () => {
    const jobsBefore = (await db.collection(JOBS_COLLECTION).count().get()).data().count;
    const event = await invoke("cleanupOldJobs");
    expect(event.details).toMatchObject({ jobsDeleted: 1, eventsDeleted: 1 });
    expect((await jobRef(db, oldJobId).get()).exists).toBe(false);
    expect((await db.collection(EVENTS_COLLECTION).doc(oldEventId).get()).exists).toBe(false);
    expect((await db.collection(JOBS_COLLECTION).count().get()).data().count).toBe(jobsBefore - 1);
    expect(await jobStatus(staleJobId)).toBe("succeeded");
  });

  it("scheduledEnqueue queues a scheduled sync for the integration whose cadence slot has come, which the trigger syncs", async () => {
    // The cron test's fan-out completed this hour's passes before C was connected, and a late
    // joiner waits for its cadence's next slot: start the hour afresh, as its next slot would.
    await db.doc(ENQUEUE_STATE_PATH).delete();
    const event = await invoke("scheduledEnqueue");
    const integration = await readIntegration(USERS.enqueue.uid, USERS.enqueue.provider);
    expect(integration.lastScheduledSlot).toMatch(/^1h-\d+$/);
    const jobId = integration.activeJobId;
    expect(jobId).toEqual(expect.any(String));
    expect(
      (event as unknown as { counts: { queued: number } }).counts.queued,
    ).toBeGreaterThanOrEqual(1);
    const { job, expected } = await expectProcessed(jobId!);
    expect(job).toMatchObject({ type: "scheduled-sync", source: "cloud-scheduler", attempts: 1 });
    expect(await storedTotals(db, USERS.enqueue.uid, USERS.enqueue.provider)).toEqual(expected);
    await processedThroughQueue(jobId!, USERS.enqueue.provider);
    // B's automatic sync got its new 6-hour slot too: let every job finish before the suite stops.
    await waitFor(
      "every job to finish",
      async () => {
        const active = await db
          .collection(JOBS_COLLECTION)
          .where("status", "in", ["queued", "running"])
          .get();
        return active.empty ? true : undefined;
      },
      { describe: suiteLog },
    );
  });
});

describe("secrets as deployed", () => {
  it("the cron endpoint accepts exactly the secret in .secret.local", async () => {
    const accepted = await cron({ operation: "reset_stale_jobs" });
    expect(accepted.status).toBe(200);
    expect(accepted.body).toMatchObject(operationShape("reset_stale_jobs"));

    const flipped = `${CRON_SECRET.slice(0, -1)}${CRON_SECRET.endsWith("0") ? "1" : "0"}`;
    const near = [
      flipped,
      `${CRON_SECRET}0`,
      CRON_SECRET.slice(0, -1),
      CRON_SECRET.toUpperCase(),
      // The unused previous secret's placeholder is not a key.
      "none",
    ].filter((key) => key !== CRON_SECRET);
    expect(near.length).toBeGreaterThanOrEqual(4);
    for (const key of near) {
      const reply = await cron({ operation: "reset_stale_jobs" }, key);
      expect({ key, status: reply.status }).toEqual({ key, status: 401 });
    }
    const without = await curl("POST", "/api/integrations/cron", {
      body: { operation: "reset_stale_jobs" },
    });
    expect(without.status).toBe(401);
    expect(without.body).toMatchObject(errorShape("unauthenticated"));
  });
});

// Last: the integration it connects would be one more for the fan-outs of the tests above.
it("gives a new integration its discovery, a sync of its recent days and its backfill plan, through the deployed startBackfillOnConnect", async () => {
  const user = USERS.connect;
  await seedSandboxIntegration(db, stack, user.uid, user.provider, { autoSync: false });
  await connected(user.uid, { discovery: "discovered", sync: "queued", backfill: "queued" });
  const stored = await readIntegration(user.uid, user.provider);
  // The sandbox login reaches the platform's accounts; the fixed list stays the selection.
  expect(stored.discoveredAt).not.toBeNull();
  expect(stored.accounts["6666666666"]).toMatchObject({ status: "active", selected: true });
  const plan = planSchema.parse((await db.doc(backfillPath(user.uid, user.provider)).get()).data());
  expect(plan).toMatchObject({ status: "active", source: "on-connect" });
  expect(Object.keys(plan.accounts)).toEqual(["6666666666"]);
  // The first sync, queued by the trigger, runs through the platform queue.
  const sync = await db
    .collection(JOBS_COLLECTION)
    .where("userId", "==", user.uid)
    .where("type", "==", "manual-sync")
    .get();
  expect(sync.docs).toHaveLength(1);
  await processedThroughQueue(sync.docs[0]!.id, user.provider);
});
