/**
 * The scheduled fan-out's bar (issue 12), on the official Firestore emulator through a metered
 * client (`harness/firestore-meter.ts`: what firebase-admin asks the server for, counted as
 * Firestore bills it): one commit per page, nothing read again or written in a slot already done, only the due
 * integrations read in an hour, no cap across invocations, one streamed query per pass with
 * several page commits in flight and a deadline cut that loses and doubles nothing, a failed
 * page commit falling back without losing or doubling a job, and each slot's jobs spread over
 * its window.
 */
import { integrationPath, integrationSchema } from "../../../src/integrations/model";
import { JOBS_COLLECTION } from "../../../src/jobs/model";
import {
  cadenceSlot,
  COMMITS_IN_FLIGHT,
  DAILY_SPREAD_MS,
  type EnqueueAllOptions,
  type EnqueueAllResult,
  enqueueAllUsers,
  slotRunAfter,
  spreadWindowMs,
} from "../../../src/jobs/schedule";
import { claimJob, enqueueJob, parseJob, slotJobId, type StoreDeps } from "../../../src/jobs/store";
import type { ProviderId } from "../../../src/providers/types";
import { enqueueAllOperation } from "../../../src/scheduler/operations";
import { recordingLogger } from "../../harness/auth";
import { type TestFirestore, testFirestore } from "../../harness/firestore";
import { type FirestoreMeter, meterFirestore } from "../../harness/firestore-meter";
import { finishJob, manualClock } from "../../harness/seed";
import { everyPlatform, seedIntegrationDocs } from "./fanout-fixtures";

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_START = "2026-11-28T02:00:00Z";

let firestore: TestFirestore;
let io: FirestoreMeter;
let time: ReturnType<typeof manualClock>;
let deps: StoreDeps;

beforeEach(() => {
  firestore = testFirestore("fanout-due");
  io = meterFirestore(firestore.db);
  time = manualClock(DAY_START);
  deps = { db: firestore.db, clock: time.clock };
});
afterEach(() => firestore.close());

const scheduled: EnqueueAllOptions = {
  jobType: "scheduled-sync",
  timeframeDays: 1,
  source: "test",
  deadline: new Date("2100-01-01T00:00:00Z"),
};
const fanOut = () => enqueueAllUsers(deps, scheduled);
const queuedOf = (result: EnqueueAllResult) =>
  result.outcomes.filter((outcome) => outcome.status === "queued").length;
const jobDocs = async () => (await firestore.db.collection(JOBS_COLLECTION).get()).docs;
const jobs = async () => (await jobDocs()).map((doc) => parseJob(doc.id, doc.data()));
/** Finishes the queued jobs of the users named, as a worker would once they are due. */
const finishJobsOf = async (userPrefix: string, at: string) => {
  const later = { db: firestore.db, clock: () => new Date(at) };
  for (const { id, job } of await jobs()) {
    if (job.status === "queued" && job.userId.startsWith(userPrefix)) {
      await finishJob(later, id);
    }
  }
};

