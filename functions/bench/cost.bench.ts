/**
 * The cost model: what a night of scheduled syncs costs at 1,000, 100,000 and 1,000,000 users,
 * from the Firestore reads, writes and deletes, the Cloud Tasks operations, the function
 * invocations and the platform requests measured here per job, on the official Cloud Firestore
 * emulator with the project's own code end to end: the 02:00 UTC fan-out (`enqueueAllUsers`),
 * each job's dispatch (`dispatchSnapshot`, a task per job counted by a recording stand-in) and
 * its run (`runDispatchedJob`, the provider runtime over HTTP against the sandbox platforms).
 *
 * Two nights are measured for the same users, each with Google, Meta, LinkedIn and TikTok
 * integrations of 2 accounts × 10 campaigns: the first (every row new, each platform's
 * restatement window) and the next (one day later: what a normal night costs — the window moved
 * by a day, restated days compared through the digests). Cleanup adds one delete per job and
 * per scheduler event a week later. Firestore is metered at the client's request funnel
 * (`test/harness/firestore-meter.ts`), as Firestore bills: every document returned is a read
 * (an empty query one), every write of a commit a write.
 *
 * Prices are list prices, stated here so the arithmetic can be checked (multi-region nam5,
 * cloud.google.com/firestore/pricing; Cloud Tasks and Cloud Run functions' per-invocation
 * price); compute time and free tiers are left out. Run: `npx tsx bench/cost.bench.ts` from
 * functions/ (option `--users 10`).
 */
import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";

import { initializeApp } from "firebase-admin/app";
import { getFirestore } from "firebase-admin/firestore";

import type { SandboxAccount } from "../dev/sandbox/world";
import { dispatchSnapshot, runDispatchedJob } from "../src/jobs/dispatch";
import { DEFAULT_LEASE_MS, RUN_BUDGET_MS } from "../src/jobs/lease";
import { JOBS_COLLECTION } from "../src/jobs/model";
import { enqueueAllUsers } from "../src/jobs/schedule";
import { PROVIDER_IDS } from "../src/providers/types";
import { meterFirestore } from "../test/harness/firestore-meter";
import { TEST_TOKEN_KEYS } from "../test/harness/seed";
import { seedSandboxIntegration, startTestStack } from "../test/harness/stack";
import { recordingQueues } from "../test/harness/tasks";
import { firestoreEmulator, runMain, silentLogger } from "./support";

const { values } = parseArgs({ options: { users: { type: "string", default: "10" } } });
const USERS = Number(values.users);

const PRICE = {
  /** Firestore, nam5, per document. */
  read: 0.06 / 100_000,
  write: 0.18 / 100_000,
  delete: 0.02 / 100_000,
  /** Cloud Tasks, per billable operation (an enqueue, a dispatch). */
  taskOperation: 0.4 / 1_000_000,
  /** Cloud Run functions, per invocation. */
  invocation: 0.4 / 1_000_000,
};

const accountsOf = (provider: (typeof PROVIDER_IDS)[number], start: number): SandboxAccount[] =>
  [0, 1].map((i) => ({
    provider,
    id: provider === "meta" ? String(4_000_000_000 + start + i) : String(1_000_000_000 + start + i),
    name: `${provider}-${i}`,
    timeZone: i === 0 ? "UTC" : "America/Los_Angeles",
    currency: "USD",
    campaigns: 10,
  }));

interface Night {
  jobs: number;
  reads: number;
  writes: number;
  tasks: number;
  requests: number;
  statuses: Record<string, number>;
}

