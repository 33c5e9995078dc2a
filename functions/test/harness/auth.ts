/**
 * The caller's side of the endpoint tests: a real firebase-admin Auth pointed at firebase-tools'
 * Auth emulator, the endpoint dependencies around a test Firestore, requests, a logger that
 * keeps what it is given (to prove no secret reaches a log line), and seed data written exactly
 * as integrations/model.ts describes.
 */
import { type Auth, getAuth } from "firebase-admin/auth";
import type { Firestore } from "firebase-admin/firestore";

import type { EndpointDeps, Handler, HttpRequestLike } from "../../src/http/context";
import { writeCredentials } from "../../src/integrations/credentials";
import { type Automation, DEFAULT_AUTOMATION } from "../../src/integrations/model";
import { JOBS_COLLECTION } from "../../src/jobs/model";
import type { MetricsFetcher } from "../../src/jobs/process";
import { requestedRange } from "../../src/providers/ranges";
import type { ProviderId } from "../../src/providers/types";
import { EVENTS_COLLECTION } from "../../src/scheduler/events";
import type { RawEnv } from "../../src/shared/config";
import type { FieldIssue } from "../../src/shared/errors";
import type { LogFields, Logger } from "../../src/shared/logger";
import { DEFAULT_ENDPOINT_LIMITS } from "../../src/shared/rate-limit-config";
import { type TestFirestore, testFirestore } from "./firestore";
import { TEST_TOKEN_KEYS, TEST_TOKEN_KEYS_VALUE } from "./seed";
import { type RecordingQueues, recordingQueues } from "./tasks";

export const CRON_SECRET = "current-cron-secret-0123456789abcdef";
export const PREVIOUS_CRON_SECRET = "previous-cron-secret-0123456789abcdef";
export const ADMIN_EMAIL = "ops.admin@example.com";

export const TEST_ENV: RawEnv = {
  INTEGRATIONS_CRON_SECRET: CRON_SECRET,
  INTEGRATIONS_CRON_SECRET_PREVIOUS: PREVIOUS_CRON_SECRET,
  NEXT_PUBLIC_APP_URL: "http://localhost:3000",
  // Mixed case on purpose: the allow-list is matched case-insensitively.
  ADMIN_EMAILS: "someone@example.com, Ops.Admin@Example.com",
  TOKEN_ENCRYPTION_KEYS: TEST_TOKEN_KEYS_VALUE,
  // Suites about other behaviour call endpoints many times at one fixed instant, from one
  // address: the abuse limits must not refuse them. The limit tests set their own values.
  AUTH_FAILURE_THRESHOLD: "10000",
  ENDPOINT_RATE_LIMITS: JSON.stringify(
    Object.fromEntries(Object.keys(DEFAULT_ENDPOINT_LIMITS).map((name) => [name, 100_000])),
  ),
};

export interface MintOptions {
  uid: string;
  email?: string;
  emailVerified?: boolean;
  /** Custom claims, e.g. `{admin: true}`; they appear at the top level of the token. */
  claims?: Record<string, unknown>;
}

export interface TestAuth {
  auth: Auth;
  /**
   * Returns an ID token for the user, and creates or updates the user in the Auth emulator in
   * the background: call `settle()` before the token is used (the request helpers do).
   */
  mintIdToken(options: MintOptions): string;
  /** Waits until every user written by `mintIdToken` is in the emulator; throws its error. */
  settle(): Promise<void>;
  /** Revokes every token issued to the user so far (the emulator sets `validSince` to now). */
  revoke(uid: string): Promise<void>;
  disableUser(uid: string): Promise<void>;
  close(): Promise<void>;
}

const TOKEN_LIFETIME_SECONDS = 3600;
const base64url = (value: unknown): string =>
  Buffer.from(JSON.stringify(value)).toString("base64url");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The test project's users in firebase-tools' Auth emulator (FIREBASE_AUTH_EMULATOR_HOST, set by
 * global setup). Users, claims, revocation and disabling are the emulator's own state, reached
 * through firebase-admin; what firebase-admin checks of a token is the emulator's lookup.
 *
 * Tokens are signed the way the emulator signs them (`alg: "none"`, the same claims,
 * `operations.js` generateJwt): its client sign-in API serves only its default project, and
 * each test file has a project of its own.
 */