describe("what a fan-out reads and commits", () => {
  it("commits once per page of a multi-page fan-out: at most jobs/500 + pages", async () => {
    await seedIntegrationDocs(firestore.db, everyPlatform("p", 155));
    io.reset();
    const result = await fanOut();
    expect(queuedOf(result)).toBe(620);
    const usage = io.usage();
    // Three page commits (250 + 250 + 120 jobs, two writes each) and the state document.
    expect(usage.commits).toBe(4);
    expect(result.pages).toBe(3);
    expect(usage.commits).toBeLessThanOrEqual(620 / 500 + result.pages);
    expect(usage.writes).toBe(2 * 620 + 1);
    // The page reads and the state document: no integration or slot job is read again.
    expect(usage.reads).toBe(620 + 1);
    // The server's own account: the writes of one commit share its time.
    const created = (await jobDocs()).map((doc) => doc.createTime.valueOf());
    expect(created).toHaveLength(620);
    expect(new Set(created).size).toBe(3);
  });

  it("a re-run in a slot already done reads the state document alone and commits nothing", async () => {
    await seedIntegrationDocs(firestore.db, everyPlatform("r", 155));
    expect(queuedOf(await fanOut())).toBe(620);
    io.reset();
    time.advance(10 * MINUTE_MS);
    const again = await fanOut();
    expect(again).toMatchObject({ outcomes: [], pages: 0, passes: [], stoppedBy: "end" });
    expect(io.usage()).toMatchObject({
      queries: 0,
      queryReads: 0,
      lookupReads: 1,
      commits: 0,
      writes: 0,
    });
  });

  it("reads only the integrations whose cadence starts a slot in the hour", async () => {
    await seedIntegrationDocs(firestore.db, [
      ...everyPlatform("daily", 50),
      ...everyPlatform("six", 5, () => ({ cadenceHours: 6 })),
      // Automatic sync off: read once a day, by the daily pass, never in the other hours.
      ...everyPlatform("off", 5, () => ({ autoSync: false })),
    ]);
    const nightly = await fanOut();
    expect(queuedOf(nightly)).toBe(220);
    expect(nightly.autoSyncOff).toBe(20);
    await finishJobsOf("six", "2026-11-28T04:00:00Z");

    // 03:00: only hourly slots start, and no integration is hourly: one empty page.
    time.set("2026-11-28T03:00:00Z");
    io.reset();
    const hourly = await fanOut();
    expect(io.usage()).toMatchObject({ queries: 1, queryReads: 1, lookupReads: 1 });
    expect(hourly.outcomes).toEqual([]);
    expect(hourly.passes).toEqual([
      { cadences: [1], full: false, startCursor: null, nextCursor: null, finished: true },
    ]);

    // 08:00: the 6-hourly slot starts (and the 4-hourly one of 06:00, which no run served).
    time.set("2026-11-28T08:00:00Z");
    io.reset();
    const sixHourly = await fanOut();
    expect(queuedOf(sixHourly)).toBe(20);
    expect(io.usage().queryReads).toBe(20);
    expect(sixHourly.passes.map((pass) => [pass.cadences, pass.full])).toEqual([
      [[1, 2, 3, 4, 6], false],
    ]);
    expect(sixHourly.autoSyncOff).toBe(0);
  });

  it("schedules documents without automation settings, or with only some, in their slots", async () => {
    await seedIntegrationDocs(firestore.db, [
      { userId: "legacy", providerId: "google", automation: null },
    ]);
    // The automation endpoint writes only the settings it was given (each defaults on its own).
    await firestore.db
      .doc(integrationPath("partial", "meta"))
      .set({ status: "active", automation: { lookbackDays: 7 } });
    await firestore.db
      .doc(integrationPath("six", "tiktok"))
      .set({ status: "active", automation: { cadenceHours: 6 } });
    const nightly = await fanOut();
    expect(nightly.outcomes.map((outcome) => [outcome.userId, outcome.status]).sort()).toEqual([
      ["legacy", "queued"],
      ["partial", "queued"],
      ["six", "queued"],
    ]);
    await finishJobsOf("six", "2026-11-28T04:00:00Z");
    time.set("2026-11-28T08:00:00Z");
    const later = await fanOut();
    expect(later.outcomes).toEqual([
      expect.objectContaining({ userId: "six", status: "queued" }) as unknown,
    ]);
    expect((await jobs()).map(({ job }) => job.slot).sort()).toEqual(
      [
        cadenceSlot(new Date(DAY_START), 24),
        cadenceSlot(new Date(DAY_START), 24),
        cadenceSlot(new Date(DAY_START), 6),
        cadenceSlot(time.clock(), 6),
      ].sort(),
    );
  });
});

