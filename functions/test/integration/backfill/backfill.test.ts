/**
 * The historical backfill end to end at the domain level: plans in the official Firestore
 * emulator, the sandbox platforms over real HTTP in their real formats, the real job runner and
 * dispatch (`runDispatchedJob`, tasks kept by `recordingQueues`), and a clock the tests move. A
 * two-year history stored exactly once, run by run under a small request budget, newest first;
 * a worker killed inside a slice; a nightly sync that runs while a backfill holds its plan; the
 * platform's retention; and a plan extended without losing or refetching what it has.
 *
 * Google is the platform of record here: it has no asynchronous report path, so the sandbox logs
 * one query per slice and the query log is the list of slices asked for. TikTok's report tasks
 * (one task, one logged query, per slice) run one backfill of their own.
 */
import { deleteApp, initializeApp } from "firebase-admin/app";
import { type Firestore, getFirestore } from "firebase-admin/firestore";

import { sandboxProviderSettings } from "../../../dev/sandbox";
import { daysBetween, type SandboxAccount } from "../../../dev/sandbox/world";
import {
  type AccountPlan,
  type Plan,
  planSchema,
  progressOf,
  sliceCount,
  sliceRange,
} from "../../../src/backfill/plan";
import {
  BACKFILL_PAUSE_MS,
  type BackfillOutcome,
  backfillPath,
  requestBackfill,
  sinceDaysBack,
} from "../../../src/backfill/store";
import { writeCredentials } from "../../../src/integrations/credentials";
import { integrationPath, integrationSchema } from "../../../src/integrations/model";
import { type DispatchDeps, dispatchJobs, runDispatchedJob } from "../../../src/jobs/dispatch";
import { DEFAULT_LEASE_MS } from "../../../src/jobs/lease";
import { type MetricsFetcher, type ProcessDeps, runJob } from "../../../src/jobs/process";
import { enqueueJobs, jobRef, parseJob, resetStaleJobs } from "../../../src/jobs/store";
import { METRICS_COLLECTION } from "../../../src/metrics/store";
import { ADAPTERS, createProviderRuntime } from "../../../src/providers/registry";
import { parseProviderSettings } from "../../../src/providers/settings";
import type { DateRange, ProviderId } from "../../../src/providers/types";
import { EVENTS_COLLECTION } from "../../../src/scheduler/events";
import { recordingLogger } from "../../harness/auth";
import { type TestFirestore, testFirestore } from "../../harness/firestore";
import { meterFirestore } from "../../harness/firestore-meter";
import { sandboxAccount } from "../../harness/sandbox";
import { manualClock, TEST_TOKEN_KEYS } from "../../harness/seed";
import { startTestStack, type TestStack } from "../../harness/stack";
import { type RecordingQueues, recordingQueues } from "../../harness/tasks";

/** Mid-morning: advancing the clock by minutes never crosses midnight (which moves the days). */
const START = "2026-11-20T10:00:00Z";
const time = manualClock(START);

const TWO_YEARS = sandboxAccount("google", "5100000001", 50, "UTC", "EUR", "Two years");
const CRASH = sandboxAccount("google", "5100000002", 10, "UTC", "EUR", "Crash");
const SMALL = sandboxAccount("google", "5100000003", 3, "UTC", "EUR", "Small");
const OLD = sandboxAccount("google", "5100000004", 2, "UTC", "EUR", "Old");
const TIKTOK = sandboxAccount("tiktok", "7100000000000000001", 3, "UTC", "USD", "TikTok");
const META = sandboxAccount("meta", "510000000000001", 3, "UTC", "USD", "Meta");

let firestore: TestFirestore;
let stack: TestStack;
let runtime: MetricsFetcher;
let queues: RecordingQueues;
let users = 0;

beforeAll(async () => {
  firestore = testFirestore("backfill");
  // The sandbox's days follow the test's clock: which days exist, where retention starts.
  stack = await startTestStack([TWO_YEARS, CRASH, SMALL, OLD, TIKTOK, META], () =>
    time.clock().getTime(),
  );
});
afterAll(async () => {
  await stack.stop();
  await firestore.close();
});
beforeEach(() => {
  time.set(START);
  // Each test is a fresh function instance: its own limiters.
  runtime = stack.newRuntime();
  queues = recordingQueues();
});

