/**
 * One 18,000-row job — 90 days of 200 campaign-days a day — through the real `runJob` (the
 * provider runtime over HTTP against the sandbox Google Ads, the metrics store, the job store) on
 * the official Cloud Firestore emulator, as one account of 200 campaigns and as the same rows
 * over 10 and 40 accounts; then the same job again over unchanged data.
 *
 * Prints, per run: wall time; the job process's peak RSS and heap over its baseline (the process
 * after setup and a GC, before the job), sampled every 5 ms; and the job's Firestore cost —
 * documents read, queries, commits and writes, and the reads and writes of metric rows and of
 * their digests. Sampled peaks are mostly garbage the collector has not reclaimed yet, so each
 * scenario's first job is run once more for a fresh user with a full GC as each commit is sent,
 * while the rows being stored are held: the peak heap that survives it ("live heap") is what the
 * job holds. A fourth scenario, 40 accounts of 20 campaigns (72,000 rows), shows that it follows
 * the largest account, not the number of accounts. Firestore is metered at the client's request
 * funnel (`test/harness/firestore-meter.ts`): every document the server returns is a read (an
 * empty query one), every write of a commit a write, as Firestore bills them; the enqueue before
 * each job is not counted. Each scenario runs in a fresh process of its
 * own (memory figures do not carry over), and the sandbox platform runs in this parent process,
 * so its response bodies are not in the job's figures.
 *
 * Run: `npx tsx bench/job.bench.ts` from functions/ (needs `functions/lib` for the emulator run
 * folder, as `npm test` does; set FIRESTORE_EMULATOR_HOST to reuse a running emulator).
 */
import { fork } from "node:child_process";

import { deleteApp, initializeApp } from "firebase-admin/app";
import { getFirestore } from "firebase-admin/firestore";

import type { SandboxAccount } from "../dev/sandbox/world";
import { writeCredentials } from "../src/integrations/credentials";
import { integrationPath } from "../src/integrations/model";
import { DEFAULT_LEASE_MS } from "../src/jobs/lease";
import { runJob } from "../src/jobs/process";
import { enqueueJobs } from "../src/jobs/store";
import { createProviderRuntime } from "../src/providers/registry";
import type { Credentials } from "../src/providers/types";
import { requireProviderSettings } from "../src/shared/config";
import { meterFirestore, type Usage } from "../test/harness/firestore-meter";
import { TEST_TOKEN_KEYS } from "../test/harness/seed";
import { startTestStack } from "../test/harness/stack";
import { firestoreEmulator, runMain, silentLogger } from "./support";

const ROWS_PER_DAY = 200;
/** `timeframeDays: 89`: 89 complete days and the current one. */
const TIMEFRAME_DAYS = 89;
/** Accounts, and campaigns each (200 a day over all accounts unless given). */
const SCENARIOS: Array<{ accounts: number; campaigns?: number }> = [
  { accounts: 1 },
  { accounts: 10 },
  { accounts: 40 },
  { accounts: 40, campaigns: 20 },
];

interface ChildInput {
  accounts: string[];
  tokens: Credentials;
  env: { PROVIDER_SETTINGS: string; PROVIDER_SECRETS: string };
  projectId: string;
}

interface RunFigures {
  label: string;
  seconds: number;
  baselineMiB: number;
  peakRssOverMiB: number;
  peakHeapOverMiB: number;
  result: Record<string, unknown>;
  usage: Usage;
}

const MiB = 1024 * 1024;
const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

/** The job process: seeds the integration, then runs the job twice, measuring each run. */
async function child(input: ChildInput): Promise<RunFigures[]> {
  const app = initializeApp({ projectId: input.projectId }, "bench");
  const db = getFirestore(app);
  const meter = meterFirestore(db);
  // The platform's whole budget to this run: what is measured is the job, not the limiter.
  const settings = JSON.parse(input.env.PROVIDER_SETTINGS) as Record<string, object>;
  settings.google = { ...settings.google, requestsPerSecond: 1000, concurrency: 10 };
  const runtime = createProviderRuntime(
    requireProviderSettings({ ...input.env, PROVIDER_SETTINGS: JSON.stringify(settings) }),
  );
  const seed = async (userId: string) => {
    await db.doc(integrationPath(userId, "google")).set({
      status: "active",
      accountIds: input.accounts,
      automation: { autoSync: false, cadenceHours: 24, lookbackDays: null },
    });
    await writeCredentials(db, TEST_TOKEN_KEYS, userId, "google", input.tokens);
  };
  await seed("bench-user");
  await seed("bench-live");
  const deps = {
    db,
    clock: () => new Date(),
    fetchMetrics: runtime,
    logger: silentLogger,
    owner: "bench",
    leaseMs: DEFAULT_LEASE_MS,
    tokenKeys: TEST_TOKEN_KEYS,
  };
  const runs = [
    { label: "first", userId: "bench-user", live: false },
    { label: "re-run", userId: "bench-user", live: false },
    { label: "first, live heap", userId: "bench-live", live: true },
  ];
  const figures: RunFigures[] = [];
  for (const { label, userId, live } of runs) {
    const [queued] = await enqueueJobs(deps, [
      {
        userId,
        providerId: "google",
        type: "manual-sync",
        timeframeDays: TIMEFRAME_DAYS,
        source: "bench",
      },
    ]);
    if (queued?.status !== "queued") {
      throw new Error(`the job was not queued: ${JSON.stringify(queued)}`);
    }
    gc();
    const baseline = process.memoryUsage();
    let peak = { rss: baseline.rss, heapUsed: baseline.heapUsed };
    const sample = () => {
      const { rss, heapUsed } = process.memoryUsage();
      peak = { rss: Math.max(peak.rss, rss), heapUsed: Math.max(peak.heapUsed, heapUsed) };
    };
    meter.hooks.beforeCommit = live
      ? () => {
          gc();
          sample();
        }
      : undefined;
    const sampler = live ? undefined : setInterval(sample, 5);
    meter.reset();
    const started = performance.now();
    const outcome = await runJob(deps, queued.jobId);
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    if (!live) {
      sample();
    }
    const usage = meter.usage();
    if (outcome.outcome !== "succeeded") {
      throw new Error(`the job did not succeed: ${JSON.stringify(outcome)}`);
    }
    const job = await db.collection("syncJobs").doc(queued.jobId).get();
    const { accounts: _accounts, ...result } = job.get("result") as Record<string, unknown>;
    figures.push({
      label,
      seconds,
      baselineMiB: baseline.rss / MiB,
      peakRssOverMiB: (peak.rss - baseline.rss) / MiB,
      peakHeapOverMiB: (peak.heapUsed - baseline.heapUsed) / MiB,
      result,
      usage,
    });
  }
  meter.restore();
  await deleteApp(app);
  return figures;
}