describe("a pass longer than one invocation", () => {
  it("continues across invocations with no cap, serving each new hourly slot first", async () => {
    await seedIntegrationDocs(firestore.db, [
      // First in document order: the long daily pass goes past it early.
      { userId: "a-hourly", providerId: "google", automation: { cadenceHours: 1 } },
      ...everyPlatform("d", 30),
    ]);
    // Every integration read takes three seconds (a page of 20, a minute); an invocation's
    // budget is two and a half minutes.
    io.hooks.afterDocument = () => time.advance(3_000);
    const opDeps = { ...deps, env: {}, logger: recordingLogger() };
    const invoke = () =>
      enqueueAllOperation(opDeps, "cloud-scheduler", {
        jobType: "scheduled-sync",
        timeframeDays: 1,
        pageSize: 20,
        budgetMs: 150_000,
      });
    const first = await invoke();
    await finishJobsOf("a-hourly", "2026-11-28T02:30:00Z");
    time.set("2026-11-28T03:00:00Z");
    const second = await invoke();
    time.set("2026-11-28T03:10:00Z");
    const third = await invoke();
    time.set("2026-11-28T03:20:00Z");
    const fourth = await invoke();

    const runs = [first, second, third, fourth];
    expect(
      runs.map((run) => [run.details.stoppedBy, run.counts.queued, run.details.pages]),
    ).toEqual([
      ["deadline", 60, 3],
      // The 03:00 hourly slot's pass (one page of one) first, then three pages of the daily pass.
      ["deadline", 61, 4],
      ["end", 1, 1],
      ["end", 0, 0],
    ]);
    type Reports = Array<{
      cadences: number[];
      startCursor: string | null;
      nextCursor: string | null;
    }>;
    const [daily] = first.details.passes as Reports;
    const [hourly, dailyContinued] = second.details.passes as Reports;
    expect(hourly).toMatchObject({ cadences: [1], startCursor: null, nextCursor: null });
    expect(dailyContinued?.startCursor).toBe(daily?.nextCursor);
    expect((third.details.passes as Reports)[0]?.startCursor).toBe(dailyContinued?.nextCursor);
    // The daily pass had not reached the rest of the hourly integrations when their slot ended.
    expect(second.details.overrun).toEqual([1]);

    const byIntegration = new Map<string, string[]>();
    for (const { id, job } of await jobs()) {
      const key = `${job.userId}/${job.providerId}`;
      byIntegration.set(key, [...(byIntegration.get(key) ?? []), id]);
    }
    expect(byIntegration.size).toBe(121);
    expect(byIntegration.get("a-hourly/google")?.sort()).toEqual(
      [
        slotJobId(cadenceSlot(new Date(DAY_START), 1), "a-hourly", "google"),
        slotJobId(cadenceSlot(new Date("2026-11-28T03:00:00Z"), 1), "a-hourly", "google"),
      ].sort(),
    );
    const daySlot = cadenceSlot(new Date(DAY_START), 24);
    for (const [key, ids] of byIntegration) {
      if (key !== "a-hourly/google") {
        const [userId, providerId] = key.split("/") as [string, ProviderId];
        expect(ids).toEqual([slotJobId(daySlot, userId, providerId)]);
      }
    }
  });
});