const deps = (overrides: Partial<ProcessDeps> = {}): ProcessDeps & DispatchDeps => ({
  db: firestore.db,
  clock: time.clock,
  fetchMetrics: runtime,
  logger: recordingLogger(),
  owner: "worker",
  leaseMs: DEFAULT_LEASE_MS,
  tokenKeys: TEST_TOKEN_KEYS,
  queues: queues.queues,
  ...overrides,
});

/**
 * An active integration holding `accounts`, with tokens the sandbox issued. The provider
 * runtime judges a token's expiry on the real clock, the sandbox on the test's: a Google token
 * valid for years on both is never refreshed, so the requests counted are the reports alone.
 */
async function seed(userId: string, accounts: SandboxAccount[]): Promise<void> {
  const providerId = accounts[0]!.provider;
  await firestore.db.doc(integrationPath(userId, providerId)).set({
    status: "active",
    accountIds: accounts.map((account) => account.id),
    automation: { autoSync: true, cadenceHours: 24, lookbackDays: null },
  });
  const tokens =
    providerId === "google"
      ? stack.world.issueTokens(providerId, {
          refreshable: true,
          lifetimeMs: 10 * 365 * 86_400_000,
        })
      : stack.world.issueTokens(providerId);
  await writeCredentials(firestore.db, TEST_TOKEN_KEYS, userId, providerId, tokens);
}

/**
 * The runtime behind a gate: a fetch says it has started (`inside`), then waits for `release` —
 * a run held inside its first platform call while the test does something else.
 */
function gatedFetcher(): { gated: MetricsFetcher; inside: Promise<void>; release: () => void } {
  let entered!: () => void;
  const inside = new Promise<void>((resolve) => (entered = resolve));
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const gated: MetricsFetcher = async (providerId, fetchRequest) => {
    entered();
    await gate;
    return runtime(providerId, fetchRequest);
  };
  return { gated, inside, release };
}

const newUser = () => `backfill-user-${(users += 1)}`;

async function request(
  userId: string,
  providerId: ProviderId,
  daysBack: number,
): Promise<BackfillOutcome> {
  return requestBackfill(
    deps(),
    { userId, providerId, since: sinceDaysBack(time.clock(), daysBack), source: "test" },
    ADAPTERS[providerId].history,
  );
}

const readPlan = async (userId: string, providerId: ProviderId = "google"): Promise<Plan> =>
  planSchema.parse((await firestore.db.doc(backfillPath(userId, providerId)).get()).data());
const readJob = async (jobId: string) =>
  parseJob(jobId, (await jobRef(firestore.db, jobId).get()).data()).job;

/** The plan's slices of an account, newest first, as `since..until`. */
const slicesOf = (account: AccountPlan): string[] =>
  Array.from({ length: sliceCount(account) }, (_, index) => {
    const range = sliceRange(account, index);
    return `${range.since}..${range.until}`;
  });

/** The report queries the sandbox answered for an account, in arrival order. */
const queriesOf = (account: SandboxAccount, from = 0): string[] =>
  stack.world.queryLog
    .slice(from)
    .filter((query) => query.provider === account.provider && query.accountId === account.id)
    .map((query) => `${query.since}..${query.until}`);

interface RunStat {
  jobId: string;
  slices: number;
  requests: number;
  rowsWritten: number;
  rowsUnchanged: number;
}

/**
 * Runs a plan's chain of jobs to its end as the platform queues would: the first job dispatched
 * as its creation's trigger does, then each run's task, the clock moved to the task's schedule
 * time (the pause after the previous run), the next run dispatched by the run itself.
 */
