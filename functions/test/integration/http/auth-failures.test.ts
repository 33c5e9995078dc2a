/**
 * Failed authentication per source address, through the real handlers on two simulated
 * function instances (two firebase-admin clients on one project): the failures add up across
 * instances, the failure after the threshold blocks the source — 429 with Retry-After, before
 * any credential is looked at, so a correct key is refused too — the block ends after its
 * period, and the alert hook hears of each block exactly once.
 */
import type { Timestamp } from "firebase-admin/firestore";

import type { AuthFailureSpikeHook } from "../../../src/http/auth";
import type { EndpointDeps, Handler } from "../../../src/http/context";
import { handleCron } from "../../../src/http/cron";
import {
  AUTH_FAILURE_SOURCES_COLLECTION,
  type AuthFailureSpike,
  clientAddress,
} from "../../../src/http/rate-limit";
import type { JsonResponse } from "../../../src/http/respond";
import { handleStatus } from "../../../src/http/status";
import { reportAuthFailureSpike } from "../../../src/scheduler/alerts";
import { createLogger } from "../../../src/shared/logger";
import {
  bearer,
  CRON_SECRET,
  cronHeaders,
  request,
  seedIntegration,
  TEST_ENV,
  writtenState,
} from "../../harness/auth";
import { listenOnLoopback } from "../../harness/http";
import { startInstances, type TestInstances } from "../../harness/instances";

const START = new Date("2026-11-28T10:00:00Z");
const THRESHOLD = 3;
const WINDOW_SECONDS = 60;
const BLOCK_SECONDS = 300;
const ENV = {
  ...TEST_ENV,
  AUTH_FAILURE_THRESHOLD: String(THRESHOLD),
  AUTH_FAILURE_WINDOW_SECONDS: String(WINDOW_SECONDS),
  AUTH_FAILURE_BLOCK_SECONDS: String(BLOCK_SECONDS),
};
const WRONG_KEY = "wrong-cron-key-guess-0123456789";

let instances: TestInstances;
/** Every spike reported, with the instance that reported it. */
const spikes: Array<{ instance: number; spike: AuthFailureSpike }> = [];

beforeAll(async () => {
  instances = await startInstances("http-auth-failures", { count: 2, start: START, env: ENV });
  await seedIntegration(instances.project.db, "member", "google");
});
afterAll(() => instances.close());
/** firebase-admin retries a transaction 5 times with backoff up to about 15 s in all. */
const ABANDONED_TRANSACTIONS_MS = 20_000;

const hookOf =
  (instance: number): AuthFailureSpikeHook =>
  (spike) => {
    spikes.push({ instance, spike });
    return Promise.resolve();
  };

/** A request from `source` as Google's front end forwards it (client first, then proxies). */
const from = (source: string, headers: Record<string, string>) => ({
  ...headers,
  "x-forwarded-for": `${source}, 10.0.0.1`,
});

/** A cron call; the instance reports spikes to `spikes` unless `overrides` say otherwise. */
const callCron = (
  instance: number,
  source: string,
  key: string,
  overrides: Partial<EndpointDeps> = { onAuthFailureSpike: hookOf(instance) },
): Promise<JsonResponse> =>
  instances.call(
    instance,
    handleCron,
    request("POST", {
      headers: from(source, cronHeaders(key)),
      body: { operation: "reset_stale_jobs" },
    }),
    overrides,
  );

const call = (
  instance: number,
  handler: Handler,
  method: string,
  headers: Record<string, string>,
) =>
  instances.call(instance, handler, request(method, { headers }), {
    onAuthFailureSpike: hookOf(instance),
  });

const errorCode = (response: JsonResponse): string | undefined =>
  (response.body as { error?: { code?: string } }).error?.code;

const spikesFor = (source: string) => spikes.filter(({ spike }) => spike.source === source);

/** Fails THRESHOLD times, alternating instances: each answered 401. */
async function failUpToThreshold(source: string, overrides?: Partial<EndpointDeps>) {
  for (let attempt = 0; attempt < THRESHOLD; attempt += 1) {
    const response = await callCron(attempt % 2, source, WRONG_KEY, overrides);
    expect(response.status).toBe(401);
  }
}

