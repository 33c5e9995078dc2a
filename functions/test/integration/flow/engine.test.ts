/**
 * The sync engine end to end at the domain level, against the official Firestore emulator and the
 * sandbox platforms over real HTTP, with a clock the tests move: crash recovery, platform waits,
 * revoked tokens, exhausted attempts and partial account failures.
 */
import { integrationPath, integrationSchema } from "../../../src/integrations/model";
import { DEFAULT_LEASE_MS } from "../../../src/jobs/lease";
import { type ProcessDeps, runJob } from "../../../src/jobs/process";
import { claimJob, enqueueJobs, jobRef, parseJob, resetStaleJobs } from "../../../src/jobs/store";
import { processDueJobs } from "../../../src/jobs/worker";
import { storeMetrics } from "../../../src/metrics/store";
import { rangeIn } from "../../../src/providers/ranges";
import type { MetricRow, ProviderId } from "../../../src/providers/types";
import { createLogger } from "../../../src/shared/logger";
import { type TestFirestore, testFirestore } from "../../harness/firestore";
import { manualClock, TEST_TOKEN_KEYS } from "../../harness/seed";
import {
  expectedTotals,
  seedSandboxIntegration,
  startTestStack,
  storedTotals,
  type TestStack,
} from "../../harness/stack";

let firestore: TestFirestore;
let stack: TestStack;
let time: ReturnType<typeof manualClock>;
let runtime: TestStack["runtime"];
let users = 0;
/** A batch deadline no test reaches. */
const FAR = new Date("2100-01-01T00:00:00Z");

beforeAll(async () => {
  firestore = testFirestore("engine");
  stack = await startTestStack([
    {
      provider: "google",
      id: "1111111111",
      name: "G1",
      timeZone: "Europe/Paris",
      currency: "EUR",
      campaigns: 3,
    },
    {
      provider: "google",
      id: "2222222222",
      name: "G2",
      timeZone: "UTC",
      currency: "USD",
      campaigns: 2,
    },
    {
      provider: "meta",
      id: "300000000000001",
      name: "M1",
      timeZone: "UTC",
      currency: "USD",
      campaigns: 2,
    },
    {
      provider: "tiktok",
      id: "7000000000000000009",
      name: "T1",
      timeZone: "UTC",
      currency: "USD",
      campaigns: 2,
    },
  ]);
});
afterAll(async () => {
  await stack.stop();
  await firestore.close();
});
beforeEach(() => {
  // "Now" for the engine, fixed at mid-morning so that advancing it never crosses midnight (which
  // would move the sync window by a day); the sandbox's tokens and data do not depend on it.
  time = manualClock("2026-11-20T10:00:00Z");
  // Each test is a fresh function instance: a platform pause from one test must not leak.
  runtime = stack.newRuntime();
  stack.world.setFaults("google", {});
  stack.world.setFaults("meta", {});
});

const deps = (overrides: Partial<ProcessDeps> = {}): ProcessDeps => ({
  db: firestore.db,
  clock: time.clock,
  fetchMetrics: runtime,
  logger: createLogger({ test: "engine" }),
  owner: "worker-a",
  leaseMs: DEFAULT_LEASE_MS,
  tokenKeys: TEST_TOKEN_KEYS,
  ...overrides,
});

async function newJob(providerId: ProviderId, maxAttempts?: number) {
  const userId = `engine-user-${(users += 1)}`;
  await seedSandboxIntegration(firestore.db, stack, userId, providerId);
  const [outcome] = await enqueueJobs(
    deps(),
    [{ userId, providerId, type: "manual-sync", timeframeDays: 2, source: "test" }],
    maxAttempts,
  );
  if (outcome?.status !== "queued") {
    throw new Error("expected a queued job");
  }
  return { userId, jobId: outcome.jobId };
}

const readJob = async (jobId: string) =>
  parseJob(jobId, (await jobRef(firestore.db, jobId).get()).data()).job;
const readIntegration = async (userId: string, providerId: ProviderId) =>
  integrationSchema.parse(
    (await firestore.db.doc(integrationPath(userId, providerId)).get()).data(),
  );

it("recovers a job whose worker died mid-way without duplicating a metric", async () => {
  const { userId, jobId } = await newJob("google");
  // The dying worker claims the job and writes some of its metrics, then disappears.
  await claimJob(deps(), jobId, "worker-dead", DEFAULT_LEASE_MS);
  // The job's window at 10:00 UTC: Paris and UTC are on the same day.
  const window = { days: 2, at: time.clock().getTime() };
  const range = rangeIn(window, "Europe/Paris");
  const rows: MetricRow[] = [];
  const fetched = await runtime("google", {
    credentials: stack.world.issueTokens("google", { lifetimeMs: 3_600_000 }),
    accountIds: ["1111111111"],
    window,
    onAccount: (account) => Promise.resolve(void rows.push(...account.rows)),
  });
  expect(fetched.accounts[0]).toMatchObject({ status: "ok", range, timeZone: "Europe/Paris" });
  // It stored the rows of its account, then died before recording the outcome.
  await storeMetrics(
    firestore.db,
    userId,
    "google",
    { rows, accounts: [{ accountId: "1111111111", status: "ok", range }] },
    { jobId, now: time.clock() },
  );

  // Before the lease runs out nothing is reset; after it, the job is queued again.
  time.advance(DEFAULT_LEASE_MS - 1);
  expect(await resetStaleJobs(deps(), { pageSize: 10, deadline: time.later(60_000) })).toEqual({
    requeued: 0,
    failed: 0,
    invalid: 0,
    errored: 0,
    stoppedBy: "done",
    requeuedIds: [],
  });
  time.advance(2);
  expect(await resetStaleJobs(deps(), { pageSize: 10, deadline: time.later(60_000) })).toEqual({
    requeued: 1,
    failed: 0,
    invalid: 0,
    errored: 0,
    stoppedBy: "done",
    requeuedIds: [jobId],
  });

  const { outcome } = await runJob(deps({ owner: "worker-b" }), jobId);
  expect(outcome).toBe("succeeded");
  const job = await readJob(jobId);
  expect(job.attempts).toBe(2);
  const expected = expectedTotals(stack.world, "google", range);
  expect(await storedTotals(firestore.db, userId, "google")).toEqual(expected);
  expect(job.result).toMatchObject({
    rowsFetched: expected.rows,
    rowsUnchanged: rows.length,
    rowsWritten: expected.rows - rows.length,
  });
  // The dead worker coming back cannot claim or finish it.
  expect((await runJob(deps({ owner: "worker-dead" }), jobId)).outcome).toBe("not_claimed");
});