async function runChain(
  firstJobId: string,
  account: SandboxAccount,
  overrides: Partial<ProcessDeps> = {},
): Promise<RunStat[]> {
  const d = deps(overrides);
  await dispatchJobs(d, [firstJobId]);
  const runs: RunStat[] = [];
  for (let jobId: string | undefined = firstJobId; jobId !== undefined;) {
    const current: string = jobId;
    const task = queues.tasks.filter((enqueued) => enqueued.task.jobId === current).at(-1);
    if (!task) {
      throw new Error(`job ${current} was never dispatched`);
    }
    if (task.scheduleTime > time.clock()) {
      time.set(new Date(task.scheduleTime.getTime() + 1).toISOString());
    }
    const requestsBefore = requestsTo(account);
    const run = await runDispatchedJob(d, task.task);
    if (run.outcome !== "succeeded") {
      const { lastError } = await readJob(current);
      throw new Error(`run of ${current}: ${run.outcome}, ${JSON.stringify(lastError)}`);
    }
    const { result } = await readJob(current);
    runs.push({
      jobId: current,
      slices: result!.accounts.length,
      requests: requestsTo(account) - requestsBefore,
      rowsWritten: result!.rowsWritten,
      rowsUnchanged: result!.rowsUnchanged,
    });
    if (run.nextJobId !== undefined) {
      // Dispatched at once, for after the pause.
      const next = queues.tasks.find((enqueued) => enqueued.task.jobId === run.nextJobId);
      expect(next?.scheduleTime.getTime()).toBe(time.clock().getTime() + BACKFILL_PAUSE_MS);
    }
    jobId = run.nextJobId;
    if (runs.length > 50) {
      throw new Error("the chain does not end");
    }
  }
  return runs;
}

/** API requests the sandbox received for an account (report queries, tasks, zone lookups). */
const requestsTo = (account: SandboxAccount): number =>
  stack.world.requestLog.filter(
    (entry) => entry.provider === account.provider && entry.accountId === account.id,
  ).length;

interface Totals {
  rows: number;
  impressions: number;
  clicks: number;
  spendMicros: bigint;
}
const noTotals = (): Totals => ({ rows: 0, impressions: 0, clicks: 0, spendMicros: 0n });

/** Per campaign, what the sandbox generated for the account over the days. */
function expectedByCampaign(account: SandboxAccount, range: DateRange): Map<string, Totals> {
  const totals = new Map<string, Totals>();
  for (const campaign of stack.world.campaigns(account)) {
    const sum = noTotals();
    for (const date of daysBetween(range.since, range.until)) {
      const metrics = stack.world.metrics(account, campaign.id, date);
      sum.rows += 1;
      sum.impressions += metrics.impressions;
      sum.clicks += metrics.clicks;
      sum.spendMicros += metrics.spendMicros;
    }
    totals.set(campaign.id, sum);
  }
  return totals;
}

/** Per campaign, what is stored for the account over the days (one document per row). */
async function storedByCampaign(
  db: Firestore,
  userId: string,
  account: SandboxAccount,
  range: DateRange,
): Promise<Map<string, Totals>> {
  const docs = (
    await db
      .collection(`users/${userId}/${METRICS_COLLECTION}`)
      .where("accountId", "==", account.id)
      .select("provider", "campaignId", "date", "impressions", "clicks", "spendMicros")
      .get()
  ).docs;
  const totals = new Map<string, Totals>();
  for (const doc of docs) {
    const date = doc.get("date") as string;
    if (doc.get("provider") !== account.provider || date < range.since || date > range.until) {
      throw new Error(`a row outside the plan's days: ${doc.id}`);
    }
    const campaignId = doc.get("campaignId") as string;
    const sum = totals.get(campaignId) ?? noTotals();
    totals.set(campaignId, sum);
    sum.rows += 1;
    sum.impressions += doc.get("impressions") as number;
    sum.clicks += doc.get("clicks") as number;
    sum.spendMicros += BigInt(doc.get("spendMicros") as number);
  }
  return totals;
}

const accountOf = (plan: Plan, account: SandboxAccount): AccountPlan => plan.accounts[account.id]!;
const rangeOf = (account: AccountPlan): DateRange => ({
  since: account.since,
  until: account.until,
});
const planOf = (outcome: BackfillOutcome): Plan => {
  if (outcome.status === "skipped") {
    throw new Error(`the backfill was skipped: ${outcome.reason}`);
  }
  return outcome.plan;
};
const expectQueued = (outcome: BackfillOutcome): string => {
  if (outcome.status !== "queued") {
    throw new Error(`expected a queued backfill, got ${outcome.status}`);
  }
  return outcome.jobId;
};

