/**
 * The abuse limits under real concurrency, on the official Firestore emulator (which aborts and
 * retries contending transactions as production does), through the real handlers on three
 * simulated function instances with the default rate limits:
 *
 * - 20 legitimate calls at once to every authenticated endpoint, from one caller and from
 *   several (the cron key from many scheduling sources; many signed-in users), are all
 *   admitted: no 5xx, no 429 within the limit;
 * - 20 wrong keys at once from one source are all counted and raise exactly one spike;
 * - forged X-Forwarded-For entries, rotated on every call, change nothing: the burst still
 *   counts as one source and the address they name is not blocked.
 */
import { handleAccounts } from "../../../src/http/accounts";
import { handleAutomation } from "../../../src/http/automation";
import type { EndpointDeps, Handler, HttpRequestLike } from "../../../src/http/context";
import { handleCron } from "../../../src/http/cron";
import { handleProcess } from "../../../src/http/process";
import type { AuthFailureSpike } from "../../../src/http/rate-limit";
import { RATE_LIMIT_WINDOW_MS } from "../../../src/http/rate-limit";
import { handleSchedule } from "../../../src/http/schedule";
import { handleStatus } from "../../../src/http/status";
import { handleWorker } from "../../../src/http/worker";
import {
  DEFAULT_ENDPOINT_LIMITS,
  type LimitedEndpoint,
} from "../../../src/shared/rate-limit-config";
import { bearer, cronHeaders, request, seedIntegration, TEST_ENV } from "../../harness/auth";
import { startInstances, type TestInstances } from "../../harness/instances";

// Bursts of real transactions and writes on 2 shared cores: room for the official emulator's
// contention handling (aborts, retries), not a speed bound.
jest.setTimeout(120_000);

const START = new Date("2026-11-28T10:00:00Z");
const CONCURRENT = 20;
const INSTANCES = 3;
const THRESHOLD = 5;
const ENV = {
  ...TEST_ENV,
  // The shipped limits: every burst below fits in one caller's minute.
  ENDPOINT_RATE_LIMITS: "{}",
  AUTH_FAILURE_THRESHOLD: String(THRESHOLD),
};
const USERS = Array.from({ length: CONCURRENT }, (_, i) => `user-${i}`);
const WRONG_KEY = "wrong-cron-key-guess-0123456789";

let instances: TestInstances;
const spikes: AuthFailureSpike[] = [];
const deps: Partial<EndpointDeps> = {
  onAuthFailureSpike: (spike) => {
    spikes.push(spike);
    return Promise.resolve();
  },
};

beforeAll(async () => {
  instances = await startInstances("http-concurrency", {
    count: INSTANCES,
    start: START,
    env: ENV,
  });
  for (const uid of USERS) {
    await seedIntegration(instances.project.db, uid, "google");
  }
});
afterAll(() => instances.close());

/** A direct call as Google's front end forwards it: forged entry first, then the real source. */
const viaFrontEnd = (source: string, headers: Record<string, string>, forged = "192.0.2.1") => ({
  ...headers,
  "x-forwarded-for": `${forged}, ${source}`,
});

interface Call {
  handler: Handler;
  /** The i-th of the concurrent requests; `several` picks a different caller for each. */
  request(i: number, several: boolean): HttpRequestLike;
}

const sourceOf = (i: number, several: boolean) =>
  several ? `198.51.100.${i + 1}` : "198.51.100.200";
const cronCall =
  (body: (i: number) => unknown) =>
  (i: number, several: boolean): HttpRequestLike =>
    request("POST", { headers: viaFrontEnd(sourceOf(i, several), cronHeaders()), body: body(i) });
const userOf = (i: number, several: boolean) => (several ? (USERS[i] ?? "user-0") : "user-0");

