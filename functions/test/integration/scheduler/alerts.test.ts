/**
 * Scheduler alerts end to end: real operations against the official Firestore emulator, messages to
 * the local webhook receiver over real HTTP, a clock the tests move. Jobs run as the platform
 * queues run them (their tasks recorded by the Cloud Tasks stand-in, each run by
 * `runDispatchedJob`), and the scheduled sweep judges the window they finished in. Each test has
 * its own project, so alert state never leaks between tests.
 */
import { randomUUID } from "node:crypto";

import { initializeApp } from "firebase-admin/app";
import { getFirestore, Timestamp } from "firebase-admin/firestore";

import { type RunningWebhookReceiver, startWebhookReceiver } from "../../../dev/webhook-receiver";
import { type DispatchDeps, dispatchJobs, runDispatchedJob } from "../../../src/jobs/dispatch";
import { DEFAULT_LEASE_MS } from "../../../src/jobs/lease";
import type { MetricsFetcher, ProcessDeps, RunOutcome } from "../../../src/jobs/process";
import { claimJob, enqueueJobs } from "../../../src/jobs/store";
import { ProviderError } from "../../../src/providers/errors";
import type { ProviderId } from "../../../src/providers/types";
import {
  ALERTS_COLLECTION,
  type AlertsReport,
  evaluateRunAlerts,
  reportAuthFailureSpike,
} from "../../../src/scheduler/alerts";
import { EVENTS_COLLECTION } from "../../../src/scheduler/events";
import {
  dispatchSweepOperation,
  type OperationDeps,
  resetStaleOperation,
  sweepOperation,
} from "../../../src/scheduler/operations";
import type { RawEnv } from "../../../src/shared/config";
import { type LogEntry, recordingLogger, twoRowFetcher } from "../../harness/auth";
import { type TestFirestore, testFirestore } from "../../harness/firestore";
import { listenOnLoopback } from "../../harness/http";
import { manualClock, seedIntegration, TEST_TOKEN_KEYS } from "../../harness/seed";
import { type RecordingQueues, recordingQueues } from "../../harness/tasks";

let receiver: RunningWebhookReceiver;
let firestore: TestFirestore;
let time: ReturnType<typeof manualClock>;
let logs: LogEntry[];
let cloudTasks: RecordingQueues;
/** The recorded tasks already run. */
let tasksRun: number;
/** Platforms whose reports fail (permanently: the job fails at once, the next run re-enqueues). */
const failing = new Set<ProviderId>();

const fetcher: MetricsFetcher = (providerId, request) =>
  failing.has(providerId)
    ? Promise.reject(
        new ProviderError(providerId, "permanent", "http_400", `${providerId} refused the report`),
      )
    : twoRowFetcher(providerId, request);

beforeAll(async () => {
  receiver = await startWebhookReceiver();
});
afterAll(() => receiver.stop());

beforeEach(() => {
  firestore = testFirestore("alerts");
  time = manualClock();
  logs = [];
  cloudTasks = recordingQueues();
  tasksRun = 0;
  failing.clear();
  receiver.messages.length = 0;
  Object.assign(receiver.answer, { status: 200, delayMs: 0 });
});
afterEach(() => firestore.close());

const deps = (env: RawEnv = {}): ProcessDeps & OperationDeps & DispatchDeps => ({
  db: firestore.db,
  clock: time.clock,
  queues: cloudTasks.queues,
  logger: recordingLogger(logs),
  fetchMetrics: fetcher,
  owner: `test-${randomUUID()}`,
  leaseMs: DEFAULT_LEASE_MS,
  tokenKeys: TEST_TOKEN_KEYS,
  env: { SCHEDULER_ALERT_WEBHOOK_URL: receiver.url, ...env },
});

async function seedUsers(providerId: ProviderId, count: number): Promise<string[]> {
  const users = Array.from({ length: count }, (_, i) => `${providerId}-user-${i + 1}`);
  for (const userId of users) {
    await seedIntegration(firestore.db, { userId, providerId });
  }
  return users;
}

async function enqueue(providerId: ProviderId, users: readonly string[]): Promise<string[]> {
  const outcomes = await enqueueJobs(
    deps(),
    users.map((userId) => ({
      userId,
      providerId,
      type: "manual-sync" as const,
      timeframeDays: 1,
      source: "test",
    })),
  );
  return outcomes.flatMap((outcome) => (outcome.status === "queued" ? [outcome.jobId] : []));
}