describe("a pass read in streams", () => {
  it("keeps pages committing side by side, and a deadline cut mid-stream lets the next invocation enqueue exactly the rest", async () => {
    const seeds = everyPlatform("m", 100);
    await seedIntegrationDocs(firestore.db, seeds);
    // In document order, as the pass reads them.
    const paths = seeds.map((seed) => integrationPath(seed.userId, seed.providerId)).sort();
    // Every integration read takes a second: eight pages of 20 fit in a budget of 150 s, so
    // the deadline cuts the second stream of 100 after its 60th integration.
    io.hooks.afterDocument = () => time.advance(1_000);
    // Each commit waits a little before it is sent, the first one longest: the pages behind it
    // go in while it waits, and commit before it.
    let waiting = 0;
    let mostWaiting = 0;
    let commits = 0;
    io.hooks.beforeCommit = async () => {
      waiting += 1;
      mostWaiting = Math.max(mostWaiting, waiting);
      const wait = commits === 0 ? 300 : 50;
      commits += 1;
      await new Promise((resolve) => setTimeout(resolve, wait));
      waiting -= 1;
    };
    const runs: EnqueueAllResult[] = [];
    const reads: Array<[number, number]> = [];
    const inFlight: number[] = [];
    while (runs.length < 5 && runs.at(-1)?.stoppedBy !== "end") {
      io.reset();
      runs.push(
        await enqueueAllUsers(deps, {
          ...scheduled,
          pageSize: 20,
          streamLimit: 100,
          deadline: time.later(150_000),
        }),
      );
      const usage = io.usage();
      reads.push([usage.queries, usage.queryReads]);
      inFlight.push(usage.maxCommitsInFlight);
    }

    expect(runs.map((run) => [run.stoppedBy, queuedOf(run), run.pages])).toEqual([
      ["deadline", 160, 8],
      ["deadline", 160, 8],
      ["end", 80, 4],
    ]);
    // A streamed query per 100 integrations, not one per page; a stream the deadline cut is
    // still read to its end (the SDK cannot cancel it): 40 integrations read and left, twice.
    expect(reads).toEqual([
      [2, 200],
      [2, 200],
      [1, 80],
    ]);
    // Several page commits in flight at once, where one at a time was the rule, and never more
    // than the bound.
    expect(mostWaiting).toBeGreaterThan(1);
    expect(Math.max(mostWaiting, ...inFlight)).toBeLessThanOrEqual(COMMITS_IN_FLIGHT);
    // The cursor stored is the last integration of the last page committed: the next
    // invocation starts right after it.
    expect(runs.map((run) => [run.startCursor, run.nextCursor])).toEqual([
      [null, paths[159]],
      [paths[159], paths[319]],
      [paths[319], null],
    ]);
    // Nothing read again as already scheduled, nothing skipped: each integration once.
    for (const run of runs) {
      expect(run.outcomes.every((outcome) => outcome.status === "queued")).toBe(true);
    }
    const daySlot = cadenceSlot(new Date(DAY_START), 24);
    const ids = (await jobDocs()).map((doc) => doc.id).sort();
    expect(ids).toEqual(
      seeds.map((seed) => slotJobId(daySlot, seed.userId, seed.providerId)).sort(),
    );
    // The slot's ids scatter over the key space instead of following the read order.
    const inReadOrder = paths.map((path) => {
      const [, userId, , providerId] = path.split("/") as [string, string, string, ProviderId];
      return slotJobId(daySlot, userId, providerId);
    });
    expect(new Set(inReadOrder.map((id) => id[0])).size).toBe(16);
    expect(inReadOrder).not.toEqual([...inReadOrder].sort());
  });
});

describe("a page whose commit fails", () => {
  it("falls back to one job at a time: each integration enqueued once, a racer's job kept", async () => {
    await seedIntegrationDocs(firestore.db, everyPlatform("f", 10));
    let raced = false;
    io.hooks.beforeCommit = async (writes) => {
      if (raced || writes <= 2) {
        return;
      }
      raced = true;
      // Between the page's read and its commit, a manual schedule takes one integration.
      await enqueueJob(deps, {
        userId: "f-0004",
        providerId: "meta",
        type: "manual-sync",
        timeframeDays: 3,
        source: "racer",
      });
    };
    const result = await fanOut();
    expect(raced).toBe(true);
    expect(result.batchFallbacks).toEqual([expect.stringMatching(/precondition/i) as unknown]);
    expect(queuedOf(result)).toBe(39);
    expect(
      result.outcomes.find(
        (outcome) => outcome.userId === "f-0004" && outcome.providerId === "meta",
      ),
    ).toMatchObject({ status: "existing" });

    const all = await jobs();
    expect(all).toHaveLength(40);
    const owners = all.map(({ job }) => `${job.userId}/${job.providerId}`);
    expect(new Set(owners).size).toBe(40);
    for (const { id, job } of all) {
      const integration = integrationSchema.parse(
        (await firestore.db.doc(integrationPath(job.userId, job.providerId)).get()).data(),
      );
      expect(integration.activeJobId).toBe(id);
    }
    expect(all.find(({ job }) => job.source === "racer")?.job.type).toBe("manual-sync");
  });
});