export function startTestAuth(firestore: TestFirestore): Promise<TestAuth> {
  const host = process.env.FIREBASE_AUTH_EMULATOR_HOST;
  if (!host) {
    throw new Error(
      "FIREBASE_AUTH_EMULATOR_HOST is not set: run the tests through jest's global setup",
    );
  }
  const auth = getAuth(firestore.app);
  const { projectId } = firestore;
  /** The latest auth_time issued per user, so a revocation covers every token minted so far. */
  const lastAuthTime = new Map<string, number>();
  const revokedAt = new Map<string, number>();
  let writes: Promise<void> = Promise.resolve();
  let failure: Error | undefined;
  const failed = (error: unknown) => {
    failure ??= error instanceof Error ? error : new Error(String(error));
  };
  /**
   * Writes only what differs: the emulator, like Firebase, revokes a user's tokens whenever
   * their e-mail is written, even unchanged. E-mails are unique per project, as in Firebase.
   */
  const upsertUser = async (
    uid: string,
    email: string | undefined,
    emailVerified: boolean,
    claims: Record<string, unknown>,
  ) => {
    const existing = await auth.getUser(uid).catch((error: { code?: string }) => {
      if (error.code === "auth/user-not-found") {
        return undefined;
      }
      throw error;
    });
    if (!existing) {
      await auth.createUser({ uid, ...(email !== undefined ? { email } : {}), emailVerified });
    } else {
      const sameEmail =
        email === undefined || existing.email?.toLowerCase() === email.toLowerCase();
      if (!sameEmail || existing.emailVerified !== emailVerified) {
        await auth.updateUser(uid, { ...(sameEmail ? {} : { email }), emailVerified });
      }
    }
    const wanted = Object.keys(claims).length > 0 ? claims : undefined;
    if (JSON.stringify(existing?.customClaims ?? undefined) !== JSON.stringify(wanted)) {
      await auth.setCustomUserClaims(uid, wanted ?? null);
    }
  };
  return Promise.resolve({
    auth,
    mintIdToken: ({ uid, email, emailVerified = false, claims = {} }) => {
      // One chain, in order: a later mint for the same user must not be overtaken.
      writes = writes.then(() => upsertUser(uid, email, emailVerified, claims).catch(failed));
      const now = Math.floor(Date.now() / 1000);
      // A sign-in after a revocation is never older than it (the emulator keeps seconds).
      const authTime = Math.max(now, revokedAt.get(uid) ?? 0);
      lastAuthTime.set(uid, Math.max(authTime, lastAuthTime.get(uid) ?? 0));
      const payload = {
        ...claims,
        ...(email !== undefined ? { email, email_verified: emailVerified } : {}),
        auth_time: authTime,
        user_id: uid,
        firebase: {
          identities: email !== undefined ? { email: [email] } : {},
          sign_in_provider: email !== undefined ? "password" : "custom",
        },
        iat: authTime,
        exp: authTime + TOKEN_LIFETIME_SECONDS,
        aud: projectId,
        iss: `https://securetoken.google.com/${projectId}`,
        sub: uid,
      };
      return `${base64url({ alg: "none", typ: "JWT" })}.${base64url(payload)}.`;
    },
    settle: async () => {
      await writes;
      if (failure !== undefined) {
        const error = failure;
        failure = undefined;
        throw error;
      }
    },
    revoke: async (uid) => {
      await writes;
      // Revocation has one-second granularity (validSince and auth_time are whole seconds,
      // and a token authenticated in the revocation's second stays valid): wait until the
      // second after the latest token issued, as a real revocation comes after the sign-in.
      const after = (lastAuthTime.get(uid) ?? 0) + 1;
      while (Date.now() < after * 1000) {
        await sleep(after * 1000 - Date.now());
      }
      await auth.revokeRefreshTokens(uid);
      const { tokensValidAfterTime } = await auth.getUser(uid);
      revokedAt.set(uid, Math.floor(Date.parse(tokensValidAfterTime ?? "") / 1000) || after);
    },
    disableUser: async (uid) => {
      await writes;
      await auth.updateUser(uid, { disabled: true });
    },
    close: () => Promise.resolve(),
  });
}

export interface LogEntry {
  severity: "debug" | "info" | "warn" | "error";
  message: string;
  fields: LogFields;
}

export interface RecordingLogger extends Logger {
  entries: LogEntry[];
}

/** A Logger that keeps every entry (children write to the same list, with their scope). */
export function recordingLogger(entries: LogEntry[] = [], scope: LogFields = {}): RecordingLogger {
  const write =
    (severity: LogEntry["severity"]) =>
    (message: string, fields: LogFields = {}): void => {
      entries.push({ severity, message, fields: { ...scope, ...fields } });
    };
  return {
    entries,
    debug: write("debug"),
    info: write("info"),
    warn: write("warn"),
    error: write("error"),
    child: (childScope) => recordingLogger(entries, { ...scope, ...childScope }),
  };
}

