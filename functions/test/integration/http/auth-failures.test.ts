/**
 * Failed authentication per source address, through the real handlers on two simulated
 * function instances (two firebase-admin clients on one project): the failures add up across
 * instances, also when they arrive all at once; the failure after the threshold blocks the
 * source — its wrong attempts get 429 with Retry-After, while a correct key or a valid token
 * from it is still accepted — the block ends after its period, and the alert hook hears of each
 * block exactly once. The source is the right-hand X-Forwarded-For entry, which the client
 * cannot write: whatever it puts on the left neither blocks someone else nor escapes a block.
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

const hookOf =
  (instance: number): AuthFailureSpikeHook =>
  (spike) => {
    spikes.push({ instance, spike });
    return Promise.resolve();
  };

/**
 * A request from `source` as Google's front end forwards a direct call: whatever the client
 * sent (here a forged entry), then the address the client connected from.
 */
const from = (source: string, headers: Record<string, string>, forged = "192.0.2.66") => ({
  ...headers,
  "x-forwarded-for": `${forged}, ${source}`,
});

/** A cron call; the instance reports spikes to `spikes` unless `overrides` say otherwise. */
const callCron = (
  instance: number,
  source: string,
  key: string,
  overrides: Partial<EndpointDeps> = { onAuthFailureSpike: hookOf(instance) },
  forged?: string,
): Promise<JsonResponse> =>
  instances.call(
    instance,
    handleCron,
    request("POST", {
      headers: from(source, cronHeaders(key), forged),
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

/** Every ticket and block document of the failed-authentication counters. */
const sourceDocuments = async () =>
  (await instances.project.db.collection(AUTH_FAILURE_SOURCES_COLLECTION).get()).docs
    .map((doc) => doc.data())
    .sort((a, b) => Number(a.ticket ?? 0) - Number(b.ticket ?? 0));

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

  it("refuses further wrong keys with 429, counts them nowhere and runs nothing", async () => {
    instances.advance(100_000);
    const before = await writtenState(instances.project.db);
    const stored = await sourceDocuments();
    for (const instance of [0, 1]) {
      const response = await callCron(instance, source, WRONG_KEY);
      expect(response.status).toBe(429);
      expect(response.headers?.["Retry-After"]).toBe(String(BLOCK_SECONDS - 100));
    }
    expect(await writtenState(instances.project.db)).toEqual(before);
    expect(await sourceDocuments()).toEqual(stored);
  });

  it("accepts a correct key from the blocked source on every instance", async () => {
    for (const instance of [0, 1]) {
      expect((await callCron(instance, source, CRON_SECRET)).status).toBe(200);
    }
  });

  it("accepts a signed-in user's valid token from the blocked source", async () => {
    const response = await call(
      0,
      handleStatus,
      "GET",
      from(source, bearer(instances.mint("member"))),
    );
    expect(response.status).toBe(200);
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

  it("numbers each failure in a ticket document with a TTL expiry at the end of its window", async () => {
    const source = "198.51.100.31";
    await callCron(0, source, WRONG_KEY);
    await callCron(1, source, WRONG_KEY);
    const tickets = (await sourceDocuments()).filter((doc) => doc.source === source);
    const windowEnd =
      (Math.floor(instances.now().getTime() / (WINDOW_SECONDS * 1000)) + 1) * WINDOW_SECONDS * 1000;
    expect(tickets.map((doc) => doc.ticket as unknown)).toEqual([1, 2]);
    for (const doc of tickets) {
      expect((doc.expireAt as Timestamp).toMillis()).toBe(windowEnd);
    }
  });
});

describe("concurrent failures on two instances", () => {
  it("start one block and one report", async () => {
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
      "the right-most X-Forwarded-For entry, the one Google's front end appends",
      0,
      { "x-forwarded-for": "10.0.0.1, 198.51.100.9" },
      "198.51.100.9",
    ],
    [
      "the entry before the trusted proxy's, with TRUSTED_PROXY_HOPS 1",
      1,
      { "x-forwarded-for": "192.0.2.66, 198.51.100.9, 35.191.0.1" },
      "198.51.100.9",
    ],
    [
      "the left-most entry when fewer entries arrive than trusted hops",
      2,
      { "x-forwarded-for": "198.51.100.9, 35.191.0.1" },
      "198.51.100.9",
    ],
    [
      "repeated X-Forwarded-For headers, read as one list",
      0,
      { "x-forwarded-for": ["192.0.2.66", "198.51.100.9"] },
      "198.51.100.9",
    ],
    ["an IPv4 address with a port", 0, { "x-forwarded-for": "198.51.100.9:5123" }, "198.51.100.9"],
    [
      "an IPv4-mapped IPv6 address",
      0,
      { "x-forwarded-for": "::ffff:198.51.100.9" },
      "198.51.100.9",
    ],
    [
      "an IPv6 address, by its /64",
      0,
      { "x-forwarded-for": "2001:DB8:1:2:aaaa::1" },
      "2001:db8:1:2::/64",
    ],
    [
      "a bracketed IPv6 address with a port",
      0,
      { "x-forwarded-for": "[2001:db8::7]:443" },
      "2001:db8:0:0::/64",
    ],
    ["the socket address without X-Forwarded-For", 0, {}, "203.0.113.7"],
    [
      "the socket address when the chosen entry is not an address",
      0,
      { "x-forwarded-for": "198.51.100.9, evil" },
      "203.0.113.7",
    ],
  ])("come from %s", (_label, hops, headers, expected) => {
    const req = { ...request("POST"), headers };
    expect(clientAddress(req, hops)).toBe(expected);
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

describe("spoofed X-Forwarded-For entries", () => {
  const scheduler = "198.51.100.90";
  const attacker = "198.51.100.91";

  it("cannot block the address they name: the attacker's own address is blocked", async () => {
    for (let attempt = 0; attempt <= THRESHOLD; attempt += 1) {
      await callCron(attempt % 2, attacker, WRONG_KEY, undefined, scheduler);
    }
    expect(spikesFor(attacker)).toHaveLength(1);
    expect(spikesFor(scheduler)).toEqual([]);
    expect((await callCron(0, scheduler, CRON_SECRET)).status).toBe(200);
    // The scheduler's own mistakes are still judged on its own record: 401, not 429.
    expect((await callCron(1, scheduler, WRONG_KEY)).status).toBe(401);
  });

  it("cannot evade a block: rotating the left-hand entries is the same source", async () => {
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const response = await callCron(
        attempt % 2,
        attacker,
        WRONG_KEY,
        undefined,
        `192.0.2.${attempt}`,
      );
      expect(response.status).toBe(429);
    }
    expect(spikesFor(attacker)).toHaveLength(1);
  });

  it("name nothing with TRUSTED_PROXY_HOPS 1 either: the entry the proxy appended counts", async () => {
    const env = { ...ENV, TRUSTED_PROXY_HOPS: "1" };
    const hosted = "198.51.100.92";
    for (let attempt = 0; attempt <= THRESHOLD; attempt += 1) {
      await instances.call(
        attempt % 2,
        handleCron,
        request("POST", {
          headers: {
            ...cronHeaders(WRONG_KEY),
            "x-forwarded-for": `192.0.2.${attempt}, ${hosted}, 35.191.0.1`,
          },
          body: { operation: "reset_stale_jobs" },
        }),
        { env, onAuthFailureSpike: hookOf(attempt % 2) },
      );
    }
    expect(spikesFor(hosted)).toHaveLength(1);
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
