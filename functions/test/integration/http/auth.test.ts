/**
 * Who may call which sync endpoint: every endpoint's auth matrix through the real handlers,
 * with real firebase-admin token verification (against firebase-tools' Auth emulator) and real Firestore.
 */
import { deleteApp, initializeApp } from "firebase-admin/app";
import { getAuth } from "firebase-admin/auth";

import { AUTH_FAILURES_COLLECTION } from "../../../src/http/auth";
import { handleAutomation } from "../../../src/http/automation";
import type { Handler } from "../../../src/http/context";
import { handleCron } from "../../../src/http/cron";
import { handleProcess } from "../../../src/http/process";
import { handleSchedule } from "../../../src/http/schedule";
import { handleStatus } from "../../../src/http/status";
import { handleWorker } from "../../../src/http/worker";
import {
  ADMIN_EMAIL,
  bearer,
  CRON_SECRET,
  cronHeaders,
  endpointDeps,
  PREVIOUS_CRON_SECRET,
  recordingLogger,
  request,
  seedIntegration,
  startTestAuth,
  TEST_ENV,
  type TestAuth,
} from "../../harness/auth";
import { type TestFirestore, testFirestore } from "../../harness/firestore";

const NOW = new Date("2026-11-28T10:00:00Z");
const TODAY = "2026-11-28";
const WRONG_KEY = "wrong-cron-key-0123456789abcdef";

let firestore: TestFirestore;
let testAuth: TestAuth;
const logger = recordingLogger();
/** Every token minted in this file: none may reach a log line. */
const minted: string[] = [];

beforeAll(async () => {
  firestore = testFirestore("http-auth");
  testAuth = await startTestAuth(firestore);
  await seedIntegration(firestore.db, "member", "google");
  for (const endpoint of ["status", "automation"]) {
    await seedIntegration(firestore.db, `revoked-${endpoint}`, "google");
  }
});
afterAll(async () => {
  await testAuth.close();
  await firestore.close();
});

const deps = (env = TEST_ENV) =>
  endpointDeps({ db: firestore.db, auth: testAuth.auth, now: NOW, logger, env });

const mint = (options: Parameters<TestAuth["mintIdToken"]>[0]): string => {
  const token = testAuth.mintIdToken(options);
  minted.push(token);
  return token;
};

const memberToken = () => mint({ uid: "member", email: "member@example.com", emailVerified: true });
const adminByEmailToken = () =>
  // Upper case here, mixed case in ADMIN_EMAILS: matched case-insensitively.
  mint({ uid: "admin-email", email: ADMIN_EMAIL.toUpperCase(), emailVerified: true });
const adminByClaimToken = () =>
  mint({
    uid: "admin-claim",
    email: "claims@example.com",
    emailVerified: true,
    claims: { admin: true },
  });

interface Endpoint {
  name: string;
  handler: Handler;
  method: string;
  body?: unknown;
}

const cronEndpoints: Endpoint[] = [
  { name: "cron", handler: handleCron, method: "POST", body: { operation: "reset_stale_jobs" } },
  { name: "worker", handler: handleWorker, method: "POST", body: { maxJobs: 1 } },
  { name: "process", handler: handleProcess, method: "POST", body: { userId: "member" } },
];
const scheduleEndpoint: Endpoint = {
  name: "schedule",
  handler: handleSchedule,
  method: "POST",
  body: { userId: "member", providerId: "google" },
};
const userEndpoints: Endpoint[] = [
  { name: "status", handler: handleStatus, method: "GET" },
  {
    name: "automation",
    handler: handleAutomation,
    method: "PATCH",
    body: { providerId: "google", cadenceHours: 12 },
  },
];

const call = async (endpoint: Endpoint, headers: Record<string, string>, env = TEST_ENV) => {
  await testAuth.settle();
  return endpoint.handler(request(endpoint.method, { headers, body: endpoint.body }), deps(env));
};

const errorCode = (body: unknown): string | undefined =>
  (body as { error?: { code?: string } }).error?.code;

async function failureCounters(): Promise<{
  byEndpoint: Record<string, number>;
  byReason: Record<string, number>;
}> {
  const snapshot = await firestore.db.collection(AUTH_FAILURES_COLLECTION).doc(TODAY).get();
  return {
    byEndpoint: (snapshot.get("byEndpoint") as Record<string, number> | undefined) ?? {},
    byReason: (snapshot.get("byReason") as Record<string, number> | undefined) ?? {},
  };
}

