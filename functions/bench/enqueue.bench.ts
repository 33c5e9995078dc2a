/**
 * The scheduled fan-out at scale, on the official Cloud Firestore emulator: `--users` users
 * (10,000) × 4 platforms of integrations, seeded with batched writes — every twentieth user
 * hourly, the next one 6-hourly, the rest daily; every fiftieth with automatic sync off — then:
 *
 * - the 02:00 UTC slot (every integration due): query round trips (streams of up to
 *   `STREAM_LIMIT`), pages (of up to 250 integrations, one commit each), commits and the most in
 *   flight at once, document reads, wall time, and how the jobs' `nextAttemptAt` is spread;
 * - the baseline, in the same run: one `create()` per job, sequentially (each awaited before the
 *   next, the floor of any one-commit-per-job enqueue: no read, no precondition, no integration
 *   update), timed over `--baseline` jobs (5,000) and its rate extrapolated to the slot's jobs;
 * - a re-run in the same slot (02:10), an hourly run at 03:00 (the hourly integrations' jobs
 *   finished by then) and its re-run (03:10): reads and commits;
 * - for comparison, what the previous design read in every hourly run: every active
 *   integration (counted with one `count()` aggregation).
 *
 * Counting: the fan-out runs on a metered firebase-admin client (`test/harness/
 * firestore-meter.ts`): a read per document a query returns (one for an empty page) and per
 * document fetched by `getAll`/`get`, a commit per Commit RPC the client sends — as Firestore
 * bills them; the emulator itself reports no counts. Only the fan-out (`enqueueAllUsers`) is
 * measured: the scheduler event its operation records is one more write per invocation. Time
 * "in queries" is each stream's open time, from its opening to its last document, which overlaps
 * the commits.
 *
 * The path measured is production's: the fan-out has no write-rate cap (`COMMITS_IN_FLIGHT` and
 * `slotJobId` say why), so nothing is switched off for the bench.
 *
 * CPU: on Linux the bench also reads the emulator's CPU time (`/proc`, the Java process serving
 * the emulator's port) and its own (`process.cpuUsage`) around the fan-out and the baseline.
 * Both runs are CPU-bound on the emulator's host, so CPU per job over the cores available is
 * the floor of a run's time per job, and says how much of a ratio the machine allows.
 *
 * Network: on loopback the emulator answers with no round-trip time, which no client of
 * Firestore has: each of the baseline's sequential commits waits one round trip (and the
 * server's commit), the fan-out's four commits in flight share theirs. `--rtt-ms N` puts a
 * proxy holding every chunk N/2 ms each way between client and emulator (`latencyProxy`), for
 * both runs alike: the ratio with a real network's round trip (Cloud Functions to Firestore in
 * one region is a few milliseconds; commits take longer).
 *
 * Run: `npx tsx bench/enqueue.bench.ts` from functions/ (set FIRESTORE_EMULATOR_HOST to reuse a
 * running emulator). Options: `--users 10000 --baseline 5000 --rtt-ms 0`.
 */
import { execSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { parseArgs } from "node:util";

import { deleteApp, initializeApp } from "firebase-admin/app";
import { getFirestore, Timestamp } from "firebase-admin/firestore";

import { integrationPath, INTEGRATIONS_COLLECTION } from "../src/integrations/model";
import { JOBS_COLLECTION } from "../src/jobs/model";
import {
  COMMITS_IN_FLIGHT,
  DAILY_SPREAD_MS,
  type EnqueueAllOptions,
  type EnqueueAllResult,
  enqueueAllUsers,
  STREAM_LIMIT,
} from "../src/jobs/schedule";
import { ENQUEUE_BATCH_MAX } from "../src/jobs/store";
import { meterFirestore, type Usage } from "../test/harness/firestore-meter";
import { everyPlatform, seedIntegrationDocs } from "../test/integration/jobs/fanout-fixtures";
import { firestoreEmulator, latencyProxy } from "./support";

const { values } = parseArgs({
  options: {
    users: { type: "string", default: "10000" },
    baseline: { type: "string", default: "5000" },
    "rtt-ms": { type: "string", default: "0" },
  },
});
const USERS = Number(values.users);
const BASELINE_JOBS = Number(values.baseline);
/** A network round trip between client and emulator (`latencyProxy`); 0: loopback, none. */
const RTT_MS = Number(values["rtt-ms"]);
const MINUTE_MS = 60_000;

const cadenceOf = (user: number): number => (user % 20 === 0 ? 1 : user % 20 === 1 ? 6 : 24);
const isHourly = (userId: string): boolean => cadenceOf(Number(userId.split("-")[1])) === 1;

interface Cpu {
  /** Milliseconds of CPU: this process, and the emulator's (undefined: not measurable here). */
  client: number;
  emulator?: number;
}

interface Measured {
  label: string;
  seconds: number;
  meter: Usage;
  result?: EnqueueAllResult;
  cpu: Cpu;
}

/** Reads the CPU time of the Java process serving the Firestore emulator on `port` (Linux). */
function emulatorCpu(port: string): (() => number) | undefined {
  try {
    const ticksPerSecond = Number(execSync("getconf CLK_TCK").toString().trim()) || 100;
    for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
      let args: string[];
      try {
        args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      } catch {
        continue;
      }
      const portAt = args.indexOf("--port");
      if (
        args.some((arg) => arg.includes("cloud-firestore-emulator")) &&
        args[portAt + 1] === port
      ) {
        return () => {
          // Fields after the command name: utime and stime are the 12th and 13th.
          const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
          return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
        };
      }
    }
  } catch {
    // Not Linux, or /proc unreadable: the emulator's CPU is left out.
  }
  return undefined;
}