describe("failed authentication from one source, across two instances", () => {
  const source = "198.51.100.20";

  it("blocks the source on the failure after the threshold: 429 with Retry-After", async () => {
    await failUpToThreshold(source);
    const blocking = await callCron(1, source, WRONG_KEY);
    expect(blocking.status).toBe(429);
    expect(errorCode(blocking)).toBe("rate_limited");
    expect(blocking.headers?.["Retry-After"]).toBe(String(BLOCK_SECONDS));
  });

  it("refuses a correct key from the blocked source too, and runs nothing", async () => {
    instances.advance(100_000);
    const before = await writtenState(instances.project.db);
    for (const instance of [0, 1]) {
      const response = await callCron(instance, source, CRON_SECRET);
      expect(response.status).toBe(429);
      expect(response.headers?.["Retry-After"]).toBe(String(BLOCK_SECONDS - 100));
    }
    expect(await writtenState(instances.project.db)).toEqual(before);
  });

  it("refuses a signed-in user's valid token from the blocked source", async () => {
    const response = await call(
      0,
      handleStatus,
      "GET",
      from(source, bearer(instances.mint("member"))),
    );
    expect(response.status).toBe(429);
  });

  it("does not refuse other sources", async () => {
    expect((await callCron(0, "198.51.100.21", CRON_SECRET)).status).toBe(200);
  });

  it("reported the block exactly once, with its figures", () => {
    expect(spikesFor(source)).toEqual([
      {
        instance: 1,
        spike: {
          source,
          endpoint: "cron",
          failures: THRESHOLD + 1,
          windowSeconds: WINDOW_SECONDS,
          blockedSeconds: BLOCK_SECONDS,
          blockedUntil: new Date(START.getTime() + BLOCK_SECONDS * 1000),
        },
      },
    ]);
  });

  it("logged the block and each refusal as warnings naming the source", () => {
    const warnings = instances.logger.entries.filter(
      (entry) => entry.severity === "warn" && entry.fields.sourceIp === source,
    );
    expect(warnings.map((entry) => entry.message)).toEqual([
      ...Array<string>(THRESHOLD).fill("authentication failed"),
      "authentication failed",
      "source blocked after repeated failed authentication",
      "request from a blocked source refused",
      "request from a blocked source refused",
      "request from a blocked source refused",
    ]);
    expect(warnings[THRESHOLD]?.fields).toMatchObject({ status: 429, reason: "bad_cron_key" });
  });

  it("lets the source in again once the block has ended, with a fresh allowance", async () => {
    instances.advance((BLOCK_SECONDS - 100) * 1000);
    expect((await callCron(0, source, CRON_SECRET)).status).toBe(200);
    await failUpToThreshold(source);
    expect((await callCron(0, source, WRONG_KEY)).status).toBe(429);
    // A new block, so a new report: once per block.
    expect(spikesFor(source)).toHaveLength(2);
  });
});

describe("the counting window", () => {
  it("forgets failures older than the window", async () => {
    const source = "198.51.100.30";
    await failUpToThreshold(source);
    instances.advance(WINDOW_SECONDS * 1000);
    await failUpToThreshold(source);
    expect(spikesFor(source)).toEqual([]);
  });

  it("keeps the counter in a document with a TTL expiry at the end of its window", async () => {
    const source = "198.51.100.31";
    await callCron(0, source, WRONG_KEY);
    const stored = await instances.project.db
      .collection(AUTH_FAILURE_SOURCES_COLLECTION)
      .doc(source)
      .get();
    expect(stored.get("failures")).toBe(1);
    expect(stored.get("source")).toBe(source);
    expect((stored.get("expireAt") as Timestamp).toMillis()).toBe(
      instances.now().getTime() + WINDOW_SECONDS * 1000,
    );
  });
});

describe("concurrent failures on two instances", () => {
  // Known defect, fixed by the engine issue that follows the move to the official emulator:
  // every failure runs a transaction on one per-source document with a 2 s fail-closed
  // timeout. Under real contention (the official emulator aborts and retries contending
  // transactions, as production does) most of them time out and go uncounted. `it.failing`
  // turns green only while the defect is there, so the fix must replace it with `it`.
  afterAll(async () => {
    // The timed-out transactions are abandoned, not cancelled (the same defect): they go on
    // retrying after the test. Let them finish before the clients close, so no call lands
    // after this file's environment is torn down.
    await new Promise((resolve) => setTimeout(resolve, ABANDONED_TRANSACTIONS_MS));
  });
  it.failing("start one block and one report", async () => {
    const source = "198.51.100.40";
    const attempts = THRESHOLD + 5;
    const responses = await Promise.all(
      Array.from({ length: attempts }, (_, i) => callCron(i % 2, source, WRONG_KEY)),
    );
    // Only the failures counted before the block are answered 401; every other one 429.
    expect(responses.filter((response) => response.status === 401)).toHaveLength(THRESHOLD);
    expect(responses.filter((response) => response.status === 429)).toHaveLength(
      attempts - THRESHOLD,
    );
    expect(spikesFor(source)).toHaveLength(1);
  });
});

