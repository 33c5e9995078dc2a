/**
 * Fleet simulation: N function instances against a sandbox TikTok that enforces an app-wide
 * limit (`appQps`: a bucket of QPS requests refilled at QPS per second; past it, TikTok's own
 * 40100 answer), on the official Cloud Firestore emulator, old design against new in one run:
 *
 * - old: what the job trigger did before the platform queues — every job run at once by the
 *   instance its event reached (round robin), each instance with one limiter at the whole
 *   budget shared by the jobs it runs (the code this replaced, rebuilt here from the same
 *   `RateLimiter` and `fetchMetrics`). A refused job is deferred; only the sweep re-ran those.
 * - new: each job dispatched as the trigger dispatches it (`dispatchSnapshot`, firebase-admin's
 *   task queue) to firebase-tools' Cloud Tasks emulator, whose queue is configured from the
 *   real `runSyncJobTiktok`'s manifest (`maxConcurrentDispatches`, retries), and run by
 *   `runDispatchedJob` on the instances in turn, each run with its share of the budget
 *   (`providers/budget.ts`). The production `taskQueues` enqueues.
 *
 * Prints, per design: the platform's refusals, the share of the budget the successful requests
 * used over the time they took, and the jobs' outcomes. Run from functions/:
 * `npx tsx bench/fleet.bench.ts` (options: `--instances 10 --jobs 120 --qps 10 --accounts 2`).
 */
import { randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";

import axios from "axios";
import express from "express";
import { initializeApp } from "firebase-admin/app";
import { getFirestore } from "firebase-admin/firestore";
import { TasksEmulator } from "firebase-tools/lib/emulator/tasksEmulator";

import { freePort } from "../dev/emulators/suite";
import { SANDBOX_PLATFORMS, sandboxProviderSettings } from "../dev/sandbox";
import { startSandbox } from "../dev/sandbox/server";
import { type SandboxAccount, SandboxWorld } from "../dev/sandbox/world";
import { writeCredentials } from "../src/integrations/credentials";
import { integrationPath } from "../src/integrations/model";
import { dispatchSnapshot, jobTaskSchema, runDispatchedJob } from "../src/jobs/dispatch";
import { DEFAULT_LEASE_MS, RUN_BUDGET_MS } from "../src/jobs/lease";
import { JOBS_COLLECTION } from "../src/jobs/model";
import { type ProcessDeps, runJob } from "../src/jobs/process";
import { enqueueJobs } from "../src/jobs/store";
import { REGION } from "../src/params";
import { fetchMetrics } from "../src/providers/fetch";
import { RateLimiter, realClock } from "../src/providers/limiter";
import { ADAPTERS, createProviderRuntime } from "../src/providers/registry";
import { parseProviderSettings } from "../src/providers/settings";
import { systemClock } from "../src/shared/clock";
import { taskQueues } from "../src/triggers/deps";
import { runSyncJobTiktok } from "../src/triggers/tasks";
import { TEST_TOKEN_KEYS } from "../test/harness/seed";
import { firestoreEmulator, runMain, silentLogger } from "./support";

const { values } = parseArgs({
  options: {
    instances: { type: "string", default: "10" },
    jobs: { type: "string", default: "120" },
    qps: { type: "string", default: "10" },
    accounts: { type: "string", default: "2" },
  },
});
const INSTANCES = Number(values.instances);
const JOBS = Number(values.jobs);
const QPS = Number(values.qps);
const ACCOUNTS_PER_JOB = Number(values.accounts);

/** One line on stderr, overwritten: where a long run is. */
const progress = (text: string) => process.stderr.write(`\r${text.padEnd(60)}`);

interface Outcome {
  design: string;
  requests: number;
  refused: number;
  seconds: number;
  budgetUsed: number;
  jobs: Record<string, number>;
}

async function main(): Promise<void> {
  const projectId = `demo-fleet-${Date.now()}`;
  const stopEmulator = await firestoreEmulator("bench-fleet");
  initializeApp({ projectId });
  const db = getFirestore();
  const tokenKeys = TEST_TOKEN_KEYS;

  // One TikTok account per user-account slot; every user's integration holds its own accounts.
  const accounts: SandboxAccount[] = Array.from(
    { length: 2 * JOBS * ACCOUNTS_PER_JOB },
    (_, i) => ({
      provider: "tiktok",
      id: String(7_100_000_000_000_000_000n + BigInt(i)),
      name: `T${i}`,
      timeZone: i % 2 === 0 ? "UTC" : "America/New_York",
      currency: "USD",
      campaigns: 5,
    }),
  );
  const world = new SandboxWorld(accounts);
  world.setFaults("tiktok", { appQps: QPS });
  const sandbox = await startSandbox({ world, platforms: SANDBOX_PLATFORMS });
  const { settings: urls, secrets } = sandboxProviderSettings(sandbox);
  const settings = parseProviderSettings({
    tiktok: { ...urls.tiktok, ...secrets.tiktok, requestsPerSecond: QPS, maxInlineWaitMs: 0 },
  });

  let users = 0;
  /** Seeds `JOBS` users with a TikTok integration each and queues one job for every one. */
  async function queueJobs(design: string): Promise<string[]> {
    const userIds: string[] = [];
    for (let i = 0; i < JOBS; i += 1) {
      const userId = `${design}-user-${i}`;
      const own = accounts.slice(users * ACCOUNTS_PER_JOB, (users + 1) * ACCOUNTS_PER_JOB);
      users += 1;
      await db.doc(integrationPath(userId, "tiktok")).set({
        status: "active",
        accountIds: own.map((account) => account.id),
        automation: { autoSync: false, cadenceHours: 24, lookbackDays: null },
      });
      await writeCredentials(db, tokenKeys, userId, "tiktok", world.issueTokens("tiktok"));
      userIds.push(userId);
    }
    const outcomes = await enqueueJobs(
      { db, clock: systemClock },
      userIds.map((userId) => ({
        userId,
        providerId: "tiktok" as const,
        type: "manual-sync" as const,
        timeframeDays: 3,
        source: "bench",
      })),
    );
    return outcomes.flatMap((outcome) => (outcome.status === "queued" ? [outcome.jobId] : []));
  }

  const processDeps = (fetcher: ProcessDeps["fetchMetrics"]): ProcessDeps => ({
    db,
    clock: systemClock,
    logger: silentLogger,
    fetchMetrics: fetcher,
    owner: `bench/${randomUUID()}`,
    leaseMs: DEFAULT_LEASE_MS,
    tokenKeys,
    deadline: new Date(Date.now() + RUN_BUDGET_MS),
  });

  async function measure(
    design: string,
    jobIds: readonly string[],
    run: () => Promise<void>,
  ): Promise<Outcome> {
    const logStart = world.requestLog.length;
    const refusedBefore = world.appRefusals.tiktok ?? 0;
    await run();
    const log = world.requestLog.slice(logStart).filter((entry) => entry.provider === "tiktok");
    const refused = (world.appRefusals.tiktok ?? 0) - refusedBefore;
    const first = log[0]?.at ?? 0;
    const last = log[log.length - 1]?.at ?? 0;
    const seconds = Math.max(0.001, (last - first) / 1000);
    const jobs = await statusesOf(jobIds);
    return {
      design,
      requests: log.length,
      refused,
      seconds,
      budgetUsed: (log.length - refused) / (QPS * seconds),
      jobs,
    };
  }

  /** How many of the jobs are in each status. */
  async function statusesOf(jobIds: readonly string[]): Promise<Record<string, number>> {
    const statuses: Record<string, number> = {};
    for (let i = 0; i < jobIds.length; i += 100) {
      const snaps = await db.getAll(
        ...jobIds.slice(i, i + 100).map((id) => db.collection(JOBS_COLLECTION).doc(id)),
      );
      for (const snap of snaps) {
        const status = String(snap.get("status"));
        statuses[status] = (statuses[status] ?? 0) + 1;
      }
    }
    return statuses;
  }

  const results: Outcome[] = [];

  // Old: per-instance limiters at the whole budget; every job at once, round robin.
  {
    const jobIds = await queueJobs("old");
    const instances = Array.from({ length: INSTANCES }, () => {
      const limiter = new RateLimiter({
        requestsPerSecond: settings.tiktok.requestsPerSecond,
        concurrency: settings.tiktok.concurrency,
      });
      const http = axios.create();
      return processDeps((_provider, request) =>
        fetchMetrics(
          ADAPTERS.tiktok,
          {
            settings: settings.tiktok,
            axios: http,
            limiter,
            clock: realClock,
          },
          request,
        ),
      );
    });
    results.push(
      await measure("old: per-instance limiters", jobIds, async () => {
        progress(`old: ${jobIds.length} jobs at once`);
        await Promise.all(jobIds.map((jobId, i) => runJob(instances[i % INSTANCES]!, jobId)));
      }),
    );
  }

  // New: Cloud Tasks' queue, each run with its share of the budget.
  {
    const runtimes = Array.from({ length: INSTANCES }, () => createProviderRuntime(settings));
    let next = 0;
    const app = express();
    app.use(express.json());
    app.post("/", (req, res) => {
      const task = jobTaskSchema.parse((req.body as { data?: unknown }).data);
      const instance = runtimes[(next += 1) % INSTANCES]!;
      runDispatchedJob({ ...processDeps(instance), queues: taskQueues }, task).then(
        () => res.status(204).end(),
        () => res.status(500).end(),
      );
    });
    const server = await new Promise<ReturnType<typeof app.listen>>((resolve) => {
      const listening = app.listen(0, "127.0.0.1", () => resolve(listening));
    });
    const tasksPort = await freePort();
    const emulator = new TasksEmulator({ host: "127.0.0.1", port: tasksPort, projectId });
    await emulator.start();
    process.env.CLOUD_TASKS_EMULATOR_HOST = `127.0.0.1:${tasksPort}`;
    const queue = "runSyncJobTiktok";
    await fetch(
      `http://127.0.0.1:${tasksPort}/projects/${projectId}/locations/${REGION}/queues/${queue}`,
      {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          ...(runSyncJobTiktok.__endpoint.taskQueueTrigger ?? {}),
          defaultUri: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
        }),
      },
    );
    const jobIds = await queueJobs("new");
    results.push(
      await measure("new: platform queue, a share per run", jobIds, async () => {
        const dispatch = { db, clock: systemClock, queues: taskQueues };
        for (const jobId of jobIds) {
          await dispatchSnapshot(dispatch, await db.collection(JOBS_COLLECTION).doc(jobId).get());
        }
        const deadline = Date.now() + 15 * 60_000;
        for (;;) {
          const statuses = await statusesOf(jobIds);
          const active = (statuses.queued ?? 0) + (statuses.running ?? 0);
          if (active === 0 || Date.now() > deadline) {
            break;
          }
          progress(`new: ${active} jobs active, ${world.appRefusals.tiktok ?? 0} refused so far`);
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
      }),
    );
    await emulator.stop();
    server.close();
  }

  console.log(
    `${INSTANCES} instances, ${JOBS} TikTok jobs of ${ACCOUNTS_PER_JOB} accounts each, app-wide limit ${QPS} requests/s\n`,
  );
  console.table(
    results.map((result) => ({
      design: result.design,
      requests: result.requests,
      refused: `${result.refused} (${((100 * result.refused) / Math.max(1, result.requests)).toFixed(0)} %)`,
      seconds: result.seconds.toFixed(1),
      "budget used": `${(100 * result.budgetUsed).toFixed(0)} %`,
      jobs: Object.entries(result.jobs)
        .map(([status, count]) => `${status} ${count}`)
        .join(", "),
    })),
  );
  await sandbox.stop();
  await stopEmulator();
}

runMain(main);
