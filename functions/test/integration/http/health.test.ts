import { execFile } from "node:child_process";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";

import axios from "axios";

import { checkHealth, type HealthDeps } from "../../../src/http/health";
import { jobRef } from "../../../src/jobs/store";
import { type TestFirestore, testFirestore } from "../../harness/firestore";
import { listenOnLoopback, type RunningServer } from "../../harness/http";
import { TEST_TOKEN_KEYS_VALUE } from "../../harness/seed";
import { minutesBefore, seededJob } from "../scheduler/seeded-jobs";

const env = {
  INTEGRATIONS_CRON_SECRET: "cron-secret-for-health-tests",
  NEXT_PUBLIC_APP_URL: "http://localhost:3000",
  ADMIN_EMAILS: "admin@example.com",
  TOKEN_ENCRYPTION_KEYS: TEST_TOKEN_KEYS_VALUE,
};

interface HealthBody {
  status: string;
  timestamp: string;
  uptime: number;
  responseTime: number;
  checks: {
    firebase: { status: string; responseTime: number; error?: string };
    stripe: { status: string; responseTime?: number };
    environment: { status: string; missing?: string[]; invalid?: string[] };
    queue: {
      status: string;
      responseTime?: number;
      queued?: number;
      running?: number;
      stale?: number;
      failedLast24h?: number;
      oldestDueAgeSeconds?: number | null;
      reasons?: string[];
      error?: string;
    };
  };
  version: string;
}

const execFileAsync = promisify(execFile);

let firestore: TestFirestore;

beforeAll(() => {
  firestore = testFirestore("health");
});
afterAll(() => firestore.close());

const deps = (overrides: Partial<HealthDeps> = {}): HealthDeps => ({
  db: firestore.db,
  http: axios.create(),
  env,
  now: Date.now,
  uptimeSeconds: () => 42.4,
  version: "9.9.9",
  ...overrides,
});