describe.each(cronEndpoints)("$name (x-cron-key only)", (endpoint) => {
  it("accepts the current key", async () => {
    const response = await call(endpoint, cronHeaders());
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ success: true });
  });

  it("accepts the previous key during a rotation", async () => {
    expect((await call(endpoint, cronHeaders(PREVIOUS_CRON_SECRET))).status).toBe(200);
  });

  it("refuses the previous key once no previous secret is configured", async () => {
    const { INTEGRATIONS_CRON_SECRET_PREVIOUS: _dropped, ...current } = TEST_ENV;
    const response = await call(endpoint, cronHeaders(PREVIOUS_CRON_SECRET), current);
    expect(response.status).toBe(401);
  });

  it.each([
    ["no credentials", {}],
    ["an empty key", { "x-cron-key": "" }],
    ["a wrong key", cronHeaders(WRONG_KEY)],
    ["a wrong key of another length", cronHeaders("short")],
  ])("answers 401 unauthenticated to %s", async (_label, headers) => {
    const response = await call(endpoint, headers);
    expect(response.status).toBe(401);
    expect(errorCode(response.body)).toBe("unauthenticated");
  });

  it("answers 401 to an administrator's ID token: only the key opens it", async () => {
    expect((await call(endpoint, bearer(adminByClaimToken()))).status).toBe(401);
  });

  it("refuses everything with 500 misconfigured when no secret is configured", async () => {
    const { INTEGRATIONS_CRON_SECRET: _dropped, ...noSecret } = TEST_ENV;
    const response = await call(endpoint, cronHeaders(), noSecret);
    expect(response.status).toBe(500);
    expect(errorCode(response.body)).toBe("misconfigured");
  });
});

describe("schedule (administrator's ID token or x-cron-key)", () => {
  const endpoint = scheduleEndpoint;

  it.each([
    ["the current key", () => cronHeaders()],
    ["the previous key", () => cronHeaders(PREVIOUS_CRON_SECRET)],
    ["an administrator by e-mail (any case)", () => bearer(adminByEmailToken())],
    ["an administrator by custom claim", () => bearer(adminByClaimToken())],
  ])("accepts %s", async (_label, headers) => {
    const response = await call(endpoint, headers());
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ success: true, operation: "schedule" });
  });

  it.each([
    ["no credentials", () => ({})],
    ["a wrong key", () => cronHeaders(WRONG_KEY)],
    [
      "a wrong key beside an administrator's token",
      () => ({
        ...cronHeaders(WRONG_KEY),
        ...bearer(adminByClaimToken()),
      }),
    ],
    ["a non-Bearer Authorization header", () => ({ authorization: "Basic YWRtaW46YWRtaW4=" })],
    ["a Bearer header without a token", () => ({ authorization: "Bearer" })],
    ["a token that is not a JWT", () => bearer("not-a-jwt")],
    [
      "a token issued for another project",
      () => {
        const [header, payload, signature] = adminByClaimToken().split(".");
        const claims = JSON.parse(Buffer.from(payload!, "base64url").toString()) as object;
        const moved = {
          ...claims,
          aud: "demo-other",
          iss: "https://securetoken.google.com/demo-other",
        };
        return bearer(
          `${header}.${Buffer.from(JSON.stringify(moved)).toString("base64url")}.${signature}`,
        );
      },
    ],
  ])("answers 401 unauthenticated to %s", async (_label, headers) => {
    const response = await call(endpoint, headers());
    expect(response.status).toBe(401);
    expect(errorCode(response.body)).toBe("unauthenticated");
  });

  it("answers 401 to a revoked administrator token, and accepts a fresh one", async () => {
    const token = adminByEmailToken();
    expect((await call(endpoint, bearer(token))).status).toBe(200);
    await testAuth.revoke("admin-email");
    expect((await call(endpoint, bearer(token))).status).toBe(401);
    const fresh = adminByEmailToken();
    expect((await call(endpoint, bearer(fresh))).status).toBe(200);
  });

  it("answers 401 to a disabled administrator's token", async () => {
    const token = mint({ uid: "disabled-admin", claims: { admin: true } });
    await testAuth.disableUser("disabled-admin");
    expect((await call(endpoint, bearer(token))).status).toBe(401);
  });

  it.each([
    ["a signed-in non-administrator", () => memberToken()],
    [
      "an administrator's e-mail that is not verified",
      () => mint({ uid: "admin-email", email: ADMIN_EMAIL.toUpperCase(), emailVerified: false }),
    ],
    [
      "a custom claim admin that is not literally true",
      () => mint({ uid: "truthy-claim", claims: { admin: "yes" } }),
    ],
  ])("answers 403 permission_denied to %s", async (_label, token) => {
    const response = await call(endpoint, bearer(token()));
    expect(response.status).toBe(403);
    expect(errorCode(response.body)).toBe("permission_denied");
  });

  it("refuses an administrator too with 500 misconfigured when no secret is configured", async () => {
    const { INTEGRATIONS_CRON_SECRET: _dropped, ...noSecret } = TEST_ENV;
    const response = await call(endpoint, bearer(adminByClaimToken()), noSecret);
    expect(response.status).toBe(500);
    expect(errorCode(response.body)).toBe("misconfigured");
  });
});