/** Runs `work`, measuring the CPU it took (this process, and the emulator's if `emulator`). */
async function withCpu<T>(
  emulator: (() => number) | undefined,
  work: () => Promise<T>,
): Promise<[T, Cpu]> {
  const client = process.cpuUsage();
  const emulatorStart = emulator?.();
  const value = await work();
  const used = process.cpuUsage(client);
  return [
    value,
    {
      client: (used.user + used.system) / 1000,
      ...(emulator && emulatorStart !== undefined ? { emulator: emulator() - emulatorStart } : {}),
    },
  ];
}

const queuedOf = (result?: EnqueueAllResult): number =>
  result?.outcomes.filter((outcome) => outcome.status === "queued").length ?? 0;

function print(rows: Measured[]): void {
  console.table(
    rows.map(({ label, seconds, meter, result }) => ({
      run: label,
      "jobs queued": queuedOf(result),
      queries: meter.queries,
      pages: result?.pages ?? "-",
      "docs read": meter.reads,
      commits: meter.commits,
      "max in flight": meter.maxCommitsInFlight,
      writes: meter.writes,
      "wall s": seconds.toFixed(2),
      "in queries s": (meter.queryMs / 1000).toFixed(2),
      "in commits s": (meter.commitMs / 1000).toFixed(2),
    })),
  );
}