it("defers a job cut by its run's deadline without a platform request or a spent attempt", async () => {
  const { jobId } = await newJob("google");
  const before = stack.world.requestLog.length;
  // The deadline is on the provider runtime's clock, the real one: already passed.
  const outcome = await runJob(deps({ deadline: new Date(Date.now() - 1) }), jobId);
  expect(outcome).toMatchObject({ outcome: "retry_scheduled", errorCode: "rate_limited" });
  expect(stack.world.requestLog.length).toBe(before);
  const job = await readJob(jobId);
  expect(job).toMatchObject({ status: "queued", attempts: 0, deferrals: 1 });
  expect(job.lastError).toMatchObject({ code: "rate_limited", reason: "run_deadline" });
  // The next run, with time left, completes it.
  time.set(job.nextAttemptAt.toDate().toISOString());
  expect((await runJob(deps({ deadline: FAR }), jobId)).outcome).toBe("succeeded");
});

it("defers a rate-limited job until the platform's wait has passed, then completes it", async () => {
  const { userId, jobId } = await newJob("google");
  stack.world.setFaults("google", { rateLimit: { count: 1, retryAfterSeconds: 600 } });
  expect((await runJob(deps(), jobId)).outcome).toBe("retry_scheduled");
  const deferred = await readJob(jobId);
  // A deferral: no attempt spent, due after the platform's wait plus at most 10 % of it.
  expect(deferred).toMatchObject({ status: "queued", attempts: 0, deferrals: 1 });
  expect(deferred.lastError).toMatchObject({ code: "rate_limited", retryAfterMs: 600_000 });
  const dueIn = deferred.nextAttemptAt.toMillis() - time.clock().getTime();
  expect(dueIn).toBeGreaterThanOrEqual(600_000);
  expect(dueIn).toBeLessThanOrEqual(660_000);

  // Another instance (fresh limiter) sweeping just before the wait ends finds nothing due.
  const sweeper = deps({ fetchMetrics: stack.newRuntime(), owner: "sweeper" });
  time.advance(dueIn - 1_000);
  expect(
    (await processDueJobs(sweeper, { maxJobs: 10, maxUsers: 10, deadline: FAR })).counts.processed,
  ).toBe(0);
  time.advance(1_000);
  const swept = await processDueJobs(sweeper, { maxJobs: 10, maxUsers: 10, deadline: FAR });
  expect(swept.jobIds).toContain(jobId);
  expect((await readJob(jobId)).status).toBe("succeeded");
  expect((await readIntegration(userId, "google")).lastSyncedAt).not.toBeNull();
});

it("fails at once on a revoked token, marks the integration needs_reauth and never retries", async () => {
  const { userId, jobId } = await newJob("google");
  stack.world.setFaults("google", { revokeTokens: true });
  const before = stack.world.requestLog.length;
  expect((await runJob(deps(), jobId)).outcome).toBe("failed");
  const job = await readJob(jobId);
  expect(job).toMatchObject({ status: "failed", attempts: 1 });
  expect(job.lastError?.code).toBe("auth");
  expect(await readIntegration(userId, "google")).toMatchObject({
    status: "needs_reauth",
    activeJobId: null,
  });
  // One report call (401) and one refused refresh: no retry loop.
  expect(stack.world.requestLog.length - before).toBe(2);
  time.advance(24 * 3_600_000);
  expect(
    (await processDueJobs(deps(), { maxJobs: 50, maxUsers: 50, deadline: FAR })).jobIds,
  ).not.toContain(jobId);
});

it("fails a job after its attempts are spent, keeping the last error", async () => {
  const { userId, jobId } = await newJob("meta", 2);
  stack.world.setFaults("meta", { serverErrors: 1_000 });
  expect((await runJob(deps(), jobId)).outcome).toBe("retry_scheduled");
  time.advance(24 * 3_600_000);
  expect((await runJob(deps(), jobId)).outcome).toBe("failed");
  const job = await readJob(jobId);
  expect(job).toMatchObject({ status: "failed", attempts: 2 });
  expect(job.lastError?.code).toBe("transient");
  expect((await readIntegration(userId, "meta")).consecutiveFailures).toBe(1);
});

it("keeps the rows of healthy accounts and reports the one that is forbidden", async () => {
  const { userId, jobId } = await newJob("google");
  stack.world.setFaults("google", { forbiddenAccounts: ["2222222222"] });
  expect((await runJob(deps(), jobId)).outcome).toBe("succeeded");
  const job = await readJob(jobId);
  expect(job.result?.accounts).toEqual([
    expect.objectContaining({ accountId: "1111111111", status: "ok", rows: 9 }),
    expect.objectContaining({ accountId: "2222222222", status: "failed" }),
  ]);
  expect((await readIntegration(userId, "google")).lastError?.code).toBe("permanent");
  expect((await storedTotals(firestore.db, userId, "google")).rows).toBe(9);
});