describe.each(userEndpoints)("$name (any signed-in user)", (endpoint) => {
  it("accepts a signed-in user's token", async () => {
    const response = await call(endpoint, bearer(memberToken()));
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ success: true });
  });

  it.each([
    ["no credentials", () => ({})],
    ["the cron key (it names no user)", () => cronHeaders()],
    ["a non-Bearer Authorization header", () => ({ authorization: "Token abc" })],
    ["a token that is not a JWT", () => bearer("a.b.c")],
  ])("answers 401 unauthenticated to %s", async (_label, headers) => {
    const response = await call(endpoint, headers());
    expect(response.status).toBe(401);
    expect(errorCode(response.body)).toBe("unauthenticated");
  });

  it("answers 401 to a revoked token", async () => {
    const uid = `revoked-${endpoint.name}`;
    const token = mint({ uid });
    expect((await call(endpoint, bearer(token))).status).toBe(200);
    await testAuth.revoke(uid);
    expect((await call(endpoint, bearer(token))).status).toBe(401);
  });

  it("answers 401 to a disabled user's token", async () => {
    const uid = `disabled-${endpoint.name}`;
    const token = mint({ uid });
    await testAuth.disableUser(uid);
    expect((await call(endpoint, bearer(token))).status).toBe(401);
  });
});

describe("when the Auth backend cannot be reached", () => {
  it("answers 503 unavailable and does not count a failed attempt", async () => {
    const token = memberToken();
    const saved = process.env.FIREBASE_AUTH_EMULATOR_HOST;
    // Port 9 (discard) on loopback: nothing listens there, the lookup is refused.
    process.env.FIREBASE_AUTH_EMULATOR_HOST = "127.0.0.1:9";
    const app = initializeApp({ projectId: firestore.projectId }, "auth-unreachable");
    try {
      const before = await failureCounters();
      const response = await handleStatus(
        request("GET", { headers: bearer(token) }),
        endpointDeps({ db: firestore.db, auth: getAuth(app), now: NOW, logger }),
      );
      expect(response.status).toBe(503);
      expect(errorCode(response.body)).toBe("unavailable");
      expect(await failureCounters()).toEqual(before);
    } finally {
      process.env.FIREBASE_AUTH_EMULATOR_HOST = saved;
      await deleteApp(app);
    }
  });
});

describe("failed attempts", () => {
  it("are counted per endpoint and reason in one daily document", async () => {
    const before = await failureCounters();
    await call(cronEndpoints[1]!, cronHeaders(WRONG_KEY));
    await call(scheduleEndpoint, bearer(memberToken()));
    const after = await failureCounters();
    expect(after.byEndpoint.worker).toBe((before.byEndpoint.worker ?? 0) + 1);
    expect(after.byEndpoint.schedule).toBe((before.byEndpoint.schedule ?? 0) + 1);
    expect(after.byReason.bad_cron_key).toBe((before.byReason.bad_cron_key ?? 0) + 1);
    expect(after.byReason.not_admin).toBe((before.byReason.not_admin ?? 0) + 1);
  });

  it("are not counted when the caller succeeds", async () => {
    const before = await failureCounters();
    await call(cronEndpoints[0]!, cronHeaders());
    expect(await failureCounters()).toEqual(before);
  });

  it("are logged as warnings with endpoint, reason and source address", async () => {
    const from = logger.entries.length;
    await handleCron(
      request("POST", {
        headers: { ...cronHeaders(WRONG_KEY), "x-forwarded-for": "10.0.0.1, 198.51.100.9" },
        body: { operation: "reset_stale_jobs" },
      }),
      deps(),
    );
    await call(scheduleEndpoint, bearer(memberToken()));
    const warnings = logger.entries.slice(from).filter((entry) => entry.severity === "warn");
    expect(warnings.map((entry) => entry.fields)).toEqual([
      expect.objectContaining({
        endpoint: "cron",
        reason: "bad_cron_key",
        status: 401,
        sourceIp: "198.51.100.9",
      }),
      expect.objectContaining({
        endpoint: "schedule",
        reason: "not_admin",
        status: 403,
        sourceIp: "203.0.113.7",
        uid: "member",
      }),
    ]);
  });

  it("never put a presented key, a configured secret or a token in a log line", () => {
    const logged = JSON.stringify(logger.entries);
    expect(logger.entries.length).toBeGreaterThan(0);
    for (const secret of [WRONG_KEY, CRON_SECRET, PREVIOUS_CRON_SECRET]) {
      expect(logged).not.toContain(secret);
    }
    expect(minted.length).toBeGreaterThan(0);
    for (const token of minted) {
      expect(logged).not.toContain(token);
    }
  });
});
