/**
 * The request limiter and the failed-authentication counter under 20 concurrent callers, on the
 * official Cloud Firestore emulator, old design against new in one process:
 *
 * - rate limit, one caller (the cron key is one principal, whoever holds it): the replaced
 *   one-document transaction with its 2 s fail-closed timeout, against `enforceRateLimit`
 *   (sharded increments, no transaction);
 * - failed authentication, one source: the replaced per-source transaction against
 *   `recordSourceFailure` (numbered tickets written with `create()`).
 *
 * Prints throughput, latency percentiles, the 5xx a caller would have got, and how many
 * failures were counted. Run: `npx tsx bench/rate-limit.bench.ts` (needs `functions/lib` for
 * the emulator run folder, as `npm test` does; set FIRESTORE_EMULATOR_HOST to reuse a running
 * emulator). Options: `--callers 20 --requests 10` (per caller).
 */
import { parseArgs } from "node:util";

import { deleteApp, initializeApp } from "firebase-admin/app";
import { type Firestore, getFirestore, Timestamp } from "firebase-admin/firestore";

import {
  enforceRateLimit,
  LIMITER_TIMEOUT_MS,
  type LimiterDeps,
  recordSourceFailure,
} from "../src/http/rate-limit";
import type { Logger } from "../src/shared/logger";
import { AUTH_FAILURE_DEFAULTS } from "../src/shared/rate-limit-config";
import { withTimeout } from "../src/shared/timeout";
import { firestoreEmulator, runMain } from "./support";

const { values } = parseArgs({
  options: {
    callers: { type: "string", default: "20" },
    requests: { type: "string", default: "10" },
  },
});
const CALLERS = Number(values.callers);
const REQUESTS = Number(values.requests);

/** A logger that only counts errors: the new limiter's sign of a check it could not make. */
function countingLogger(): Logger & { errors: number } {
  const logger = {
    errors: 0,
    debug: () => undefined,
    info: () => undefined,
    warn: () => undefined,
    error: () => {
      logger.errors += 1;
    },
    child: () => logger,
  };
  return logger;
}

/** What the old limiter did per request: one transaction on the caller's document, 2 s cap. */
async function oldRateLimit(db: Firestore, id: string): Promise<void> {
  const ref = db.collection("bench-old-rateLimits").doc(id);
  await withTimeout(
    db.runTransaction(async (tx) => {
      const count = ((await tx.get(ref)).get("count") as number | undefined) ?? 0;
      tx.set(ref, { count: count + 1, windowStart: Timestamp.now() });
    }),
    LIMITER_TIMEOUT_MS,
  );
}

/** What the old failure counter did per refusal: one transaction on the source's document. */
async function oldSourceFailure(db: Firestore, source: string): Promise<boolean> {
  const ref = db.collection("bench-old-authFailureSources").doc(source);
  try {
    await withTimeout(
      db.runTransaction(async (tx) => {
        const failures = ((await tx.get(ref)).get("failures") as number | undefined) ?? 0;
        tx.set(ref, { failures: failures + 1 });
      }),
      LIMITER_TIMEOUT_MS,
    );
    return true;
  } catch {
    return false; // The old code logged and answered 401: the failure went uncounted.
  }
}

interface Result {
  label: string;
  requests: number;
  seconds: number;
  latencies: number[];
  serverErrors: number;
  note: string;
}