/** The worker endpoint: due jobs run inline, and its batch's failures are judged. */
const sweep = (env: RawEnv = {}) =>
  sweepOperation(deps(env), "test-sweep", { maxJobs: 50, maxUsers: 50 });

/** The scheduled sweep: due jobs dispatched, and the jobs of the last 5 minutes judged. */
const SWEEP_WINDOW_MS = 5 * 60_000;
const dispatchSweep = (env: RawEnv = {}) =>
  dispatchSweepOperation(deps(env), "cloud-scheduler", {
    maxJobs: 50,
    windowMs: SWEEP_WINDOW_MS,
  });

/** What alerting needs, on `db`: another instance's client in the two-instance tests. */
const alertDeps = (db = firestore.db) => ({
  db,
  clock: time.clock,
  logger: recordingLogger(logs),
  env: { SCHEDULER_ALERT_WEBHOOK_URL: receiver.url },
});

const texts = () => receiver.messages.map((message) => message.text);
const opened = () => texts().filter((text) => text.startsWith("[Cohorts sync] ALERT:"));
const resolved = () => texts().filter((text) => text.startsWith("[Cohorts sync] RESOLVED:"));
const alertDocuments = async () =>
  (await firestore.db.collection(ALERTS_COLLECTION).get()).docs.map((doc) => doc.id);

/** Each job gets its task, as the job trigger dispatches a created job. */
async function dispatch(jobIds: readonly string[]): Promise<void> {
  const counts = await dispatchJobs(deps(), jobIds);
  expect(counts.enqueued).toBe(jobIds.length);
}

/** Runs the recorded tasks not run yet, all at once, as the platform queues deliver them. */
function runTasks(): Promise<RunOutcome[]> {
  const pending = cloudTasks.tasks.slice(tasksRun);
  tasksRun = cloudTasks.tasks.length;
  return Promise.all(pending.map(({ task }) => runDispatchedJob(deps(), task)));
}

/**
 * One sweep window of `providerId`'s users: their jobs dispatched and run as tasks, failing when
 * `fails`, and a minute later the scheduled sweep that judges them. Windows are 5 minutes
 * apart, so each sweep reads only its own window's jobs.
 */
async function sweepWindow(
  providerId: ProviderId,
  users: readonly string[],
  fails: boolean,
  env: RawEnv = {},
) {
  time.advance(SWEEP_WINDOW_MS - 60_000);
  if (fails) {
    failing.add(providerId);
  } else {
    failing.delete(providerId);
  }
  await dispatch(await enqueue(providerId, users));
  await runTasks();
  time.advance(60_000);
  return dispatchSweep(env);
}

async function storedEvent(eventId: string) {
  return (await firestore.db.collection(EVENTS_COLLECTION).doc(eventId).get()).data() as {
    alerts?: AlertsReport;
    queue?: Record<string, unknown>;
    details?: Record<string, unknown>;
  };
}