describe("spreading a slot's jobs", () => {
  it("runs the 02:00 slot's jobs within two hours, by user, the same whoever enqueues them", async () => {
    await seedIntegrationDocs(firestore.db, everyPlatform("s", 40));
    await fanOut();
    const start = Date.parse(DAY_START);
    const spread = (await jobs()).map(({ job }) => ({
      userId: job.userId,
      at: job.nextAttemptAt.toMillis(),
    }));
    expect(spread).toHaveLength(160);
    // One time per user (their platforms together), the users spread over two hours.
    expect(new Set(spread.map(({ at }) => at)).size).toBe(40);
    const times = spread.map(({ at }) => at - start).sort((a, b) => a - b);
    expect(times[0]).toBeGreaterThanOrEqual(0);
    expect(times[0]).toBeLessThan(30 * MINUTE_MS);
    expect(times.at(-1)).toBeGreaterThan(90 * MINUTE_MS);
    expect(times.at(-1)).toBeLessThan(2 * HOUR_MS);
    expect(DAILY_SPREAD_MS).toBe(2 * HOUR_MS);
    for (const { userId, at } of spread) {
      expect(at).toBe(slotRunAfter(userId, new Date(DAY_START), 24).getTime());
    }

    // Another scheduler enqueueing the same slot later computes the same times; those already
    // past are due at once (never before the job's creation).
    const other = testFirestore("fanout-due-other");
    try {
      await seedIntegrationDocs(other.db, everyPlatform("s", 40));
      const lateAt = start + 30 * MINUTE_MS;
      await enqueueAllUsers({ db: other.db, clock: () => new Date(lateAt) }, scheduled);
      const late = (await other.db.collection(JOBS_COLLECTION).get()).docs.map(
        (doc) => parseJob(doc.id, doc.data()).job,
      );
      for (const job of late) {
        const planned = slotRunAfter(job.userId, new Date(DAY_START), 24).getTime();
        expect(job.nextAttemptAt.toMillis()).toBe(Math.max(planned, lateAt));
      }
    } finally {
      await other.close();
    }
  });

  it("is claimable from its time on, not before", async () => {
    await seedIntegrationDocs(firestore.db, everyPlatform("c", 3));
    await fanOut();
    const { id, job } = (await jobs()).reduce((latest, record) =>
      record.job.nextAttemptAt.toMillis() > latest.job.nextAttemptAt.toMillis() ? record : latest,
    );
    const due = job.nextAttemptAt.toMillis();
    expect(due).toBeGreaterThan(Date.parse(DAY_START));
    const at = (ms: number) => ({ db: firestore.db, clock: () => new Date(ms) });
    expect(await claimJob(at(due - 1), id, "early", MINUTE_MS)).toBeUndefined();
    expect((await claimJob(at(due), id, "on-time", MINUTE_MS))?.job.leaseOwner).toBe("on-time");
  });

  it("spreads a sub-daily slot over a quarter of its period", async () => {
    await seedIntegrationDocs(
      firestore.db,
      everyPlatform("h", 20, () => ({ cadenceHours: 1 })),
    );
    time.set("2026-11-28T03:00:00Z");
    await fanOut();
    const start = time.clock().getTime();
    const due = (await jobs()).map(({ job }) => job.nextAttemptAt.toMillis() - start);
    expect(due).toHaveLength(80);
    expect(new Set(due).size).toBe(20);
    expect(Math.min(...due)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...due)).toBeLessThan(15 * MINUTE_MS);
    expect([1, 4, 6, 12, 24].map(spreadWindowMs)).toEqual([
      15 * MINUTE_MS,
      HOUR_MS,
      1.5 * HOUR_MS,
      2 * HOUR_MS,
      2 * HOUR_MS,
    ]);
  });
});
