/**
 * The scheduled fan-out at scale, on the official Cloud Firestore emulator: `--users` users
 * (10,000) × 4 platforms of integrations, seeded with batched writes — every twentieth user
 * hourly, the next one 6-hourly, the rest daily; every fiftieth with automatic sync off — then:
 *
 * - the 02:00 UTC slot (every integration due): commits, document reads, wall time, and how the
 *   jobs' `nextAttemptAt` is spread;
 * - the baseline, in the same run: one `create()` per job, sequentially (each awaited before the
 *   next, the floor of any one-commit-per-job enqueue: no read, no precondition, no integration
 *   update), timed over `--baseline` jobs (5,000) and its rate extrapolated to the slot's jobs;
 * - a re-run in the same slot (02:10), an hourly run at 03:00 (the hourly integrations' jobs
 *   finished by then) and its re-run (03:10): reads and commits;
 * - for comparison, what the previous design read in every hourly run: every active
 *   integration (counted with one `count()` aggregation).
 *
 * Counting: the fan-out runs on a metered firebase-admin client (`test/integration/jobs/
 * metered.ts`): a read per document a query returns (one for an empty page) and per document
 * fetched by `getAll`/`get`, a commit per Commit RPC the client sends — as Firestore bills them;
 * the emulator itself reports no counts. Only the fan-out (`enqueueAllUsers`) is measured: the
 * scheduler event its operation records is one more write per invocation.
 *
 * Run: `npx tsx bench/enqueue.bench.ts` from functions/ (set FIRESTORE_EMULATOR_HOST to reuse a
 * running emulator). Options: `--users 10000 --baseline 5000`.
 */
import { parseArgs } from "node:util";

import { deleteApp, initializeApp } from "firebase-admin/app";
import { getFirestore, Timestamp } from "firebase-admin/firestore";

import { freePorts, type RunningSuite, startSuite } from "../dev/emulators/suite";
import { integrationPath, INTEGRATIONS_COLLECTION } from "../src/integrations/model";
import { JOBS_COLLECTION } from "../src/jobs/model";
import {
  DAILY_SPREAD_MS,
  type EnqueueAllOptions,
  type EnqueueAllResult,
  enqueueAllUsers,
} from "../src/jobs/schedule";
import { everyPlatform, seedIntegrationDocs } from "../test/integration/jobs/fanout-fixtures";
import { type Meter, metered } from "../test/integration/jobs/metered";

const { values } = parseArgs({
  options: {
    users: { type: "string", default: "10000" },
    baseline: { type: "string", default: "5000" },
  },
});
const USERS = Number(values.users);
const BASELINE_JOBS = Number(values.baseline);
const MINUTE_MS = 60_000;

const cadenceOf = (user: number): number => (user % 20 === 0 ? 1 : user % 20 === 1 ? 6 : 24);
const isHourly = (userId: string): boolean => cadenceOf(Number(userId.split("-")[1])) === 1;

interface Measured {
  label: string;
  seconds: number;
  meter: Meter;
  result?: EnqueueAllResult;
}

const queuedOf = (result?: EnqueueAllResult): number =>
  result?.outcomes.filter((outcome) => outcome.status === "queued").length ?? 0;

function print(rows: Measured[]): void {
  console.table(
    rows.map(({ label, seconds, meter, result }) => ({
      run: label,
      "jobs queued": queuedOf(result),
      pages: result?.pages ?? meter.queries,
      "docs read": meter.queryReads + meter.lookupReads,
      commits: meter.commits,
      writes: meter.writes,
      "wall s": seconds.toFixed(2),
      "in queries s": (meter.queryMs / 1000).toFixed(2),
      "in commits s": (meter.commitMs / 1000).toFixed(2),
    })),
  );
}

