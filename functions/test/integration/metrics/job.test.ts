/**
 * Jobs store each account's rows as soon as that account is fetched, through the digests: the
 * real `runJob` against the sandbox Google Ads over HTTP and the official Firestore emulator,
 * every read, write and commit counted. A re-run over unchanged data reads digests only and
 * writes no metric; a refreshed token is stored before the rows it fetched, so a store that
 * fails cannot lose it.
 */
import { openCredentials, writeCredentials } from "../../../src/integrations/credentials";
import { credentialsPath } from "../../../src/integrations/model";
import { DEFAULT_LEASE_MS } from "../../../src/jobs/lease";
import { type ProcessDeps, runJob } from "../../../src/jobs/process";
import { enqueueJobs, jobRef, parseJob } from "../../../src/jobs/store";
import { METRICS_COLLECTION } from "../../../src/metrics/store";
import { recordingLogger } from "../../harness/auth";
import { type TestFirestore, testFirestore } from "../../harness/firestore";
import { type FirestoreMeter, meterFirestore } from "../../harness/firestore-meter";
import { manualClock, TEST_TOKEN_KEYS } from "../../harness/seed";
import {
  expectedTotals,
  seedSandboxIntegration,
  startTestStack,
  storedTotals,
  type TestStack,
} from "../../harness/stack";

const IDS = ["4100000001", "4100000002", "4100000003"];
let firestore: TestFirestore;
let meter: FirestoreMeter;
let stack: TestStack;
let users = 0;

beforeAll(async () => {
  firestore = testFirestore("metrics-job");
  meter = meterFirestore(firestore.db);
  stack = await startTestStack(
    IDS.map((id, i) => ({
      provider: "google" as const,
      id,
      name: `G${i + 1}`,
      timeZone: ["UTC", "Europe/Paris", "America/New_York"][i]!,
      currency: "EUR",
      campaigns: 6,
    })),
  );
});
afterAll(async () => {
  meter.restore();
  await stack.stop();
  await firestore.close();
});

// The sandbox's days follow the real clock, so the engine's does too.
const deps = (): ProcessDeps => ({
  db: firestore.db,
  clock: manualClock(new Date().toISOString()).clock,
  fetchMetrics: stack.newRuntime(),
  logger: recordingLogger(),
  owner: "worker",
  leaseMs: DEFAULT_LEASE_MS,
  tokenKeys: TEST_TOKEN_KEYS,
});

async function queue(userId: string): Promise<string> {
  const [queued] = await enqueueJobs(deps(), [
    { userId, providerId: "google", type: "manual-sync", timeframeDays: 6, source: "test" },
  ]);
  if (queued?.status !== "queued") {
    throw new Error("expected a queued job");
  }
  return queued.jobId;
}

const readJob = async (jobId: string) =>
  parseJob(jobId, (await jobRef(firestore.db, jobId).get()).data()).job;

const reportsFor = (accountId: string) =>
  stack.world.requestLog.filter(
    (entry) => entry.accountId === accountId && /searchStream$/.test(entry.path),
  );

it("stores each account as soon as it is fetched, and a re-run reads digests and writes no row", async () => {
  const userId = `job-user-${(users += 1)}`;
  await seedSandboxIntegration(firestore.db, stack, userId, "google");
  const jobId = await queue(userId);
  meter.reset();
  expect((await runJob(deps(), jobId)).outcome).toBe("succeeded");

  // The first account's rows were committed before the last account was asked for its report.
  const firstRows = meter.commitLog.find((commit) =>
    commit.collections.includes(METRICS_COLLECTION),
  );
  const lastReport = reportsFor(IDS[2]!).at(-1);
  expect(firstRows && lastReport && firstRows.at < lastReport.at).toBe(true);
  const job = await readJob(jobId);
  // Each account's own days, as the job reports them.
  const days = new Map(
    job.result!.accounts.map((a) => [a.accountId, { since: a.since ?? "", until: a.until ?? "" }]),
  );
  const expected = expectedTotals(stack.world, "google", (account) => days.get(account.id)!);
  expect(await storedTotals(firestore.db, userId, "google")).toEqual(expected);
  expect(job.result).toMatchObject({
    rowsFetched: expected.rows,
    rowsWritten: expected.rows,
    rowsUnchanged: 0,
    rowsZeroed: 0,
  });

  const rerun = await queue(userId);
  meter.reset();
  expect((await runJob(deps(), rerun)).outcome).toBe("succeeded");
  const usage = meter.usage();
  expect(usage.readsIn[METRICS_COLLECTION]).toBeUndefined();
  expect(usage.writesIn[METRICS_COLLECTION]).toBeUndefined();
  expect(usage.writesIn.metricDigests).toBeUndefined();
  // The coverage mark, then per account its window's months (one or two) read and listed.
  expect(usage.readsIn.metricDigests).toBeLessThanOrEqual(1 + 2 * IDS.length * 2);
  expect((await readJob(rerun)).result).toMatchObject({
    rowsFetched: expected.rows,
    rowsWritten: 0,
    rowsUnchanged: expected.rows,
    rowsZeroed: 0,
  });
});

it("stores a refreshed token before its rows, so a store that fails does not lose it", async () => {
  const userId = `job-user-${(users += 1)}`;
  await seedSandboxIntegration(firestore.db, stack, userId, "google");
  // A token about to expire: the fetch refreshes it before the first account.
  const expiring = stack.world.issueTokens("google", { refreshable: true, lifetimeMs: 1_000 });
  await writeCredentials(firestore.db, TEST_TOKEN_KEYS, userId, "google", expiring);
  const jobId = await queue(userId);
  meter.failCommit((collections) => collections.includes(METRICS_COLLECTION));
  const before = reportsFor(IDS[1]!).length;

  expect(await runJob(deps(), jobId)).toMatchObject({
    outcome: "retry_scheduled",
    errorCode: "transient",
  });
  // The failed store ended the fetch: the second account was never asked.
  expect(reportsFor(IDS[1]!)).toHaveLength(before);
  const stored = openCredentials(
    TEST_TOKEN_KEYS,
    userId,
    "google",
    (await firestore.db.doc(credentialsPath(userId, "google")).get()).data(),
  );
  expect(stored.accessToken).not.toBe(expiring.accessToken);
  expect(stored.refreshToken).toBeDefined();
  expect(stack.world.checkAccessToken("google", stored.accessToken)).toBe("valid");
});