it("stores a two-year history exactly once, newest first, one query per slice, run by run", async () => {
  const userId = newUser();
  await seed(userId, [TWO_YEARS]);
  const queriesBefore = stack.world.queryLog.length;
  const started = Date.now();
  const jobId = expectQueued(await request(userId, "google", 730));
  const budget = 3;
  const runs = await runChain(jobId, TWO_YEARS, { backfillRunRequests: budget });
  const seconds = (Date.now() - started) / 1000;

  const plan = await readPlan(userId);
  const account = accountOf(plan, TWO_YEARS);
  // 730 days back, before the syncs' 15 days and the zone day: 714 days, 8 slices of 90.
  expect(rangeOf(account)).toEqual({ since: "2024-11-21", until: "2026-11-04" });
  const slices = slicesOf(account);
  expect(slices).toHaveLength(8);

  // Each slice asked for once, newest first: the query log is the plan's slices in order.
  const queries = queriesOf(TWO_YEARS, queriesBefore);
  expect(queries).toEqual(slices);
  const untils = queries.map((query) => query.split("..")[1]!);
  untils.slice(1).forEach((until, i) => expect(until < untils[i]!).toBe(true));

  // The budget held: a run starts no slice once its requests reach it, so it took several.
  expect(runs.map((run) => run.requests)).toEqual([3, 3, 2]);
  expect(runs.map((run) => run.slices)).toEqual([3, 3, 2]);
  expect(plan).toMatchObject({ status: "complete", jobId: null, runs: 3, requests: 8 });
  const progress = progressOf(plan, time.clock());
  expect(progress).toMatchObject({
    slicesDone: 8,
    slicesTotal: 8,
    oldestCompleteDate: "2024-11-21",
  });
  expect(account).toMatchObject({ status: "complete", done: [0, 1, 2, 3, 4, 5, 6, 7] });

  // Every row once: per campaign, the stored totals are the sandbox's for the plan's days.
  const expected = expectedByCampaign(TWO_YEARS, rangeOf(account));
  const stored = await storedByCampaign(firestore.db, userId, TWO_YEARS, rangeOf(account));
  expect(stored).toEqual(expected);
  const rows = 714 * 50;
  expect(runs.reduce((sum, run) => sum + run.rowsWritten, 0)).toBe(rows);
  expect(runs.reduce((sum, run) => sum + run.rowsUnchanged, 0)).toBe(0);
  expect(account.rowsWritten).toBe(rows);
  process.stdout.write(
    `two-year backfill: ${runs.length} runs, ${queries.length} slices, ` +
      `${runs.reduce((sum, run) => sum + run.requests, 0)} requests, ${rows} rows, ${seconds.toFixed(1)} s\n`,
  );
}, 180_000);