describe("failure alerts", () => {
  it("posts one message when a platform's failures in one run reach the threshold", async () => {
    const meta = await seedUsers("meta", 3);
    const google = await seedUsers("google", 1);
    failing.add("meta");
    await enqueue("meta", meta);
    await enqueue("google", google);

    const result = await sweep();

    expect(result.counts).toMatchObject({ processed: 4, succeeded: 1, failed: 3 });
    expect(texts()).toEqual([
      `[Cohorts sync] ALERT: Meta Ads sync failures. 3 failures in one process_queued_jobs run from test-sweep (threshold 3): permanent ×3. Event ${EVENTS_COLLECTION}/${result.eventId}.`,
    ]);
    const report = { deliveries: [{ key: "failures.meta", action: "alert", delivered: true }] };
    expect(result.alerts).toEqual(report);
    const event = await storedEvent(result.eventId);
    expect(event.alerts).toEqual(report);
    expect(event.queue).toMatchObject({ queued: 0, running: 0, failedLast24h: 3 });
    const state = await firestore.db.doc(`${ALERTS_COLLECTION}/failures.meta`).get();
    expect(state.get("status")).toBe("firing");
  });

  it("stays quiet while a platform's failures in a run stay below the threshold", async () => {
    failing.add("meta");
    await enqueue("meta", await seedUsers("meta", 2));
    const result = await sweep();
    expect(result.counts.failed).toBe(2);
    expect(texts()).toEqual([]);
    expect(result.alerts).toBeUndefined();
  });

  it("takes a platform override before an event-type override", async () => {
    failing.add("meta");
    failing.add("tiktok");
    await enqueue("meta", await seedUsers("meta", 2));
    await enqueue("tiktok", await seedUsers("tiktok", 2));
    await sweep({
      SCHEDULER_ALERT_THRESHOLDS: '{"providers":{"meta":2},"operations":{"process_queued_jobs":5}}',
    });
    // meta: 2 ≥ its own 2; tiktok: 2 < the sweep's 5 (the global default 3 is not used).
    expect(texts()).toHaveLength(1);
    expect(texts()[0]).toContain("ALERT: Meta Ads sync failures. 2 failures");
  });

  it("suppresses repeats within the cooldown, reminds after it, and recovers once after K clean runs", async () => {
    const users = await seedUsers("meta", 1);
    const env = { SCHEDULER_ALERT_THRESHOLDS: '{"providers":{"meta":1}}' };
    const round = async (fails: boolean, minutesLater: number) => {
      time.advance(minutesLater * 60_000);
      if (fails) {
        failing.add("meta");
      } else {
        failing.delete("meta");
      }
      await enqueue("meta", users);
      return sweep(env);
    };

    await round(true, 0);
    const suppressed = await round(true, 10);
    await round(true, 50);
    await round(false, 5);
    await round(false, 5);
    await round(false, 5);

    expect(suppressed.alerts).toBeUndefined();
    expect(texts().map((text) => text.split(":")[0])).toEqual([
      "[Cohorts sync] ALERT",
      "[Cohorts sync] STILL FIRING since 2026-11-28T03",
      "[Cohorts sync] RESOLVED",
    ]);
    expect(texts()[2]).toContain("(firing since 2026-11-28T03:00:00.000Z, 75 min)");
  });

  it("sends one message when two instances see the same breach at once", async () => {
    const other = initializeApp({ projectId: firestore.projectId }, `${firestore.projectId}-2`);
    const run = {
      operation: "process_queued_jobs" as const,
      source: "test",
      eventId: "e1",
      errors: [{ provider: "meta", code: "transient", count: 3 }],
      reached: ["meta" as const],
    };
    const reports = await Promise.all([
      evaluateRunAlerts(alertDeps(firestore.db), run),
      evaluateRunAlerts(alertDeps(getFirestore(other)), run),
    ]);
    expect(texts()).toHaveLength(1);
    expect(reports.filter((report) => report !== undefined)).toHaveLength(1);
  });
});