async function main(): Promise<void> {
  const stopEmulator = await firestoreEmulator("bench-enqueue");
  const emulatorHost = process.env.FIRESTORE_EMULATOR_HOST ?? "";
  const emulator = emulatorCpu(emulatorHost.split(":").at(-1) ?? "");
  const proxy = RTT_MS > 0 ? await latencyProxy(emulatorHost, RTT_MS / 2) : undefined;
  if (proxy) {
    // Both runs, the fan-out and the baseline, go through the same simulated network.
    process.env.FIRESTORE_EMULATOR_HOST = proxy.host;
  }
  const app = initializeApp({ projectId: `demo-bench-enqueue-${Date.now()}` }, "bench");
  const db = getFirestore(app);
  const cores = availableParallelism();
  console.log(
    RTT_MS > 0
      ? `network: ${RTT_MS} ms round trip between client and emulator (a delaying proxy)`
      : "network: loopback (no round-trip time: both runs are bound by the machine's CPU)",
  );
  console.log(
    `${cores} cores, load average ${loadavg()
      .map((load) => load.toFixed(2))
      .join(" ")} (the machine may be shared: times vary with it)`,
  );
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

    const io = meterFirestore(db);
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
      const [result, cpu] = await withCpu(emulator, () => enqueueAllUsers(deps, options));
      const seconds = (performance.now() - t0) / 1000;
      return { label, seconds, meter: io.usage(), result, cpu };
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
    const baselineCpu = await withCpu(emulator, async () => {
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
    });
    const baseline: Measured = {
      label: `baseline: ${baselineCount} sequential create()`,
      seconds: (performance.now() - started) / 1000,
      meter: io.usage(),
      cpu: baselineCpu[1],
    };
    print([nightly, baseline, rerun, threeAm, threeRerun]);

    const reads = (run: Measured) => run.meter.reads;
    const seconds = (ms: number) => (ms / 1000).toFixed(1);
    const check = (ok: boolean) => (ok ? "met" : "NOT MET");
    const pages = nightly.result?.pages ?? 0;
    // Pages here are the commit unit: up to 250 integrations read from a stream, enqueued in
    // one commit (a job is two writes: its create and the integration's lock). Query round
    // trips are fewer still (`queries`).
    const bound = jobs / 500 + pages;
    const perJobMs = (baseline.seconds * 1000) / baselineCount;
    const baselineForSlotMs = perJobMs * jobs;
    const speedup = baselineForSlotMs / (nightly.seconds * 1000);
    console.log(
      [
        "",
        `02:00 slot: ${jobs} jobs, ${nightly.meter.queries} queries (streams of up to ` +
          `${STREAM_LIMIT}), ${pages} pages (of up to ${ENQUEUE_BATCH_MAX} integrations, one ` +
          `commit each), ${nightly.meter.commits} commits, at most ` +
          `${nightly.meter.maxCommitsInFlight} in flight (bound ${COMMITS_IN_FLIGHT}: ` +
          `${check(nightly.meter.maxCommitsInFlight <= COMMITS_IN_FLIGHT)})`,
        `  commits ≤ jobs/500 + pages, pages counted as ${ENQUEUE_BATCH_MAX}-integration pages: ` +
          `${nightly.meter.commits} ≤ ${jobs}/500 + ${pages} = ${bound.toFixed(1)}: ` +
          `${check(nightly.meter.commits <= bound)}; with pages counted as query round trips ` +
          `(${jobs}/500 + ${nightly.meter.queries} = ${(jobs / 500 + nightly.meter.queries).toFixed(1)}) ` +
          `it would be ${check(nightly.meter.commits <= jobs / 500 + nightly.meter.queries)}: a job ` +
          `is two writes, so a 500-write commit holds ${ENQUEUE_BATCH_MAX} jobs ` +
          `(${(jobs / Math.max(1, nightly.meter.commits)).toFixed(0)} jobs per commit here)`,
        `  ${reads(nightly)} document reads, ${nightly.seconds.toFixed(1)} s ` +
          `(${(jobs / nightly.seconds).toFixed(0)} jobs/s); batch fallbacks: ` +
          `${nightly.result?.batchFallbacks.length ?? 0}; write rate uncapped, as in production ` +
          `(no cap exists: slot job ids are scattered, see slotJobId)`,
        `  streams open ${seconds(nightly.meter.queryMs)} s (the emulator has no indexes: each ` +
          `query scans the whole collection group), commits ${seconds(nightly.meter.commitMs)} s ` +
          `summed over those in flight together, both overlapping`,
        `baseline: ${perJobMs.toFixed(2)} ms per sequential create(), ${seconds(baselineForSlotMs)} ` +
          `s for ${jobs} jobs (extrapolated from ${baselineCount}): the fan-out is ` +
          `${speedup.toFixed(1)}× faster (target 20×: ${check(speedup >= 20)})`,
        cpuLine(nightly, jobs, baseline, baselineCount, cores),
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
    await proxy?.close();
    await stopEmulator();
  }
}

/** CPU per job of the fan-out and of the baseline, and the fan-out's floor on these cores. */
function cpuLine(
  fanOut: Measured,
  jobs: number,
  baseline: Measured,
  baselineJobs: number,
  cores: number,
): string {
  const perJob = (cpu: Cpu, count: number) => (cpu.client + (cpu.emulator ?? 0)) / count;
  const parts = (cpu: Cpu, count: number) =>
    `${perJob(cpu, count).toFixed(3)} ms (emulator ` +
    `${cpu.emulator === undefined ? "n/a" : (cpu.emulator / count).toFixed(3)}, client ` +
    `${(cpu.client / count).toFixed(3)})`;
  if (fanOut.cpu.emulator === undefined) {
    return `CPU per job: fan-out ${parts(fanOut.cpu, jobs)}; the emulator's CPU is not measurable here`;
  }
  const floorSeconds = (perJob(fanOut.cpu, jobs) * jobs) / cores / 1000;
  const baselinePerJobMs = (baseline.seconds * 1000) / baselineJobs;
  return (
    `CPU per job: fan-out ${parts(fanOut.cpu, jobs)}, baseline ${parts(baseline.cpu, baselineJobs)}; ` +
    `the fan-out's CPU on ${cores} cores takes at least ${floorSeconds.toFixed(1)} s ` +
    `(it took ${fanOut.seconds.toFixed(1)} s): against this baseline, at most ` +
    `${((baselinePerJobMs * jobs) / 1000 / floorSeconds).toFixed(1)}× on this machine`
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