it("survives a worker killed inside a slice: one slice asked twice, totals still exact", async () => {
  const userId = newUser();
  await seed(userId, [CRASH]);
  const queriesBefore = stack.world.queryLog.length;
  // 400 days back: 385 days, 5 slices of 900 rows, each stored in several commits.
  const jobId = expectQueued(await request(userId, "google", 400));

  // The dying worker is another instance: its own Firestore client, which stops for good at the
  // second commit of slice 1's rows. Killed, a process neither throws nor returns — nothing of
  // the run after that point happens: not the rest of the rows, not the slice's record, not the
  // job's outcome (a thrown error would have been caught and the job failed and requeued).
  const app = initializeApp({ projectId: firestore.projectId }, `dying-${userId}`);
  const dyingDb = getFirestore(app);
  const meter = meterFirestore(dyingDb);
  let fetches = 0;
  let armedAt: number | undefined;
  let killed!: () => void;
  const dead = new Promise<void>((resolve) => (killed = resolve));
  meter.hooks.beforeCommit = () => {
    const rowsCommitted =
      armedAt !== undefined &&
      meter.commitLog
        .slice(armedAt)
        .some((commit) => commit.collections.includes(METRICS_COLLECTION));
    if (!rowsCommitted) {
      return;
    }
    killed();
    return new Promise<void>(() => undefined);
  };
  const dyingFetch: MetricsFetcher = async (providerId, fetchRequest) => {
    fetches += 1;
    if (fetches !== 2) {
      return runtime(providerId, fetchRequest);
    }
    return runtime(providerId, {
      ...fetchRequest,
      onAccount: async (fetched) => {
        armedAt = meter.commitLog.length;
        await fetchRequest.onAccount?.(fetched);
      },
    });
  };
  void runJob(deps({ db: dyingDb, fetchMetrics: dyingFetch, owner: "worker-dying" }), jobId);
  await dead;

  // Some of slice 1's rows are stored, slice 0 is recorded, slice 1 is not; the job still runs.
  const during = await readPlan(userId);
  expect(accountOf(during, CRASH).done).toEqual([0]);
  const plannedSlices = slicesOf(accountOf(during, CRASH));
  const slice1 = sliceRange(accountOf(during, CRASH), 1);
  const partial = await storedByCampaign(
    firestore.db,
    userId,
    CRASH,
    rangeOf(accountOf(during, CRASH)),
  );
  const partialRows = [...partial.values()].reduce((sum, t) => sum + t.rows, 0);
  expect(partialRows).toBeGreaterThan(90 * 10);
  expect(partialRows).toBeLessThan(2 * 90 * 10);
  expect(await readJob(jobId)).toMatchObject({ status: "running", leaseOwner: "worker-dying" });
  expect(queriesOf(CRASH, queriesBefore)).toEqual(plannedSlices.slice(0, 2));

  // Past the lease the stale reset requeues it, and another worker finishes the backfill.
  time.advance(DEFAULT_LEASE_MS + 1);
  const reset = await resetStaleJobs(deps(), { pageSize: 10, deadline: time.later(60_000) });
  expect(reset.requeuedIds).toEqual([jobId]);
  const runs = await runChain(jobId, CRASH, { owner: "worker-b" });
  expect(runs).toHaveLength(1);
  expect(await readJob(jobId)).toMatchObject({ status: "succeeded", attempts: 2 });

  const plan = await readPlan(userId);
  const account = accountOf(plan, CRASH);
  expect(plan.status).toBe("complete");
  expect(account.done).toEqual([0, 1, 2, 3, 4]);
  // Only slice 1 was asked for twice, and its rows stored before the kill read unchanged.
  const queries = queriesOf(CRASH, queriesBefore);
  expect(queries).toEqual([...plannedSlices.slice(0, 2), ...plannedSlices.slice(1)]);
  expect(queries.filter((query) => query === `${slice1.since}..${slice1.until}`)).toHaveLength(2);
  expect(runs[0]!.rowsUnchanged).toBe(partialRows - 90 * 10);
  expect(await storedByCampaign(firestore.db, userId, CRASH, rangeOf(account))).toEqual(
    expectedByCampaign(CRASH, rangeOf(account)),
  );
  meter.restore();
  await deleteApp(app);
}, 120_000);

it("runs the nightly syncs of the same user, on the same and another platform, during a backfill", async () => {
  const userId = newUser();
  await seed(userId, [SMALL]);
  await seed(userId, [TIKTOK]);
  const jobId = expectQueued(await request(userId, "google", 200));

  // The backfill's run holds its job and waits inside its first fetch until the syncs are done.
  const { gated, inside, release } = gatedFetcher();
  const backfill = runJob(deps({ fetchMetrics: gated, owner: "backfill-worker" }), jobId);
  await inside;
  expect(await readJob(jobId)).toMatchObject({ status: "running", type: "initial-backfill" });

  // The nightly fan-out's enqueue (a daily slot): neither is held back as `existing`.
  const slot = "24h-20777";
  const enqueued = await enqueueJobs(
    deps(),
    (["google", "tiktok"] as const).map((providerId) => ({
      userId,
      providerId,
      type: "scheduled-sync" as const,
      timeframeDays: 1,
      source: "nightly",
      slot,
    })),
  );
  expect(enqueued.map((outcome) => outcome.status)).toEqual(["queued", "queued"]);
  for (const outcome of enqueued) {
    if (outcome.status !== "queued") {
      throw new Error("expected a queued sync");
    }
    expect(await runJob(deps({ owner: "sync-worker" }), outcome.jobId)).toMatchObject({
      outcome: "succeeded",
    });
    const sync = await readJob(outcome.jobId);
    expect(sync.status).toBe("succeeded");
    const integration = integrationSchema.parse(
      (await firestore.db.doc(integrationPath(userId, outcome.providerId)).get()).data(),
    );
    expect(integration.activeJobId).toBeNull();
    expect(integration.lastSyncedAt?.toMillis()).toBe(time.clock().getTime());
  }
  // Synced while the backfill still holds its plan and its job still runs.
  const during = await readPlan(userId);
  expect(during).toMatchObject({ status: "active", jobId });
  expect(await readJob(jobId)).toMatchObject({ status: "running" });
  // The sync re-pulled its restatement window, which the plan leaves out: no day written twice.
  const [googleSync] = enqueued;
  const synced = await readJob(googleSync?.status === "queued" ? googleSync.jobId : "");
  expect(synced.result!.since > accountOf(during, SMALL).until).toBe(true);

  release();
  expect(await backfill).toMatchObject({ outcome: "succeeded" });
  expect(await readPlan(userId)).toMatchObject({ status: "complete", jobId: null });
}, 60_000);