describe("job runs on the platform queues, judged by the sweep's window", () => {
  it("write no alert state while they run; the sweep then opens one alert with the window's failures", async () => {
    failing.add("meta");
    await dispatch(await enqueue("meta", await seedUsers("meta", 8)));
    expect(cloudTasks.tasks.map((task) => task.providerId)).toEqual(Array(8).fill("meta"));

    const outcomes = await runTasks();

    expect(outcomes.map((run) => run.outcome)).toEqual(Array(8).fill("failed"));
    expect(await alertDocuments()).toEqual([]);
    expect((await firestore.db.collection(EVENTS_COLLECTION).get()).size).toBe(0);
    expect(texts()).toEqual([]);

    time.advance(60_000);
    const result = await dispatchSweep();

    expect(result.counts.failed).toBe(8);
    expect(result.errors).toEqual([{ provider: "meta", code: "permanent", count: 8 }]);
    expect(texts()).toEqual([
      `[Cohorts sync] ALERT: Meta Ads sync failures. 8 failures in one process_queued_jobs run from cloud-scheduler (threshold 3): permanent ×8. Event ${EVENTS_COLLECTION}/${result.eventId}.`,
    ]);
    expect(await alertDocuments()).toEqual(["failures.meta"]);
  });

  it("alert on a platform failing transiently within one window, long before the jobs' retries run out", async () => {
    const transient: MetricsFetcher = (providerId) =>
      Promise.reject(new ProviderError(providerId, "transient", "http_503", "unavailable"));
    await dispatch(await enqueue("tiktok", await seedUsers("tiktok", 3)));
    const outcomes = await Promise.all(
      cloudTasks.tasks.map(({ task }) =>
        runDispatchedJob({ ...deps(), fetchMetrics: transient }, task),
      ),
    );
    tasksRun = cloudTasks.tasks.length;
    // Every job is back in the queue for its retry: none failed for good.
    expect(outcomes.map((run) => run.outcome)).toEqual(Array(3).fill("retry_scheduled"));

    time.advance(60_000);
    const result = await dispatchSweep();

    expect(result.errors).toEqual([{ provider: "tiktok", code: "transient", count: 3 }]);
    expect(opened()).toEqual([
      `[Cohorts sync] ALERT: TikTok Ads sync failures. 3 failures in one process_queued_jobs run from cloud-scheduler (threshold 3): transient ×3. Event ${EVENTS_COLLECTION}/${result.eventId}.`,
    ]);
  });

  it("records the window's failures in the sweep's event; K clean sweeps of a platform that succeeded resolve it", async () => {
    const meta = await seedUsers("meta", 3);
    const google = await seedUsers("google", 1);
    failing.add("meta");
    await dispatch(await enqueue("meta", meta));
    await dispatch(await enqueue("google", google));
    await runTasks();
    time.advance(60_000);

    const first = await dispatchSweep();

    const since = new Date(time.clock().getTime() - SWEEP_WINDOW_MS).toISOString();
    const finished = { since, failed: 3, capped: false };
    expect(first.details).toMatchObject({ finished });
    expect((await storedEvent(first.eventId)).details).toMatchObject({ finished });
    expect(first.errors).toEqual([{ provider: "meta", code: "permanent", count: 3 }]);
    // Google succeeded in the window, with no incident to count towards: no state at all.
    expect(await alertDocuments()).toEqual(["failures.meta"]);
    expect(opened()).toHaveLength(1);

    await sweepWindow("meta", meta, false);
    // A window without a Meta job neither resolves nor restarts the count.
    time.advance(SWEEP_WINDOW_MS);
    const idle = await dispatchSweep();
    expect(idle.details).toMatchObject({ finished: { failed: 0 } });
    await sweepWindow("meta", meta, false);
    const state = firestore.db.doc(`${ALERTS_COLLECTION}/failures.meta`);
    expect((await state.get()).data()).toMatchObject({ status: "firing", cleanRuns: 2 });
    expect(resolved()).toEqual([]);

    await sweepWindow("meta", meta, false);
    expect(resolved()).toEqual([
      "[Cohorts sync] RESOLVED: Meta Ads sync failures. 3 runs in a row reached Meta Ads without a failure, the last a process_queued_jobs run (firing since 2026-11-28T03:01:00.000Z, 20 min).",
    ]);
    expect(texts()).toHaveLength(2);
  });

  it("a failed window before the K-th clean one starts the count again", async () => {
    const users = await seedUsers("meta", 3);
    for (const fails of [true, false, false, true, false, false]) {
      await sweepWindow("meta", users, fails);
    }
    expect(opened()).toHaveLength(1);
    expect(resolved()).toEqual([]);
    await sweepWindow("meta", users, false);
    expect(resolved()).toHaveLength(1);
    expect(texts()).toHaveLength(2);
  });

  it("an incident that re-opens within the cooldown sends no new opening message; after it, one", async () => {
    const users = await seedUsers("meta", 1);
    const env = {
      SCHEDULER_ALERT_THRESHOLDS: '{"operations":{"process_queued_jobs":1}}',
      SCHEDULER_ALERT_RESOLVE_RUNS: "1",
    };
    await sweepWindow("meta", users, true, env);
    await sweepWindow("meta", users, false, env);
    expect(texts().map((text) => text.split(":")[0])).toEqual([
      "[Cohorts sync] ALERT",
      "[Cohorts sync] RESOLVED",
    ]);
    expect(texts()[0]).toContain(
      "Meta Ads sync failures. 1 failures in one process_queued_jobs run",
    );

    await sweepWindow("meta", users, true, env);
    await sweepWindow("meta", users, true, env);
    expect(texts()).toHaveLength(2);
    const state = firestore.db.doc(`${ALERTS_COLLECTION}/failures.meta`);
    expect((await state.get()).data()).toMatchObject({ status: "firing", announced: false });

    // Still failing once the cooldown since the first alert has passed: it opens in the channel.
    time.advance(45 * 60_000);
    await sweepWindow("meta", users, true, env);
    expect(opened()).toHaveLength(2);
    expect(texts()).toHaveLength(3);
  });

  it("sends one recovery when two instances see the clean run that resolves the incident", async () => {
    const outline = (failures: number) => ({
      operation: "process_queued_jobs" as const,
      source: "cloud-scheduler",
      eventId: randomUUID(),
      errors: failures > 0 ? [{ provider: "meta", code: "permanent", count: failures }] : [],
      reached: failures > 0 ? [] : ["meta" as const],
    });
    for (const failures of [3, 0, 0]) {
      time.advance(SWEEP_WINDOW_MS);
      await evaluateRunAlerts(alertDeps(firestore.db), outline(failures));
    }
    expect(texts()).toHaveLength(1);
    time.advance(SWEEP_WINDOW_MS);
    const other = initializeApp({ projectId: firestore.projectId }, `${firestore.projectId}-2`);
    await Promise.all([
      evaluateRunAlerts(alertDeps(firestore.db), outline(0)),
      evaluateRunAlerts(alertDeps(getFirestore(other)), outline(0)),
    ]);
    expect(resolved()).toHaveLength(1);
    expect(texts()).toHaveLength(2);
  });

  it("reads state documents written by earlier code and carries their incident on", async () => {
    const users = await seedUsers("meta", 3);
    const ref = firestore.db.doc(`${ALERTS_COLLECTION}/failures.meta`);
    const now = Timestamp.fromDate(time.clock());
    const written = {
      title: "Meta Ads sync failures",
      lastBreachAt: now,
      lastDetail: "3 of the last 3 process_job run(s) failed, 3 in a row",
      updatedAt: now,
    };
    // The run-window code: a firing incident with the trigger runs of its window.
    await ref.set({
      ...written,
      status: "firing",
      since: now,
      lastNotifiedAt: now,
      announced: true,
      cleanRuns: 1,
      runs: [true, true, true].map((failed) => ({ at: now, failed })),
    });
    await sweepWindow("meta", users, false);
    expect(texts()).toEqual([]);
    const carried = (await ref.get()).data();
    expect(carried).toMatchObject({ status: "firing", cleanRuns: 2 });
    expect(carried).not.toHaveProperty("runs");
    await sweepWindow("meta", users, false);
    expect(resolved()).toHaveLength(1);

    // Older still: a streak of trigger runs and no `announced`: read as a quiet condition.
    await ref.set({ ...written, status: "ok", streak: 2, since: null, lastNotifiedAt: null });
    await sweepWindow("meta", users.slice(0, 1), true);
    expect(opened()).toEqual([]);
    await sweepWindow("meta", users, true);
    expect(opened()).toHaveLength(1);
  });
});