/** `CALLERS` concurrent callers, each sending `REQUESTS` requests one after another. */
async function run(
  label: string,
  request: (caller: number, i: number) => Promise<boolean>,
  note: () => string,
): Promise<Result> {
  const latencies: number[] = [];
  let serverErrors = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CALLERS }, async (_, caller) => {
      for (let i = 0; i < REQUESTS; i += 1) {
        const t0 = performance.now();
        const ok = await request(caller, i);
        latencies.push(performance.now() - t0);
        serverErrors += ok ? 0 : 1;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { label, requests: CALLERS * REQUESTS, seconds, latencies, serverErrors, note: note() };
}

/**
 * The old design's timed-out transactions were abandoned, not cancelled: firebase-admin retries
 * them for up to about 15 s. Waiting that out keeps them from loading the next measurement.
 */
const abandonedTransactionsSettled = () => new Promise((resolve) => setTimeout(resolve, 16_000));

const percentile = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

function print(results: Result[]): void {
  const rows = results.map((r) => {
    const sorted = [...r.latencies].sort((a, b) => a - b);
    return {
      approach: r.label,
      "req/s": (r.requests / r.seconds).toFixed(1),
      "p50 ms": percentile(sorted, 50).toFixed(0),
      "p95 ms": percentile(sorted, 95).toFixed(0),
      "max ms": percentile(sorted, 100).toFixed(0),
      "5xx": `${r.serverErrors}/${r.requests}`,
      note: r.note,
    };
  });
  console.table(rows);
}

async function main(): Promise<void> {
  const stopEmulator = await firestoreEmulator("bench-rate-limit");
  const app = initializeApp({ projectId: `demo-bench-${Date.now()}` }, "bench");
  const db = getFirestore(app);
  try {
    const logger = countingLogger();
    const deps: LimiterDeps = {
      db,
      clock: () => new Date(),
      logger,
      // Limits no burst reaches: what is measured is the cost of counting, not refusals.
      env: {
        ENDPOINT_RATE_LIMITS: JSON.stringify({ cron: 100_000, status: 120 }),
        AUTH_FAILURE_THRESHOLD: "10000",
      },
    };
    console.log(`${CALLERS} concurrent callers × ${REQUESTS} requests each, one principal\n`);
    const rate: Result[] = [];
    let refused = 0;
    rate.push(
      await run(
        "old: transaction on one document",
        () =>
          oldRateLimit(db, "cron:cron").then(
            () => true,
            () => false, // 503 `unavailable`: the request was refused.
          ),
        () => "",
      ),
    );
    await abandonedTransactionsSettled();
    rate.push(
      await run(
        "new: enforceRateLimit (cron, 1 shard)",
        () =>
          enforceRateLimit(deps, "cron", { kind: "cron" }).then(
            () => true,
            () => false,
          ),
        () => `${logger.errors} checks failed open`,
      ),
      await run(
        "new: enforceRateLimit (status 120/min, 2 shards)",
        () =>
          enforceRateLimit(deps, "status", { kind: "user", uid: "bench" }).then(
            () => true,
            // 429 once the minute's 120 are used: a refusal, not a server error.
            (error: { code?: string }) => {
              refused += error.code === "rate_limited" ? 1 : 0;
              return error.code === "rate_limited";
            },
          ),
        () => `${logger.errors} checks failed open, ${refused} refused with 429`,
      ),
    );
    print(rate);

    let oldCounted = 0;
    const limits = { threshold: 10_000, windowMs: 300_000, blockMs: 900_000 };
    const failures = [
      await run(
        "old: transaction per source",
        () =>
          oldSourceFailure(db, "198.51.100.1").then((counted) => {
            oldCounted += counted ? 1 : 0;
            return true; // Answered 401 either way.
          }),
        () => `${oldCounted} of ${CALLERS * REQUESTS} failures counted`,
      ),
    ];
    await abandonedTransactionsSettled();
    let newCounted = 0;
    failures.push(
      await run(
        "new: numbered tickets",
        () =>
          recordSourceFailure(deps, limits, "198.51.100.2", "cron").then((outcome) => {
            newCounted += outcome.counted ? 1 : 0;
            return true;
          }),
        () => `${newCounted} of ${CALLERS * REQUESTS} failures counted`,
      ),
    );
    let blocked = 0;
    let spikes = 0;
    let realCounted = 0;
    failures.push(
      await run(
        "new: tickets, default threshold 20",
        () =>
          recordSourceFailure(
            deps,
            { ...limits, threshold: AUTH_FAILURE_DEFAULTS.AUTH_FAILURE_THRESHOLD },
            "198.51.100.3",
            "cron",
          ).then((outcome) => {
            realCounted += outcome.counted ? 1 : 0;
            blocked += outcome.blocked ? 1 : 0;
            spikes += outcome.spike ? 1 : 0;
            return true;
          }),
        () => `${realCounted} counted, ${blocked} answered 429, ${spikes} spike`,
      ),
    );
    console.log("\nFailed authentication from one source (each refusal answered 401 or 429):\n");
    print(failures);
  } finally {
    await deleteApp(app);
    await stopEmulator();
  }
}

runMain(main);