it("clamps an account's start to the platform's retention and asks for no older day", async () => {
  const userId = newUser();
  await seed(userId, [OLD]);
  const queriesBefore = stack.world.queryLog.length;
  const requestsBefore = requestsTo(OLD);
  const outcome = await request(userId, "google", 3650);
  const asked = sinceDaysBack(time.clock(), 3650);
  expect(accountOf(planOf(outcome), OLD)).toMatchObject({
    since: "2023-10-21",
    clampedFrom: asked,
    clampedBy: "retention",
  });
  await runChain(expectQueued(outcome), OLD);

  const plan = await readPlan(userId);
  const account = accountOf(plan, OLD);
  // Not refused by the platform on the way (which would clamp it `platform`, history lost).
  expect(account).toMatchObject({
    status: "complete",
    since: "2023-10-21",
    clampedBy: "retention",
    error: null,
  });
  const queries = queriesOf(OLD, queriesBefore);
  expect(queries).toEqual(slicesOf(account));
  // Google keeps the customer's last 37 months: from 2023-10-20 for 2026-11-20.
  const oldest = queries.map((query) => query.split("..")[0]!).sort()[0]!;
  expect(oldest).toBe("2023-10-21");
  expect(oldest >= "2023-10-20").toBe(true);
  // Every request was answered with rows: none was refused as too old.
  expect(requestsTo(OLD) - requestsBefore).toBe(queries.length);
  expect(await storedByCampaign(firestore.db, userId, OLD, rangeOf(account))).toEqual(
    expectedByCampaign(OLD, rangeOf(account)),
  );
}, 60_000);

it("ends an account's history where the platform refuses older days; a failed account stops alone", async () => {
  const userId = newUser();
  await seed(userId, [OLD, CRASH]);
  // Believed to keep 48 months, the platform keeps 37: the slice reaching before 2023-10-20 is
  // refused as too old. CRASH is refused for good (no permission).
  const believed = { ...ADAPTERS.google.history, retentionMonths: 48 };
  const outcome = await requestBackfill(
    deps(),
    { userId, providerId: "google", since: sinceDaysBack(time.clock(), 3650), source: "test" },
    believed,
  );
  const planned = accountOf(planOf(outcome), OLD);
  expect(planned).toMatchObject({ since: "2022-11-21", clampedBy: "retention" });
  stack.world.setFaults("google", { forbiddenAccounts: [CRASH.id] });
  try {
    await runChain(expectQueued(outcome), OLD);
  } finally {
    stack.world.setFaults("google", {});
  }
  const plan = await readPlan(userId);
  const account = accountOf(plan, OLD);
  // Slices 0..11 start after 2023-10-20; slice 12 (2023-08-23..2023-11-20) reaches before it,
  // and the platform refuses the whole query: the history starts after it.
  const refused = sliceRange(planned, 12);
  expect(refused.since < "2023-10-20" && refused.until >= "2023-10-20").toBe(true);
  expect(account).toMatchObject({
    status: "complete",
    since: "2023-11-21",
    // What was asked, as the retention clamp recorded it.
    clampedFrom: sinceDaysBack(new Date(START), 3650),
    clampedBy: "platform",
    error: { code: "permanent", reason: "beyond_retention" },
  });
  expect(account.done).toEqual(Array.from({ length: 12 }, (_, i) => i));
  expect(await storedByCampaign(firestore.db, userId, OLD, rangeOf(account))).toEqual(
    expectedByCampaign(OLD, rangeOf(account)),
  );
  expect(accountOf(plan, CRASH)).toMatchObject({
    status: "failed",
    done: [],
    error: { code: "permanent" },
  });
  expect(plan.status).toBe("complete");
  expect(progressOf(plan, time.clock())).toMatchObject({ slicesDone: 12, slicesTotal: 12 });
}, 60_000);