function runChild(input: ChildInput): Promise<RunFigures[]> {
  return new Promise((resolve, reject) => {
    const proc = fork(__filename, ["--child"], {
      execArgv: [...process.execArgv, "--expose-gc"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    proc.once("message", (message: { figures?: RunFigures[]; error?: string }) =>
      message.figures ? resolve(message.figures) : reject(new Error(message.error)),
    );
    proc.once("exit", (code) => reject(new Error(`the job process exited (${code})`)));
    proc.send(input);
  });
}

const fixed = (value: number, digits = 1) => value.toFixed(digits);

async function main(): Promise<void> {
  // No metadata server to find here (the job processes inherit it).
  const stopEmulator = await firestoreEmulator("bench-job");
  const accountsOf = (scenario: (typeof SCENARIOS)[number], n: number): SandboxAccount[] =>
    Array.from({ length: scenario.accounts }, (_, i) => ({
      provider: "google",
      id: String(9_000_000_000 + n * 1_000 + i + 1),
      name: `Bench ${n}/${i + 1}`,
      timeZone: "UTC",
      currency: "EUR",
      campaigns: scenario.campaigns ?? ROWS_PER_DAY / scenario.accounts,
    }));
  const stack = await startTestStack(SCENARIOS.flatMap(accountsOf));
  try {
    const memory: Array<Record<string, string>> = [];
    const cost: Array<Record<string, string | number>> = [];
    console.log(
      `${TIMEFRAME_DAYS + 1}-day jobs through runJob, sandbox Google Ads, Firestore emulator\n`,
    );
    for (const [n, scenario] of SCENARIOS.entries()) {
      const accounts = accountsOf(scenario, n);
      const total = accounts.length * accounts[0]!.campaigns * (TIMEFRAME_DAYS + 1);
      const figures = await runChild({
        accounts: accounts.map((account) => account.id),
        tokens: stack.world.issueTokens("google", { refreshable: true, lifetimeMs: 3_600_000 }),
        env: stack.env,
        projectId: `demo-bench-job-${n}-${Date.now()}`,
      });
      for (const run of figures) {
        const { usage, result } = run;
        const name = `${total} rows, ${accounts.length} × ${accounts[0]!.campaigns}: ${run.label}`;
        const live = run.label.includes("live");
        memory.push({
          run: name,
          "wall s": fixed(run.seconds, 2),
          "baseline RSS MiB": fixed(run.baselineMiB, 0),
          [live ? "live heap +MiB" : "peak RSS +MiB"]: fixed(
            live ? run.peakHeapOverMiB : run.peakRssOverMiB,
          ),
          ...(live ? {} : { "peak heap +MiB": fixed(run.peakHeapOverMiB) }),
        });
        if (!live) {
          cost.push({
            run: name,
            reads: usage.reads,
            queries: usage.queries,
            commits: usage.commits,
            writes: usage.writes,
            "metric reads": usage.readsIn.metrics ?? 0,
            "metric writes": usage.writesIn.metrics ?? 0,
            "digest reads": usage.readsIn.metricDigests ?? 0,
            "digest writes": usage.writesIn.metricDigests ?? 0,
            written: result.rowsWritten as number,
            unchanged: result.rowsUnchanged as number,
          });
        }
      }
    }
    console.log("Time and memory (live heap: the peak that survives a full GC at each commit)");
    console.table(memory);
    console.log("Firestore, counted at the client (the job only, not its enqueue)");
    console.table(cost);
  } finally {
    await stack.stop();
    await stopEmulator();
  }
}

if (process.argv.includes("--child")) {
  process.once("message", (input: ChildInput) => {
    child(input).then(
      (figures) => process.send?.({ figures }, () => process.exit(0)),
      (error: unknown) =>
        process.send?.({ error: error instanceof Error ? error.stack : String(error) }, () =>
          process.exit(1),
        ),
    );
  });
} else {
  runMain(main);
}
