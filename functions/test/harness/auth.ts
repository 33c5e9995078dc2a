/**
 * The caller's side of the endpoint tests: a real firebase-admin Auth pointed at the local Auth
 * emulator stand-in, the endpoint dependencies around a test Firestore, requests, a logger that
 * keeps what it is given (to prove no secret reaches a log line), and seed data written exactly
 * as integrations/model.ts describes.
 */
import { type Auth, getAuth } from "firebase-admin/auth";
import type { Firestore } from "firebase-admin/firestore";

import { type RunningAuthEmulator, startAuthEmulator } from "../../dev/auth-emulator";
import type { EndpointDeps, HttpRequestLike } from "../../src/http/context";
import { writeCredentials } from "../../src/integrations/credentials";
import { type Automation, DEFAULT_AUTOMATION } from "../../src/integrations/model";
import { JOBS_COLLECTION } from "../../src/jobs/model";
import type { MetricsFetcher } from "../../src/jobs/process";
import type { ProviderId } from "../../src/providers/types";
import { EVENTS_COLLECTION } from "../../src/scheduler/events";
import type { RawEnv } from "../../src/shared/config";
import type { LogFields, Logger } from "../../src/shared/logger";
import { DEFAULT_ENDPOINT_LIMITS } from "../../src/shared/rate-limit-config";
import type { TestFirestore } from "./firestore";
import { TEST_TOKEN_KEYS, TEST_TOKEN_KEYS_VALUE } from "./seed";

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

export interface TestAuth {
  auth: Auth;
  emulator: RunningAuthEmulator;
  close(): Promise<void>;
}

/**
 * Starts the Auth stand-in for the test Firestore's project and points firebase-admin at it.
 * firebase-admin reads FIREBASE_AUTH_EMULATOR_HOST on every verification (and when it first
 * builds its request URLs), so the variable stays set until `close()` restores it.
 */
export async function startTestAuth(firestore: TestFirestore): Promise<TestAuth> {
  const emulator = await startAuthEmulator({ projectId: firestore.projectId });
  const saved = process.env.FIREBASE_AUTH_EMULATOR_HOST;
  process.env.FIREBASE_AUTH_EMULATOR_HOST = emulator.host;
  return {
    auth: getAuth(firestore.app),
    emulator,
    close: async () => {
      if (saved === undefined) {
        delete process.env.FIREBASE_AUTH_EMULATOR_HOST;
      } else {
        process.env.FIREBASE_AUTH_EMULATOR_HOST = saved;
      }
      await emulator.stop();
    },
  };
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
export const twoRowFetcher: MetricsFetcher = (providerId, request) =>
  Promise.resolve({
    rows: request.accountIds.map((accountId) => ({
      provider: providerId,
      accountId,
      campaignId: "campaign-1",
      campaignName: "Spring launch",
      date: request.range.until,
      timeZone: "UTC",
      currency: "USD",
      impressions: 1200,
      clicks: 34,
      spendMicros: 12_340_000,
      conversions: 2,
      conversionValueMicros: 50_000_000,
    })),
    accounts: request.accountIds.map((accountId) => ({
      accountId,
      status: "ok" as const,
      rows: 1,
    })),
  });

export interface DepsOptions {
  db: Firestore;
  auth: Auth;
  now: Date;
  logger?: RecordingLogger;
  env?: RawEnv;
  fetchMetrics?: MetricsFetcher;
}

export const endpointDeps = (options: DepsOptions): EndpointDeps => ({
  db: options.db,
  auth: options.auth,
  clock: () => options.now,
  logger: options.logger ?? recordingLogger(),
  env: options.env ?? TEST_ENV,
  process: { fetchMetrics: options.fetchMetrics ?? twoRowFetcher },
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