/** One test row per requested account and day of the window's end: a stand-in platform. */
export const twoRowFetcher: MetricsFetcher = async (providerId, request) => {
  const range = requestedRange(request, "UTC");
  for (const accountId of request.accountIds) {
    const rows = [
      {
        provider: providerId,
        accountId,
        campaignId: "campaign-1",
        campaignName: "Spring launch",
        date: range.until,
        timeZone: "UTC",
        currency: "USD",
        impressions: 1200,
        clicks: 34,
        spendMicros: 12_340_000n,
        conversions: 2,
        conversionValueMicros: 50_000_000n,
      },
    ];
    await request.onAccount?.({ accountId, rows, range, timeZone: "UTC" });
  }
  return {
    accounts: request.accountIds.map((accountId) => ({
      accountId,
      status: "ok" as const,
      rows: 1,
      range,
      timeZone: "UTC",
    })),
    requests: request.accountIds.length,
  };
};

export interface DepsOptions {
  db: Firestore;
  auth: Auth;
  now: Date;
  logger?: RecordingLogger;
  env?: RawEnv;
  fetchMetrics?: MetricsFetcher;
  /** Where the stale reset dispatches requeued jobs; a fresh recorder when absent. */
  queues?: RecordingQueues;
}

export const endpointDeps = (options: DepsOptions): EndpointDeps => ({
  db: options.db,
  auth: options.auth,
  clock: () => options.now,
  logger: options.logger ?? recordingLogger(),
  env: options.env ?? TEST_ENV,
  process: { fetchMetrics: options.fetchMetrics ?? twoRowFetcher },
  queues: (options.queues ?? recordingQueues()).queues,
});

export function request(
  method: string,
  options: { headers?: Record<string, string>; body?: unknown; query?: unknown } = {},
): HttpRequestLike {
  return {
    method,
    headers: options.headers ?? {},
    body: options.body,
    query: options.query,
    ip: "203.0.113.7",
  };
}

export const cronHeaders = (key = CRON_SECRET): Record<string, string> => ({
  "x-cron-key": key,
});
export const bearer = (token: string): Record<string, string> => ({
  authorization: `Bearer ${token}`,
});

/** Access token stored for every seeded integration: must never appear in a response. */
export const accessTokenOf = (uid: string, providerId: ProviderId): string =>
  `access-token-${uid}-${providerId}-do-not-leak`;

export async function seedIntegration(
  db: Firestore,
  uid: string,
  providerId: ProviderId,
  options: { automation?: Partial<Automation>; accountIds?: string[]; status?: string } = {},
): Promise<void> {
  const ref = db.collection("users").doc(uid).collection("integrations").doc(providerId);
  await ref.set({
    status: options.status ?? "active",
    accountIds: options.accountIds ?? ["acct-1", "acct-2"],
    automation: { ...DEFAULT_AUTOMATION, ...options.automation },
  });
  await writeCredentials(db, TEST_TOKEN_KEYS, uid, providerId, {
    accessToken: accessTokenOf(uid, providerId),
    refreshToken: `refresh-token-${uid}-${providerId}-do-not-leak`,
    expiresAt: Date.UTC(2100, 0, 1),
  });
}

/** Sync jobs and scheduler events in the project: what a rejected request must not change. */
export async function writtenState(db: Firestore): Promise<{ jobs: number; events: number }> {
  const [jobs, events] = await Promise.all([
    db.collection(JOBS_COLLECTION).count().get(),
    db.collection(EVENTS_COLLECTION).count().get(),
  ]);
  return { jobs: jobs.data().count, events: events.data().count };
}

export interface ErrorBody {
  error: { code: string; message: string; issues?: FieldIssue[] };
}

/**
 * One test file's setup for calling the endpoints as a member: its own Firestore project, the
 * Auth emulator, a member ("member") with an ID token and a Google integration. `refused` calls a
 * handler and asserts it wrote nothing (no job, no event).
 */
export function memberApi(label: string, now: Date) {
  const api = {} as { firestore: TestFirestore; testAuth: TestAuth; userToken: string };
  beforeAll(async () => {
    api.firestore = testFirestore(label);
    api.testAuth = await startTestAuth(api.firestore);
    api.userToken = api.testAuth.mintIdToken({ uid: "member", email: "m@example.com" });
    await api.testAuth.settle();
    await seedIntegration(api.firestore.db, "member", "google");
  });
  afterAll(async () => {
    await api.testAuth.close();
    await api.firestore.close();
  });
  const refused = async (
    handler: Handler,
    method: string,
    input: { headers: Record<string, string>; body?: unknown; query?: unknown },
  ) => {
    const { db } = api.firestore;
    const before = await writtenState(db);
    const response = await handler(
      request(method, input),
      endpointDeps({ db, auth: api.testAuth.auth, now }),
    );
    expect(await writtenState(db)).toEqual(before);
    return { status: response.status, headers: response.headers, body: response.body as ErrorBody };
  };
  return Object.assign(api, { refused });
}
