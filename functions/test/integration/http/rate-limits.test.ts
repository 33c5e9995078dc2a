/**
 * Per-caller rate limits of the sync endpoints, through the real handlers on two simulated
 * function instances (two firebase-admin clients on one project) sharing one limit: 429 with
 * Retry-After over the limit, other callers and endpoints unaffected, the window resets, never
 * more than the limit admitted when calls arrive at once; the limits fail open for an
 * authenticated caller when Firestore cannot be reached; bad limits name their variable.
 */
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { Firestore, type Timestamp } from "firebase-admin/firestore";

import type { Handler } from "../../../src/http/context";
import { handleCron } from "../../../src/http/cron";
import { handleHealth } from "../../../src/http/health";
import {
  enforceRateLimit,
  RATE_LIMIT_WINDOW_MS,
  RATE_LIMITS_COLLECTION,
  shardCount,
} from "../../../src/http/rate-limit";
import type { JsonResponse } from "../../../src/http/respond";
import { handleStatus } from "../../../src/http/status";
import { handleWorker } from "../../../src/http/worker";
import { ConfigError } from "../../../src/shared/config";
import {
  DEFAULT_ENDPOINT_LIMITS,
  requireRateLimitConfig,
} from "../../../src/shared/rate-limit-config";
import { bearer, cronHeaders, request, seedIntegration, TEST_ENV } from "../../harness/auth";
import { startInstances, type TestInstances } from "../../harness/instances";

const START = new Date("2026-11-28T10:00:00Z");
const LIMITS = { cron: 3, worker: 2, status: 2 };
const ENV = { ...TEST_ENV, ENDPOINT_RATE_LIMITS: JSON.stringify(LIMITS) };

let instances: TestInstances;

beforeAll(async () => {
  instances = await startInstances("http-rate-limits", { count: 2, start: START, env: ENV });
  await seedIntegration(instances.project.db, "alice", "google");
  await seedIntegration(instances.project.db, "bob", "google");
});
afterAll(() => instances.close());

const cron = (instance: number, source = "198.51.100.9", body: unknown = {}) =>
  instances.call(
    instance,
    handleCron,
    request("POST", {
      headers: { ...cronHeaders(), "x-forwarded-for": source },
      body: { operation: "reset_stale_jobs", ...(body as object) },
    }),
  );

const userCall = (instance: number, handler: Handler, uid: string) =>
  instances.call(instance, handler, request("GET", { headers: bearer(instances.mint(uid)) }));

const errorOf = (response: JsonResponse) =>
  (response.body as { error?: { code: string; message: string } }).error;

describe("the cron key as one caller, across two instances", () => {
  it("is allowed its limit per minute, whichever instance and address it calls from", async () => {
    const statuses = [];
    for (let call = 0; call < LIMITS.cron; call += 1) {
      statuses.push((await cron(call % 2, `198.51.100.${call + 1}`)).status);
    }
    expect(statuses).toEqual([200, 200, 200]);
  });

  it("then gets 429 with Retry-After until the window ends", async () => {
    const refused = await cron(1);
    expect(refused.status).toBe(429);
    expect(refused.headers?.["Retry-After"]).toBe("60");
    expect(errorOf(refused)).toEqual({
      code: "rate_limited",
      message: "Rate limit of 3 requests per minute for cron exceeded; try again later",
    });
    instances.advance(45_000);
    expect((await cron(0)).headers?.["Retry-After"]).toBe("15");
  });

  it("counts malformed requests too: they are refused before validation", async () => {
    expect((await cron(0, undefined, { unknownField: true })).status).toBe(429);
  });

  it("keeps each endpoint's limit apart", async () => {
    const worker = await instances.call(
      1,
      handleWorker,
      request("POST", { headers: cronHeaders(), body: { maxJobs: 1 } }),
    );
    expect(worker.status).toBe(200);
  });

  it("holds the window in a shard document with a TTL expiry; refused requests are not written", async () => {
    expect(shardCount(LIMITS.cron)).toBe(1);
    const counter = await instances.project.db
      .collection(RATE_LIMITS_COLLECTION)
      .doc(`cron:cron:${START.getTime()}:0`)
      .get();
    expect(counter.data()).toMatchObject({ endpoint: "cron", caller: "cron", count: LIMITS.cron });
    expect((counter.get("expireAt") as Timestamp).toMillis()).toBe(
      START.getTime() + RATE_LIMIT_WINDOW_MS,
    );
  });

  it("lets the caller in again once the window has ended", async () => {
    instances.advance(15_000);
    expect((await cron(1)).status).toBe(200);
  });
});

describe("signed-in users, by uid", () => {
  it("are limited one by one: another user is unaffected", async () => {
    const alice = [];
    for (let call = 0; call <= LIMITS.status; call += 1) {
      alice.push((await userCall(call % 2, handleStatus, "alice")).status);
    }
    expect(alice).toEqual([200, 200, 429]);
    expect((await userCall(1, handleStatus, "bob")).status).toBe(200);
  });
});