async function main(): Promise<void> {
  const stopEmulator = await firestoreEmulator("bench-cost");
  // The code's clock runs ahead of the real one by `offset`: the next night is a day later, and
  // a spread slot's job runs at its due time. (The platform requests' own deadline is real time.)
  let offset = 0;
  const clock = () => new Date(Date.now() + offset);
  const app = initializeApp({ projectId: `demo-cost-${randomUUID().slice(0, 8)}` }, "bench");
  const db = getFirestore(app);
  const stack = await startTestStack(
    PROVIDER_IDS.flatMap((provider, p) => accountsOf(provider, p * 10)),
    () => Date.now() + offset,
  );
  const { runtime } = stack;
  for (let u = 0; u < USERS; u += 1) {
    for (const provider of PROVIDER_IDS) {
      await seedSandboxIntegration(db, stack, `cost-user-${u}`, provider, { autoSync: true });
    }
  }
  const meter = meterFirestore(db);

  async function night(): Promise<Night> {
    const queues = recordingQueues();
    const requestsBefore = stack.world.requestLog.length;
    meter.reset();
    const enqueued = await enqueueAllUsers(
      { db, clock },
      {
        jobType: "scheduled-sync",
        timeframeDays: 1,
        source: "cloud-scheduler",
        deadline: new Date(clock().getTime() + 60 * 60_000),
      },
    );
    const jobIds = enqueued.outcomes.flatMap((outcome) =>
      outcome.status === "queued" ? [outcome.jobId] : [],
    );
    const deps = {
      db,
      clock,
      logger: silentLogger,
      fetchMetrics: runtime,
      owner: `bench/${randomUUID()}`,
      leaseMs: DEFAULT_LEASE_MS,
      tokenKeys: TEST_TOKEN_KEYS,
      deadline: new Date(clock().getTime() + RUN_BUDGET_MS),
      queues: queues.queues,
    };
    for (const jobId of jobIds) {
      await dispatchSnapshot(deps, await db.collection(JOBS_COLLECTION).doc(jobId).get());
    }
    const statuses: Record<string, number> = {};
    for (const task of [...queues.tasks]) {
      // A spread daily slot's job is due later in its window: its task runs then.
      offset = Math.max(offset, task.scheduleTime.getTime() - Date.now());
      const run = await runDispatchedJob(deps, task.task);
      statuses[run.outcome] = (statuses[run.outcome] ?? 0) + 1;
    }
    const usage = meter.usage();
    return {
      jobs: jobIds.length,
      reads: usage.reads,
      writes: usage.writes,
      tasks: queues.tasks.length,
      requests: stack.world.requestLog.length - requestsBefore,
      statuses,
    };
  }

  const first = await night();
  offset += 24 * 3_600_000;
  const next = await night();
  meter.restore();

  const perJob = (value: number, of: Night) => value / Math.max(1, of.jobs);
  console.log(
    `${USERS} users × 4 platforms, 2 accounts × 10 campaigns each; per job (first night / next night):`,
  );
  console.table(
    [first, next].map((n, i) => ({
      night: i === 0 ? "first (all rows new)" : "next (one day later)",
      jobs: n.jobs,
      outcomes: Object.entries(n.statuses)
        .map(([status, count]) => `${status} ${count}`)
        .join(", "),
      "reads/job": perJob(n.reads, n).toFixed(1),
      "writes/job": perJob(n.writes, n).toFixed(1),
      "tasks/job": perJob(n.tasks, n).toFixed(2),
      "platform requests/job": perJob(n.requests, n).toFixed(1),
    })),
  );

  // A normal night at scale: the next night's figures per job; each job is enqueued (one task
  // created, one dispatched: two billable operations), triggers two invocations (the trigger and
  // the task) and is deleted a week later (one delete, and its share of the events).
  const rows = [1_000, 100_000, 1_000_000].map((users) => {
    const jobs = users * 4;
    const reads = jobs * perJob(next.reads, next);
    const writes = jobs * perJob(next.writes, next);
    const deletes = jobs;
    const taskOperations = jobs * 2 * perJob(next.tasks, next);
    const invocations = jobs * 2;
    const dollars =
      reads * PRICE.read +
      writes * PRICE.write +
      deletes * PRICE.delete +
      taskOperations * PRICE.taskOperation +
      invocations * PRICE.invocation;
    return {
      users: users.toLocaleString("en-US"),
      "doc reads": Math.round(reads).toLocaleString("en-US"),
      "doc writes": Math.round(writes).toLocaleString("en-US"),
      deletes: deletes.toLocaleString("en-US"),
      "task ops": Math.round(taskOperations).toLocaleString("en-US"),
      invocations: invocations.toLocaleString("en-US"),
      "platform requests": Math.round(jobs * perJob(next.requests, next)).toLocaleString("en-US"),
      "$ per night": dollars.toFixed(2),
    };
  });
  console.log("\nA normal night at scale (list prices, compute and free tiers left out):");
  console.table(rows);
  await stack.stop();
  await stopEmulator();
}

runMain(main);