it("extends a plan to older days keeping what is done, and never shrinks it", async () => {
  const userId = newUser();
  await seed(userId, [SMALL]);
  const queriesBefore = stack.world.queryLog.length;
  await runChain(expectQueued(await request(userId, "google", 200)), SMALL);
  const first = accountOf(await readPlan(userId), SMALL);
  // 2026-05-05..2026-11-04: 184 days, the oldest slice (4 days) cut at since.
  expect(slicesOf(first)).toEqual([
    "2026-08-07..2026-11-04",
    "2026-05-09..2026-08-06",
    "2026-05-05..2026-05-08",
  ]);
  expect(queriesOf(SMALL, queriesBefore)).toEqual(slicesOf(first));

  time.advance(3_600_000);
  const extendedAt = stack.world.queryLog.length;
  const outcome = await request(userId, "google", 400);
  const extended = accountOf(planOf(outcome), SMALL);
  // The whole slices stay done; the one cut at the old since is asked for whole.
  expect(extended).toMatchObject({ since: "2025-10-17", until: first.until, done: [0, 1] });
  await runChain(expectQueued(outcome), SMALL);
  const plan = await readPlan(userId);
  const account = accountOf(plan, SMALL);
  expect(slicesOf(account).slice(0, 2)).toEqual(slicesOf(first).slice(0, 2));
  expect(queriesOf(SMALL, extendedAt)).toEqual(slicesOf(account).slice(2));
  expect(account).toMatchObject({ status: "complete", done: [0, 1, 2, 3, 4] });
  expect(await storedByCampaign(firestore.db, userId, SMALL, rangeOf(account))).toEqual(
    expectedByCampaign(SMALL, rangeOf(account)),
  );

  // A newer start changes nothing: no job, no query, the plan as it was.
  const newer = await request(userId, "google", 100);
  expect(newer.status).toBe("complete");
  expect(queriesOf(SMALL, extendedAt)).toHaveLength(3);
  const after = await readPlan(userId);
  expect(after.accounts).toEqual(plan.accounts);
  expect(after).toMatchObject({ status: "complete", jobId: null, requestedSince: "2025-10-17" });
}, 60_000);

it("extends a plan while its job runs: the run goes on to the older days", async () => {
  const userId = newUser();
  await seed(userId, [SMALL]);
  const queriesBefore = stack.world.queryLog.length;
  const jobId = expectQueued(await request(userId, "google", 200));
  // The run has read its plan (200 days) and waits inside its first fetch.
  const { gated, inside, release } = gatedFetcher();
  await dispatchJobs(deps(), [jobId]);
  const running = runJob(deps({ fetchMetrics: gated }), jobId);
  await inside;
  const extended = await request(userId, "google", 400);
  expect(extended).toMatchObject({ status: "existing", jobId });
  release();
  const run = await running;
  // The extension's slices were not lost to the run's older copy of the plan: the run
  // recorded each slice on the plan as stored, and went on to the new ones (or its chain will).
  for (let next = run.nextJobId; next !== undefined;) {
    const task = queues.tasks.find((enqueued) => enqueued.task.jobId === next)!;
    time.set(new Date(task.scheduleTime.getTime() + 1).toISOString());
    next = (await runDispatchedJob(deps(), task.task)).nextJobId;
  }
  const plan = await readPlan(userId);
  const account = accountOf(plan, SMALL);
  expect(plan.status).toBe("complete");
  expect(account).toMatchObject({ since: "2025-10-17", done: [0, 1, 2, 3, 4] });
  expect(queriesOf(SMALL, queriesBefore)).toEqual(slicesOf(account));
  expect(await storedByCampaign(firestore.db, userId, SMALL, rangeOf(account))).toEqual(
    expectedByCampaign(SMALL, rangeOf(account)),
  );
}, 60_000);