describe("calls that arrive at once", () => {
  it("admit at most the limit, from both instances, and refuse the rest with 429", async () => {
    instances.advance(RATE_LIMIT_WINDOW_MS);
    const statuses = await Promise.all(
      Array.from({ length: 12 }, (_, call) => cron(call % 2).then((response) => response.status)),
    );
    expect(statuses.filter((status) => status === 200).length).toBeLessThanOrEqual(LIMITS.cron);
    expect(statuses.filter((status) => status !== 200 && status !== 429)).toEqual([]);
  });

  it("spread over the shards when the limit asks for several", () => {
    expect([30, 60, 61, 120, 100_000].map(shardCount)).toEqual([1, 1, 2, 2, 8]);
  });
});

describe("/api/health", () => {
  it("is not limited and writes no counter", async () => {
    for (let call = 0; call < 5; call += 1) {
      expect((await instances.call(call % 2, handleHealth, request("GET"))).status).toBe(200);
    }
    const counters = await instances.project.db.collection(RATE_LIMITS_COLLECTION).get();
    expect(counters.docs.map((doc) => doc.get("endpoint") as string)).not.toContain("health");
  });
});

describe("when Firestore cannot answer", () => {
  /** A gRPC server that implements nothing: every Firestore call fails at once. */
  let broken: Server;
  let brokenHost: string;

  beforeAll(async () => {
    broken = new Server();
    const port = await new Promise<number>((resolve, reject) => {
      broken.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      );
    });
    brokenHost = `127.0.0.1:${port}`;
  });
  afterAll(() => {
    broken.forceShutdown();
  });

  it("admits the authenticated caller (fail open) and logs the outage", async () => {
    const saved = process.env.FIRESTORE_EMULATOR_HOST;
    // The client reads the variable once, when it is built.
    process.env.FIRESTORE_EMULATOR_HOST = brokenHost;
    const unreachable = new Firestore({ projectId: instances.project.projectId });
    process.env.FIRESTORE_EMULATOR_HOST = saved;
    try {
      await expect(
        enforceRateLimit({ ...instances.deps(0), db: unreachable }, "cron", { kind: "cron" }),
      ).resolves.toBeUndefined();
      expect(instances.logger.entries).toContainEqual(
        expect.objectContaining({
          severity: "error",
          message: "request limits unavailable; request admitted",
        }),
      );
    } finally {
      // Waits for the refused read to end (the server's error comes after our timeout).
      await unreachable.terminate();
    }
  });
});

describe("configuration", () => {
  it("defaults every endpoint's limit when ENDPOINT_RATE_LIMITS is unset or empty", () => {
    for (const value of [undefined, "", "{}"]) {
      expect(requireRateLimitConfig({ ENDPOINT_RATE_LIMITS: value }).endpoints).toEqual(
        DEFAULT_ENDPOINT_LIMITS,
      );
    }
  });

  it("merges overrides over the defaults", () => {
    expect(requireRateLimitConfig({ ENDPOINT_RATE_LIMITS: '{"status":240}' }).endpoints).toEqual({
      ...DEFAULT_ENDPOINT_LIMITS,
      status: 240,
    });
  });

  it.each([
    ["not JSON", "30", "ENDPOINT_RATE_LIMITS must be a JSON object"],
    [
      "an unknown endpoint",
      '{"stauts":5}',
      "ENDPOINT_RATE_LIMITS has invalid requests-per-minute limits: stauts (is not one of cron, worker, schedule, process, status, automation, accounts)",
    ],
    [
      "a limit below 1",
      '{"worker":0}',
      "ENDPOINT_RATE_LIMITS has invalid requests-per-minute limits: worker (must be at least 1)",
    ],
    [
      "a fractional limit",
      '{"cron":1.5}',
      "ENDPOINT_RATE_LIMITS has invalid requests-per-minute limits: cron (must be a whole number)",
    ],
  ])("names ENDPOINT_RATE_LIMITS and the endpoint for %s", (_label, value, message) => {
    const parse = () => requireRateLimitConfig({ ENDPOINT_RATE_LIMITS: value });
    expect(parse).toThrow(ConfigError);
    expect(parse).toThrow(`Invalid configuration: ${message}`);
  });

  it("refuses a caller with 500 misconfigured when the limits are invalid", async () => {
    const response = await instances.call(
      0,
      handleCron,
      request("POST", { headers: cronHeaders(), body: { operation: "reset_stale_jobs" } }),
      { env: { ...ENV, ENDPOINT_RATE_LIMITS: '{"cron":-1}' } },
    );
    expect(response.status).toBe(500);
    expect(errorOf(response)?.message).toBe(
      "Server configuration is invalid: ENDPOINT_RATE_LIMITS",
    );
  });
});

describe("everything this file captured", () => {
  it("holds no key, secret or token", () => {
    expect(instances.leaked()).toEqual([]);
  });
});