describe("checkHealth", () => {
  it("answers 200 with the guide's shape after a real Firestore round trip", async () => {
    const response = await checkHealth(deps());
    const body = response.body as HealthBody;
    expect(response.status).toBe(200);
    expect(body.status).toBe("healthy");
    expect(new Date(body.timestamp).toISOString()).toBe(body.timestamp);
    expect(body.uptime).toBe(42);
    expect(typeof body.responseTime).toBe("number");
    expect(body.checks.firebase.status).toBe("ok");
    expect(body.checks.firebase.responseTime).toBeGreaterThanOrEqual(0);
    expect(body.checks.stripe).toEqual({ status: "not_configured" });
    expect(body.checks.environment).toEqual({ status: "ok" });
    expect(body.checks.queue).toEqual({
      status: "ok",
      responseTime: expect.any(Number) as unknown,
      queued: 0,
      running: 0,
      stale: 0,
      failedLast24h: 0,
      oldestDueAgeSeconds: null,
    });
    expect(body.version).toBe("9.9.9");
  });

  it("names an invalid rate-limit or auth-blocking variable too", async () => {
    const response = await checkHealth(
      deps({ env: { ...env, ENDPOINT_RATE_LIMITS: "{not json", AUTH_FAILURE_THRESHOLD: "0" } }),
    );
    const body = response.body as HealthBody;
    expect(response.status).toBe(503);
    expect(body.checks.environment.invalid).toEqual(
      expect.arrayContaining(["ENDPOINT_RATE_LIMITS", "AUTH_FAILURE_THRESHOLD"]),
    );
  });

  it("answers 503 naming missing and invalid variables, never their values", async () => {
    const badThreshold = "not-a-number-xyz";
    const response = await checkHealth(
      deps({
        env: {
          NEXT_PUBLIC_APP_URL: env.NEXT_PUBLIC_APP_URL,
          ADMIN_EMAILS: env.ADMIN_EMAILS,
          SCHEDULER_ALERT_FAILURE_THRESHOLD: badThreshold,
        },
      }),
    );
    const body = response.body as HealthBody;
    expect(response.status).toBe(503);
    expect(body.status).toBe("unhealthy");
    expect(body.checks.environment).toEqual({
      status: "error",
      missing: ["INTEGRATIONS_CRON_SECRET", "TOKEN_ENCRYPTION_KEYS"],
      invalid: ["SCHEDULER_ALERT_FAILURE_THRESHOLD"],
    });
    expect(JSON.stringify(body)).not.toContain(badThreshold);
  });

  it.each([
    ["a token-key ring that is not JSON", { TOKEN_ENCRYPTION_KEYS: "{oops-key-material" }],
    [
      "a key that is not 32 bytes",
      { TOKEN_ENCRYPTION_KEYS: '{"current":"k1","keys":{"k1":"c2hvcnQta2V5"}}' },
    ],
    ["platform secrets that are not JSON", { PROVIDER_SECRETS: "{oops-client-secret" }],
  ])("answers 503 naming %s, never its value", async (_label, bad) => {
    const response = await checkHealth(deps({ env: { ...env, ...bad } }));
    const body = response.body as HealthBody;
    expect(response.status).toBe(503);
    expect(body.checks.environment).toEqual({
      status: "error",
      missing: [],
      invalid: Object.keys(bad),
    });
    expect(JSON.stringify(body)).not.toContain(Object.values(bad)[0]!.slice(1, 12));
  });

  describe("with Firestore unreachable", () => {
    let blackHole: Server;
    const sockets: Socket[] = [];

    beforeAll(async () => {
      // Accepts TCP connections and never answers: the worst case, a hang, not a refusal.
      blackHole = createServer((socket) => sockets.push(socket));
      await new Promise<void>((resolve) => blackHole.listen(0, "127.0.0.1", resolve));
    });
    afterAll(async () => {
      sockets.forEach((socket) => socket.destroy());
      await new Promise((resolve) => blackHole.close(resolve));
    });

    it("answers 503 with checks.firebase failing at its timeout instead of hanging", async () => {
      const address = blackHole.address();
      const port = typeof address === "object" && address ? address.port : 0;
      const { stdout } = await execFileAsync(process.execPath, [
        require.resolve("tsx/cli"),
        join(__dirname, "../../harness/unreachable-health-probe.ts"),
        `127.0.0.1:${port}`,
        JSON.stringify({ ...env, HEALTH_CHECK_TIMEOUT_MS: "1500" }),
      ]);
      const response = JSON.parse(stdout) as { status: number; body: HealthBody };
      expect(response.status).toBe(503);
      expect(response.body.status).toBe("unhealthy");
      expect(response.body.checks.firebase.status).toBe("error");
      expect(response.body.checks.firebase.error).toBe("timed out after 1500 ms");
      expect(response.body.checks.queue).toMatchObject({
        status: "error",
        error: "timed out after 1500 ms",
      });
      expect(response.body.checks.firebase.responseTime).toBeGreaterThanOrEqual(1500);
    });
  });

  describe("with Stripe configured", () => {
    const stripeKey = "sk_test_health_0123456789abcdef";
    let stripe: RunningServer;
    let answer = 200;

    beforeAll(async () => {
      stripe = await listenOnLoopback((req, res) => {
        const authorised = req.headers.authorization === `Bearer ${stripeKey}`;
        res.statusCode = authorised ? answer : 401;
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify(authorised ? { object: "balance" } : { error: { type: "x" } }));
      });
    });
    afterAll(() => stripe.close());

    const stripeEnv = () => ({
      ...env,
      STRIPE_SECRET_KEY: stripeKey,
      STRIPE_API_BASE_URL: stripe.url,
    });

    it("reports Stripe ok when it accepts the key", async () => {
      answer = 200;
      const body = (await checkHealth(deps({ env: stripeEnv() }))).body as HealthBody;
      expect(body.checks.stripe.status).toBe("ok");
      expect(body.status).toBe("healthy");
    });

    it("reports a Stripe failure without changing overall status or leaking the key", async () => {
      answer = 500;
      const response = await checkHealth(deps({ env: stripeEnv() }));
      const body = response.body as HealthBody;
      expect(body.checks.stripe.status).toBe("error");
      expect(response.status).toBe(200);
      expect(JSON.stringify(body)).not.toContain(stripeKey);
    });
  });

  describe("with jobs in the queue", () => {
    const now = new Date("2026-11-28T12:00:00Z");
    let queueStore: TestFirestore;

    beforeEach(() => {
      queueStore = testFirestore("health-queue");
    });
    afterEach(() => queueStore.close());

    const queueHealth = async (dueMinutesAgo: number, extraEnv: Record<string, string> = {}) => {
      const job = seededJob(now, {
        userId: "user-with-a-private-id",
        nextAttemptAt: minutesBefore(now, dueMinutesAgo),
      });
      await jobRef(queueStore.db, "2026-11-28T02_user-with-a-private-id_google").set(job);
      await jobRef(queueStore.db, "stale").set(
        seededJob(now, { status: "running", leaseExpiresAt: minutesBefore(now, 5) }),
      );
      const response = await checkHealth(
        deps({ db: queueStore.db, now: () => now.getTime(), env: { ...env, ...extraEnv } }),
      );
      return { response, body: response.body as HealthBody };
    };

    it("warns with 200 past the stuck age and on stale jobs, naming no job or user", async () => {
      const { response, body } = await queueHealth(45);
      expect(response.status).toBe(200);
      expect(body.status).toBe("healthy");
      expect(body.checks.queue).toMatchObject({
        status: "warning",
        queued: 1,
        running: 1,
        stale: 1,
        oldestDueAgeSeconds: 45 * 60,
        reasons: [
          "the oldest due job has waited 45 min (warning at 30)",
          "1 running job(s) have an expired lease",
        ],
      });
      expect(JSON.stringify(body)).not.toContain("user-with-a-private-id");
    });

    it("answers 503 past the unhealthy age", async () => {
      const { response, body } = await queueHealth(125);
      expect(response.status).toBe(503);
      expect(body.status).toBe("unhealthy");
      expect(body.checks.queue.status).toBe("error");
      expect(body.checks.queue.reasons?.[0]).toBe(
        "the oldest due job has waited 125 min (unhealthy at 120)",
      );
    });

    it("takes its thresholds from the configuration", async () => {
      const { response, body } = await queueHealth(125, {
        SCHEDULER_QUEUE_STUCK_MINUTES: "150",
        SCHEDULER_QUEUE_UNHEALTHY_MINUTES: "300",
      });
      expect(response.status).toBe(200);
      expect(body.checks.queue.reasons).toEqual(["1 running job(s) have an expired lease"]);
    });

    it("answers 503 naming an invalid threshold variable", async () => {
      const { response, body } = await queueHealth(1, { SCHEDULER_ALERT_THRESHOLDS: "[1]" });
      expect(response.status).toBe(503);
      expect(body.checks.environment).toEqual({
        status: "error",
        missing: [],
        invalid: ["SCHEDULER_ALERT_THRESHOLDS"],
      });
    });
  });
});