it.each([
  // A task's file is downloaded once; a report run's rows are read from the run's own edge.
  ["TikTok", "its report tasks", TIKTOK, /\/report\/task\/download\/$/],
  ["Meta", "its insights report runs", META, /^\/v[\d.]+\/\d+\/insights$/],
] as const)(
  "runs a %s backfill through %s, one report per slice",
  async (_name, _path, sandboxed, read) => {
    const userId = newUser();
    const providerId = sandboxed.provider;
    await seed(userId, [sandboxed]);
    // A report's status checked every 10 ms rather than every 5 s.
    const { settings, secrets } = sandboxProviderSettings(stack.sandbox);
    const quick = createProviderRuntime(
      parseProviderSettings({
        [providerId]: {
          ...settings[providerId],
          ...secrets[providerId],
          asyncPollMs: 10,
          timeoutMs: 2_000,
          maxInlineWaitMs: 1_500,
          requestsPerSecond: 50,
        },
      }),
    );
    const queriesBefore = stack.world.queryLog.length;
    const requestsBefore = stack.world.requestLog.length;
    const jobId = expectQueued(await request(userId, providerId, 200));
    await runChain(jobId, sandboxed, { fetchMetrics: quick });
    const plan = await readPlan(userId, providerId);
    const account = accountOf(plan, sandboxed);
    expect(plan.status).toBe("complete");
    expect(queriesOf(sandboxed, queriesBefore)).toEqual(slicesOf(account));
    // Through the asynchronous path: every slice's rows read from its report's output.
    const reads = stack.world.requestLog
      .slice(requestsBefore)
      .filter((entry) => entry.provider === providerId && read.test(entry.path));
    expect(reads.length).toBeGreaterThanOrEqual(slicesOf(account).length);
    expect(await storedByCampaign(firestore.db, userId, sandboxed, rangeOf(account))).toEqual(
      expectedByCampaign(sandboxed, rangeOf(account)),
    );
  },
  60_000,
);

it("records one scheduler event per run, a failed run's included", async () => {
  const userId = newUser();
  await seed(userId, [SMALL]);
  const jobId = expectQueued(await request(userId, "google", 200));
  // The platform fails every request of the first run: the run fails, retried with backoff.
  stack.world.setFaults("google", { serverErrors: 50 });
  try {
    await dispatchJobs(deps(), [jobId]);
    const task = queues.tasks.find((enqueued) => enqueued.task.jobId === jobId)!;
    expect((await runDispatchedJob(deps(), task.task)).outcome).toBe("retry_scheduled");
  } finally {
    stack.world.setFaults("google", {});
  }
  // The retry and the runs after it, to the plan's end: one event each.
  const runs = await runChain(jobId, SMALL);
  const events = await firestore.db
    .collection(EVENTS_COLLECTION)
    .where("operation", "==", "backfill_run")
    .where("details.userId", "==", userId)
    .get();
  const recorded = events.docs.map((doc) => doc.data());
  expect(recorded).toHaveLength(1 + runs.length);
  expect(
    recorded.filter((event) => (event.details as { end: string }).end !== "failed_transient"),
  ).toEqual(
    runs.map(
      (run): unknown =>
        expect.objectContaining({
          counts: expect.objectContaining({ processed: 1, succeeded: 1 }) as object,
          details: expect.objectContaining({ jobId: run.jobId, slices: run.slices }) as object,
        }) as unknown,
    ),
  );
  expect(
    recorded.filter((event) => (event.details as { end: string }).end === "failed_transient"),
  ).toEqual([
    expect.objectContaining({
      source: "cloud-tasks",
      counts: expect.objectContaining({ processed: 1, retried: 1, succeeded: 0 }) as object,
      errors: [{ provider: "google", code: "transient", count: 1 }],
      details: expect.objectContaining({
        jobId,
        providerId: "google",
        end: "failed_transient",
        slices: 0,
      }) as object,
    }),
  ]);
});