describe("a failing webhook", () => {
  it("refusing connections fails neither run nor event, never shows its URL or a token, and is retried", async () => {
    const closed = await listenOnLoopback(() => undefined);
    await closed.close();
    const secretPath = "/services/T000/B000/webhook-secret-path";
    const users = await seedUsers("meta", 3);
    failing.add("meta");
    await enqueue("meta", users);

    const result = await sweep({ SCHEDULER_ALERT_WEBHOOK_URL: `${closed.url}${secretPath}` });

    expect(result.counts).toMatchObject({ processed: 3, failed: 3 });
    const report = {
      deliveries: [
        {
          key: "failures.meta",
          action: "alert",
          delivered: false,
          error: "could not connect (ECONNREFUSED)",
        },
      ],
    };
    expect(result.alerts).toEqual(report);
    const event = await storedEvent(result.eventId);
    expect(event.alerts).toEqual(report);
    const seen = JSON.stringify([result, event, logs, texts()]);
    expect(seen).not.toContain("webhook-secret-path");
    // Nor any stored token (seeded as `token-<user>-<platform>`).
    expect(seen).not.toContain("token-meta-user");

    // Within the cooldown, but the alert never got through: the next breach sends it.
    time.advance(5 * 60_000);
    await enqueue("meta", users);
    await sweep();
    expect(texts()).toHaveLength(1);
    expect(texts()[0]).toContain("ALERT: Meta Ads sync failures");
  });

  it("answering slowly is cut off at SCHEDULER_ALERT_TIMEOUT_MS and the run completes", async () => {
    receiver.answer.delayMs = 15_000;
    failing.add("meta");
    await enqueue("meta", await seedUsers("meta", 3));
    const began = Date.now();
    const result = await sweep({ SCHEDULER_ALERT_TIMEOUT_MS: "300" });
    // Bounded by the configured timeout, far from the receiver's 15 s.
    expect(Date.now() - began).toBeLessThan(5_000);
    expect(result.counts.failed).toBe(3);
    expect(result.alerts).toEqual({
      deliveries: [
        {
          key: "failures.meta",
          action: "alert",
          delivered: false,
          error: "timed out after 300 ms",
        },
      ],
    });
  });

  it("answering 500 is recorded as such", async () => {
    receiver.answer.status = 500;
    failing.add("meta");
    await enqueue("meta", await seedUsers("meta", 3));
    const result = await sweep();
    expect(result.alerts).toEqual({
      deliveries: [
        {
          key: "failures.meta",
          action: "alert",
          delivered: false,
          error: "the webhook answered HTTP 500",
        },
      ],
    });
  });
});