const CALLS: Record<LimitedEndpoint, Call> = {
  cron: { handler: handleCron, request: cronCall(() => ({ operation: "reset_stale_jobs" })) },
  worker: { handler: handleWorker, request: cronCall(() => ({ maxJobs: 1 })) },
  schedule: { handler: handleSchedule, request: cronCall((i) => ({ userId: USERS[i] })) },
  process: { handler: handleProcess, request: cronCall((i) => ({ userId: USERS[i] })) },
  status: {
    handler: handleStatus,
    request: (i, several) =>
      request("GET", {
        headers: viaFrontEnd(sourceOf(i, several), bearer(instances.mint(userOf(i, several)))),
      }),
  },
  automation: {
    handler: handleAutomation,
    request: (i, several) =>
      request("PATCH", {
        headers: viaFrontEnd(sourceOf(i, several), bearer(instances.mint(userOf(i, several)))),
        body: { providerId: "google", autoSync: i % 2 === 0 },
      }),
  },
  accounts: {
    handler: handleAccounts,
    request: (i, several) =>
      request("PATCH", {
        headers: viaFrontEnd(sourceOf(i, several), bearer(instances.mint(userOf(i, several)))),
        body: { providerId: "google", selection: i % 2 === 0 ? "all" : "selected" },
      }),
  },
};

const burst = (call: Call, several: boolean) =>
  Promise.all(
    Array.from({ length: CONCURRENT }, (_, i) =>
      instances.call(i % INSTANCES, call.handler, call.request(i, several), deps),
    ),
  );

describe(`${CONCURRENT} legitimate calls at once to each endpoint`, () => {
  it("fit the shipped limits", () => {
    for (const limit of Object.values(DEFAULT_ENDPOINT_LIMITS)) {
      expect(limit).toBeGreaterThanOrEqual(CONCURRENT);
    }
  });

  describe.each([
    ["from one caller", false],
    ["from several callers", true],
  ])("%s", (_label, several) => {
    it.each(Object.keys(CALLS) as LimitedEndpoint[])(
      "%s: every call admitted, none 5xx",
      async (name) => {
        // A fresh window for each burst: what is measured is concurrency, not the minute's total.
        instances.advance(RATE_LIMIT_WINDOW_MS);
        const responses = await burst(CALLS[name], several);
        expect(responses.map((response) => response.status)).toEqual(
          Array<number>(CONCURRENT).fill(200),
        );
      },
    );
  });
});

describe(`${CONCURRENT} wrong keys at once from one source, forged entries rotated`, () => {
  const attacker = "198.51.100.250";
  const named = "198.51.100.251";
  let statuses: number[];

  beforeAll(async () => {
    instances.advance(RATE_LIMIT_WINDOW_MS);
    const responses = await Promise.all(
      Array.from({ length: CONCURRENT }, (_, i) =>
        instances.call(
          i % INSTANCES,
          handleCron,
          request("POST", {
            headers: viaFrontEnd(attacker, cronHeaders(WRONG_KEY), i % 2 ? named : `192.0.2.${i}`),
            body: { operation: "reset_stale_jobs" },
          }),
          deps,
        ),
      ),
    );
    statuses = responses.map((response) => response.status);
  });

  it("are all counted: the threshold's worth answered 401, every other one 429", () => {
    expect(statuses.filter((status) => status === 401)).toHaveLength(THRESHOLD);
    expect(statuses.filter((status) => status === 429)).toHaveLength(CONCURRENT - THRESHOLD);
  });

  it("raise exactly one spike, for the real source", () => {
    expect(spikes.map((spike) => spike.source)).toEqual([attacker]);
    expect(spikes[0]?.failures).toBe(THRESHOLD + 1);
  });

  it("block neither the address the forged entries name nor the real caller's correct key", async () => {
    const fromNamed = await instances.call(0, handleCron, CALLS.cron.request(0, false), deps);
    expect(fromNamed.status).toBe(200);
    const wrongFromNamed = await instances.call(
      1,
      handleCron,
      request("POST", {
        headers: viaFrontEnd(named, cronHeaders(WRONG_KEY)),
        body: { operation: "reset_stale_jobs" },
      }),
      deps,
    );
    expect(wrongFromNamed.status).toBe(401);
    const correctFromAttacker = await instances.call(
      2,
      handleCron,
      request("POST", {
        headers: viaFrontEnd(attacker, cronHeaders(), "203.0.113.99"),
        body: { operation: "reset_stale_jobs" },
      }),
      deps,
    );
    expect(correctFromAttacker.status).toBe(200);
  });
});