async function main(): Promise<void> {
  let suite: RunningSuite | undefined;
  if (!process.env.FIRESTORE_EMULATOR_HOST) {
    suite = await startSuite({
      name: "bench-enqueue",
      projectId: "demo-bench",
      ports: await freePorts(),
      only: ["firestore"],
      params: {},
      secrets: {},
    });
    process.env.FIRESTORE_EMULATOR_HOST = suite.hosts.firestore;
  }
  const app = initializeApp({ projectId: `demo-bench-enqueue-${Date.now()}` }, "bench");
  const db = getFirestore(app);
  try {
    const seeds = everyPlatform("u", USERS, (user) => ({
      cadenceHours: cadenceOf(user),
      autoSync: user % 50 !== 2,
    }));
    const seeding = performance.now();
    await seedIntegrationDocs(db, seeds);
    console.log(
      `seeded ${seeds.length} integrations of ${USERS} users in ` +
        `${((performance.now() - seeding) / 1000).toFixed(1)} s (batches of 500)\n`,
    );

    const io = metered(db);
    let now = new Date("2026-11-28T02:00:00Z");
    const deps = { db, clock: () => now };
    const options: EnqueueAllOptions = {
      jobType: "scheduled-sync",
      timeframeDays: 1,
      source: "bench",
      deadline: new Date("2100-01-01T00:00:00Z"),
    };
    const measure = async (label: string, at: string): Promise<Measured> => {
      now = new Date(at);
      io.reset();
      const t0 = performance.now();
      const result = await enqueueAllUsers(deps, options);
      return { label, seconds: (performance.now() - t0) / 1000, meter: { ...io.meter }, result };
    };

    const nightly = await measure("02:00 slot (all due)", "2026-11-28T02:00:00Z");
    const jobs = queuedOf(nightly.result);
    // How the night's jobs are spread, read back from their documents.
    const slotStart = Date.parse("2026-11-28T02:00:00Z");
    const due = (await db.collection(JOBS_COLLECTION).select("nextAttemptAt").get()).docs.map(
      (doc) => (doc.get("nextAttemptAt") as Timestamp).toMillis() - slotStart,
    );
    const perMinute = new Map<number, number>();
    for (const at of due) {
      const minute = Math.floor(at / MINUTE_MS);
      perMinute.set(minute, (perMinute.get(minute) ?? 0) + 1);
    }

    const rerun = await measure("02:10 re-run, same slot", "2026-11-28T02:10:00Z");
    // The hourly integrations' 02:00 jobs finished before 03:00: their locks are free again.
    const hourly = seeds.filter((seed) => isHourly(seed.userId));
    for (let start = 0; start < hourly.length; start += 500) {
      const batch = db.batch();
      for (const seed of hourly.slice(start, start + 500)) {
        batch.update(db.doc(integrationPath(seed.userId, seed.providerId)), { activeJobId: null });
      }
      await batch.commit();
    }
    const threeAm = await measure("03:00 hourly run", "2026-11-28T03:00:00Z");
    const threeRerun = await measure("03:10 re-run, same slot", "2026-11-28T03:10:00Z");
    // What the previous design read in every hourly run, whatever was due: every active
    // integration (counted with one aggregation, not paged: the emulator's page scans of the
    // whole group would take minutes).
    const previousHourlyReads = (
      await db
        .collectionGroup(INTEGRATIONS_COLLECTION)
        .where("status", "==", "active")
        .count()
        .get()
    ).data().count;

    // The baseline: one create() per job, each awaited before the next.
    const baselineCount = Math.min(BASELINE_JOBS, jobs);
    io.reset();
    const started = performance.now();
    const createdAt = Timestamp.fromDate(now);
    for (let i = 0; i < baselineCount; i += 1) {
      await db
        .collection("benchBaselineJobs")
        .doc(`baseline_${i}`)
        .create({
          userId: `u-${i}`,
          providerId: "google",
          type: "scheduled-sync",
          status: "queued",
          timeframeDays: 1,
          attempts: 0,
          maxAttempts: 10,
          deferrals: 0,
          nextAttemptAt: createdAt,
          leaseOwner: null,
          leaseExpiresAt: null,
          createdAt,
          updatedAt: createdAt,
          startedAt: null,
          finishedAt: null,
          source: "bench",
          slot: "24h-0",
          result: null,
          lastError: null,
          expireAt: null,
        });
    }
    const baseline: Measured = {
      label: `baseline: ${baselineCount} sequential create()`,
      seconds: (performance.now() - started) / 1000,
      meter: { ...io.meter },
    };
    print([nightly, baseline, rerun, threeAm, threeRerun]);

    const reads = (run: Measured) => run.meter.queryReads + run.meter.lookupReads;
    const seconds = (ms: number) => (ms / 1000).toFixed(1);
    const check = (ok: boolean) => (ok ? "met" : "NOT MET");
    const pages = nightly.result?.pages ?? 0;
    const bound = jobs / 500 + pages;
    const perJobMs = (baseline.seconds * 1000) / baselineCount;
    const baselineForSlotMs = perJobMs * jobs;
    const speedup = baselineForSlotMs / (nightly.seconds * 1000);
    console.log(
      [
        "",
        `02:00 slot: ${jobs} jobs, ${pages} pages, ${nightly.meter.commits} commits (bound ` +
          `jobs/500 + pages = ${bound.toFixed(1)}: ${check(nightly.meter.commits <= bound)}; ` +
          `${(jobs / Math.max(1, nightly.meter.commits)).toFixed(0)} jobs per commit), ` +
          `${reads(nightly)} document reads, ${nightly.seconds.toFixed(1)} s ` +
          `(${(jobs / nightly.seconds).toFixed(0)} jobs/s); batch fallbacks: ` +
          `${nightly.result?.batchFallbacks.length ?? 0}`,
        `  time waiting on page queries ${seconds(nightly.meter.queryMs)} s (the emulator has no ` +
          `indexes: each collection-group page scans the whole group), on commits ` +
          `${seconds(nightly.meter.commitMs)} s (overlapping the next page's query)`,
        `baseline: ${perJobMs.toFixed(2)} ms per sequential create(), ${seconds(baselineForSlotMs)} ` +
          `s for ${jobs} jobs (extrapolated from ${baselineCount}): the fan-out is ` +
          `${speedup.toFixed(1)}× faster (target 20×: ${check(speedup >= 20)}); its commits took ` +
          `${(baselineForSlotMs / nightly.meter.commitMs).toFixed(1)}× less time than the creates`,
        `re-run in the done slot: ${reads(rerun)} read (O(pages) = ${pages}: ` +
          `${check(reads(rerun) <= pages)}), ${rerun.meter.commits} commits ` +
          `(${check(rerun.meter.commits === 0)})`,
        `03:00 hourly run: ${reads(threeAm)} reads (${hourly.length} hourly integrations due), ` +
          `${threeAm.meter.commits} commits; the previous design read ${previousHourlyReads} in ` +
          `every hourly run (${(previousHourlyReads / Math.max(1, reads(threeAm))).toFixed(0)}× ` +
          `more); the 03:10 re-run ${reads(threeRerun)} read, ${threeRerun.meter.commits} commits`,
        `spread: the night's ${due.length} jobs due from 02:00 + ${(Math.min(...due) / MINUTE_MS).toFixed(1)} ` +
          `min to 02:00 + ${(Math.max(...due) / MINUTE_MS).toFixed(1)} min (window ${DAILY_SPREAD_MS / MINUTE_MS} ` +
          `min), at most ${Math.max(...perMinute.values())} in one minute (unspread: all at 02:00)`,
      ].join("\n"),
    );
  } finally {
    await deleteApp(app);
    await suite?.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