describe("source addresses", () => {
  it.each([
    [
      "the first X-Forwarded-For entry",
      { "x-forwarded-for": "198.51.100.9, 10.0.0.1" },
      "198.51.100.9",
    ],
    ["an IPv4 address with a port", { "x-forwarded-for": "198.51.100.9:5123" }, "198.51.100.9"],
    ["an IPv4-mapped IPv6 address", { "x-forwarded-for": "::ffff:198.51.100.9" }, "198.51.100.9"],
    [
      "an IPv6 address, by its /64",
      { "x-forwarded-for": "2001:DB8:1:2:aaaa::1" },
      "2001:db8:1:2::/64",
    ],
    [
      "a bracketed IPv6 address with a port",
      { "x-forwarded-for": "[2001:db8::7]:443" },
      "2001:db8:0:0::/64",
    ],
    ["the socket address without X-Forwarded-For", {}, "203.0.113.7"],
    [
      "the socket address when the entry is not an address",
      { "x-forwarded-for": "evil" },
      "203.0.113.7",
    ],
  ])("come from %s", (_label, headers, expected) => {
    expect(clientAddress(request("POST", { headers }))).toBe(expected);
  });

  it("count one IPv6 /64 as one source", async () => {
    for (let attempt = 0; attempt < THRESHOLD; attempt += 1) {
      expect((await callCron(attempt % 2, `2001:db8:5:6::${attempt + 1}`, WRONG_KEY)).status).toBe(
        401,
      );
    }
    expect((await callCron(0, "2001:db8:5:6:ffff::9", WRONG_KEY)).status).toBe(429);
    expect(spikesFor("2001:db8:5:6::/64")).toHaveLength(1);
  });
});

describe("the alert hook", () => {
  it("cannot change the refusal when it fails", async () => {
    const source = "198.51.100.50";
    const failing = { onAuthFailureSpike: () => Promise.reject(new Error("webhook down")) };
    await failUpToThreshold(source, failing);
    expect((await callCron(0, source, WRONG_KEY, failing)).status).toBe(429);
    expect(instances.logger.entries).toContainEqual(
      expect.objectContaining({
        severity: "error",
        message: "could not alert on a blocked source",
        fields: expect.objectContaining({ sourceIp: source }) as unknown,
      }),
    );
  });

  it("defaults to an explicit no-op: the block still happens without one", async () => {
    const source = "198.51.100.60";
    await failUpToThreshold(source, {});
    expect((await callCron(1, source, WRONG_KEY, {})).status).toBe(429);
    expect(spikesFor(source)).toEqual([]);
  });
});

describe("configuration", () => {
  it("refuses with 500 misconfigured naming a bad variable", async () => {
    const response = await instances.call(
      0,
      handleCron,
      request("POST", { headers: cronHeaders(WRONG_KEY), body: { operation: "reset_stale_jobs" } }),
      { env: { ...ENV, AUTH_FAILURE_WINDOW_SECONDS: "5m" } },
    );
    expect(response.status).toBe(500);
    expect(response.body).toEqual({
      error: {
        code: "misconfigured",
        message: "Server configuration is invalid: AUTH_FAILURE_WINDOW_SECONDS",
      },
    });
  });
});

describe("everything this file captured", () => {
  it("holds no key, secret or token", () => {
    expect(instances.leaked([WRONG_KEY])).toEqual([]);
  });
});

describe("a blocked source, wired to the scheduler alerts as the deployed functions are", () => {
  it("delivers one failed-authentication alert to the webhook, without the presented key", async () => {
    const received: string[] = [];
    const receiver = await listenOnLoopback((req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => (body += chunk.toString()));
      req.on("end", () => {
        received.push(body);
        res.end("ok");
      });
    });
    try {
      const alertDeps = {
        db: instances.project.db,
        clock: () => instances.now(),
        logger: createLogger({ test: "auth-spike-alert" }),
        env: { ...ENV, SCHEDULER_ALERT_WEBHOOK_URL: `${receiver.url}/hook` },
      };
      const wired: Partial<EndpointDeps> = {
        onAuthFailureSpike: async (spike) => {
          await reportAuthFailureSpike(alertDeps, spike);
        },
      };
      const source = "198.51.100.77";
      await failUpToThreshold(source, wired);
      expect((await callCron(0, source, WRONG_KEY, wired)).status).toBe(429);
      expect((await callCron(1, source, WRONG_KEY, wired)).status).toBe(429);
      expect(received).toHaveLength(1);
      expect((JSON.parse(received[0] ?? "{}") as { text?: string }).text).toContain(
        "Failed authentication spike",
      );
      expect(received[0]).not.toContain(WRONG_KEY);
      expect(received[0]).not.toContain(CRON_SECRET);
    } finally {
      await receiver.close();
    }
  });
});