describe("queue alerts", () => {
  it("alerts when the oldest due job waited past the stuck age, and recovers", async () => {
    const [jobId] = await enqueue("google", await seedUsers("google", 1));
    time.advance(31 * 60_000);
    await resetStaleOperation(deps(), "test");
    expect(texts()).toEqual([
      `[Cohorts sync] ALERT: Sync queue stuck. The oldest due job (${jobId}) has waited 31 min (threshold 30 min); 1 queued, 0 running. Seen by reset_stale_jobs.`,
    ]);

    time.advance(60_000);
    await sweep();
    expect(texts()[1]).toBe(
      "[Cohorts sync] RESOLVED: Sync queue stuck. No due job has waited 30 min any more (firing since 2026-11-28T03:31:00.000Z, 1 min).",
    );
  });

  it("alerts on stale running jobs the reset found, and recovers when none is left", async () => {
    const [jobId] = await enqueue("google", await seedUsers("google", 1));
    await claimJob(deps(), jobId!, "a-worker-that-died", 60_000);
    time.advance(2 * 60_000);
    const reset = await resetStaleOperation(deps(), "test");
    expect(reset.counts.queued).toBe(1);
    expect(texts()).toEqual([
      "[Cohorts sync] ALERT: Stale running jobs. 1 running job(s) had an expired lease: their worker died or timed out; this reset re-queued or failed them.",
    ]);

    await sweep();
    expect(texts()[1]).toMatch(/^\[Cohorts sync\] RESOLVED: Stale running jobs\. No running job/);
  });
});

describe("failed-authentication spikes", () => {
  const spike = (source: string) => ({
    source,
    endpoint: "cron",
    failures: 21,
    windowSeconds: 300,
    blockedSeconds: 900,
  });

  it("alerts once per incident, whichever source, and resolves after a quiet cooldown", async () => {
    const first = await reportAuthFailureSpike(alertDeps(), spike("<!channel> 203.0.113.9"));
    expect(first).toEqual({
      deliveries: [{ key: "auth.failure_spike", action: "alert", delivered: true }],
    });
    // The source is client-influenced: it reaches the channel as an address, or not at all.
    expect(texts()).toEqual([
      "[Cohorts sync] ALERT: Failed authentication spike. 21 failed attempts from ??channel??203.0.113.9 on cron within 300 s; that source gets 429 for 900 s.",
    ]);

    time.advance(5 * 60_000);
    expect(await reportAuthFailureSpike(alertDeps(), spike("198.51.100.7"))).toBeUndefined();
    time.advance(30 * 60_000);
    await dispatchSweep();
    expect(texts()).toHaveLength(1);

    time.advance(31 * 60_000);
    await dispatchSweep();
    expect(texts()[1]).toBe(
      "[Cohorts sync] RESOLVED: Failed authentication spike. No new spike for 60 min (firing since 2026-11-28T03:00:00.000Z, 66 min).",
    );
  });
});

describe("without alerting", () => {
  it("evaluates nothing and keeps no state when no webhook is configured", async () => {
    failing.add("meta");
    await enqueue("meta", await seedUsers("meta", 3));
    const result = await sweep({ SCHEDULER_ALERT_WEBHOOK_URL: "" });
    expect(result.alerts).toBeUndefined();
    expect(result.queue).toMatchObject({ failedLast24h: 3 });
    expect((await firestore.db.collection(ALERTS_COLLECTION).get()).size).toBe(0);
    expect(texts()).toEqual([]);
  });

  it("writes a bad alert configuration into the event, and the run goes on", async () => {
    failing.add("meta");
    await enqueue("meta", await seedUsers("meta", 3));
    const result = await sweep({ SCHEDULER_ALERT_THRESHOLDS: '{"providers":{"facebook":1}}' });
    expect(result.counts.failed).toBe(3);
    expect(result.alerts).toEqual({
      error: expect.stringContaining(
        "SCHEDULER_ALERT_THRESHOLDS has invalid thresholds: providers.facebook",
      ) as unknown,
    });
    expect((await storedEvent(result.eventId)).alerts).toEqual(result.alerts);
  });
});
