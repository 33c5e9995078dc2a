/**
 * What the end-to-end tests share: the built functions (`lib/`) loaded as a fresh function
 * instance, the parameters and secrets split the way Firebase delivers them, firebase-admin
 * clients pointed at an emulator other than the shared one, Auth emulator sign-ins, and polling.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";

import type * as AdminAppModule from "firebase-admin/app";
import { type App, deleteApp, initializeApp } from "firebase-admin/app";
import { type Firestore, getFirestore } from "firebase-admin/firestore";

import type { SandboxAccount, SandboxWorld } from "../../dev/sandbox/world";
import type * as FunctionsIndex from "../../src/index";
import { integrationPath, integrationSchema } from "../../src/integrations/model";
import type { Job } from "../../src/jobs/model";
import { jobRef, parseJob } from "../../src/jobs/store";
import { windowDays } from "../../src/jobs/window";
import { splitConfiguration } from "../../src/params";
import type { RawEnv } from "../../src/shared/config";
import { expectedTotals } from "../harness/stack";

export const LIB_DIR = join(__dirname, "..", "..", "lib");
export const LIB_INDEX = join(LIB_DIR, "index.js");

/** The exports of the built module, typed from the source it is built from. */
export type BuiltFunctions = typeof FunctionsIndex;
type AdminApp = typeof AdminAppModule;

/** The manifest entry firebase-functions attaches to every function (`__endpoint`). */
export interface Endpoint {
  secretEnvironmentVariables?: Array<{ key: string }> | null;
  scheduleTrigger?: unknown;
  httpsTrigger?: unknown;
  eventTrigger?: unknown;
}

export function assertLibBuilt(): void {
  if (!existsSync(LIB_INDEX)) {
    throw new Error(
      `${LIB_INDEX} is missing: the end-to-end tests run the built functions, as deployed. ` +
        "Run `npm run build` first (`npm run build && npm run test:jest -- test/e2e`).",
    );
  }
}

export interface LogLine {
  severity: string;
  message: string;
  [field: string]: unknown;
}

export interface FunctionInstance {
  functions: BuiltFunctions;
  /** firebase-admin/app exactly as `lib/` resolves it, in this instance's module registry. */
  admin: AdminApp;
  /** What the instance logged (firebase-functions' structured lines, parsed). */
  logs: LogLine[];
  /** Deletes the apps the instance created (closes their gRPC channels). */
  close(): Promise<void>;
}

const CONSOLE_METHODS = ["debug", "info", "log", "warn", "error"] as const;

function parseLogLine(args: unknown[]): LogLine {
  const text = args.map(String).join(" ");
  try {
    const parsed = JSON.parse(text) as LogLine;
    if (typeof parsed === "object" && parsed !== null && typeof parsed.message === "string") {
      return parsed;
    }
  } catch {
    // not a structured line
  }
  return { severity: "UNSTRUCTURED", message: text };
}

/**
 * Loads `lib/index.js` in a module registry of its own, as a cold start of a function instance:
 * its firebase-admin and firebase-functions are fresh copies, so no app exists until the
 * runtime path creates one. The instance's console output is collected instead of printed
 * (firebase-functions' logger keeps the console methods it found when it was loaded).
 */
export function coldStart(): FunctionInstance {
  assertLibBuilt();
  const logs: LogLine[] = [];
  // Put back exactly as they were (unbound, as the console object holds them).
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const saved = CONSOLE_METHODS.map((method) => [method, console[method]] as const);
  for (const method of CONSOLE_METHODS) {
    console[method] = (...args: unknown[]) => {
      logs.push(parseLogLine(args));
    };
  }
  const box: { loaded?: { functions: BuiltFunctions; admin: AdminApp } } = {};
  try {
    jest.isolateModules(() => {
      // Resolved from lib/, as the built module resolves it.
      const adminPath = require.resolve("firebase-admin/app", { paths: [LIB_DIR] });
      /* eslint-disable @typescript-eslint/no-require-imports */
      box.loaded = {
        functions: require(LIB_INDEX) as BuiltFunctions,
        admin: require(adminPath) as AdminApp,
      };
      /* eslint-enable @typescript-eslint/no-require-imports */
    });
  } finally {
    for (const [method, original] of saved) {
      console[method] = original;
    }
  }
  if (!box.loaded) {
    throw new Error("lib/index.js did not load");
  }
  const { functions, admin } = box.loaded;
  return {
    functions,
    admin,
    logs,
    close: async () => {
      await Promise.all(admin.getApps().map((app) => admin.deleteApp(app)));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Parameters and secrets

/** The run folder's `.env` and `.secret.local` for these values (`splitConfiguration`). */
export function paramsAndSecrets(values: RawEnv): {
  params: Record<string, string>;
  secrets: Record<string, string>;
} {
  const { variables, secrets } = splitConfiguration(values);
  return { params: variables, secrets };
}

/**
 * The environment a deployed function sees: every variable given a value (the optional ones
 * default where they are parsed) and only the secrets the function binds (`secrets: [...]`, in
 * its manifest entry).
 */
export function deployedEnv(endpoint: Endpoint, values: RawEnv): Record<string, string> {
  const { variables, secrets } = splitConfiguration(values);
  const bound = new Set((endpoint.secretEnvironmentVariables ?? []).map((entry) => entry.key));
  return {
    ...variables,
    ...Object.fromEntries(Object.entries(secrets).filter(([name]) => bound.has(name))),
  };
}

/**
 * Sets variables (undefined deletes) and returns a function that puts the previous values back.
 */
export function setEnv(values: Record<string, string | undefined>): () => void {
  const previous = Object.fromEntries(
    Object.keys(values).map((name) => [name, process.env[name]] as const),
  );
  const apply = (next: Record<string, string | undefined>) => {
    for (const [name, value] of Object.entries(next)) {
      if (value === undefined) {
        delete process.env[name];
      } else {
        process.env[name] = value;
      }
    }
  };
  apply(values);
  return () => apply(previous);
}

// ---------------------------------------------------------------------------------------------
// Emulators

export interface EmulatorDb {
  app: App;
  db: Firestore;
  close(): Promise<void>;
}

/**
 * A firebase-admin Firestore for `projectId` on the emulator at `host`. The Firestore client
 * lets FIRESTORE_EMULATOR_HOST override any host setting (jest's points at the shared test
 * emulator), and reads it only when the client is constructed: it is swapped around that.
 */
export function dbAt(
  host: string,
  projectId: string,
  appName = `${projectId}@${host}`,
): EmulatorDb {
  const app = initializeApp({ projectId }, appName);
  const restore = setEnv({ FIRESTORE_EMULATOR_HOST: host });
  let db: Firestore;
  try {
    db = getFirestore(app);
  } finally {
    restore();
  }
  return { app, db, close: () => deleteApp(app) };
}

export interface EmulatorUser {
  uid: string;
  email: string;
  password: string;
  emailVerified?: boolean;
}

async function identityToolkit(url: string, body: unknown, admin: boolean): Promise<unknown> {
  const response = await fetch(url, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      ...(admin ? { Authorization: "Bearer owner" } : {}),
    },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) {
    throw new Error(`Auth emulator ${url} answered ${response.status}: ${text}`);
  }
  return JSON.parse(text) as unknown;
}

/**
 * Creates the user in the Auth emulator at `host` (its admin API, for `projectId`) and signs in
 * with the password through the client API, which serves the emulator's default project (the
 * suite's `--project`): the ID token a browser would get.
 */
export async function signInEmulatorUser(
  host: string,
  projectId: string,
  user: EmulatorUser,
): Promise<string> {
  const base = `http://${host}/identitytoolkit.googleapis.com/v1`;
  await identityToolkit(
    `${base}/projects/${projectId}/accounts`,
    {
      localId: user.uid,
      email: user.email,
      password: user.password,
      emailVerified: user.emailVerified ?? true,
    },
    true,
  );
  const signedIn = (await identityToolkit(
    `${base}/accounts:signInWithPassword?key=fake-api-key`,
    { email: user.email, password: user.password, returnSecureToken: true },
    false,
  )) as { idToken?: unknown };
  if (typeof signedIn.idToken !== "string") {
    throw new Error("The Auth emulator returned no idToken");
  }
  return signedIn.idToken;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls `probe` until it returns something other than undefined; throws after `timeoutMs` with
 * `describe()` (what was seen last) in the message.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  {
    timeoutMs = 45_000,
    intervalMs = 250,
    describe = () => "",
  }: { timeoutMs?: number; intervalMs?: number; describe?: () => string } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) {
      return value;
    }
    if (Date.now() > deadline) {
      const detail = describe();
      throw new Error(
        `Timed out after ${timeoutMs} ms waiting for ${what}${detail ? `\n${detail}` : ""}`,
      );
    }
    await sleep(intervalMs);
  }
}

// ---------------------------------------------------------------------------------------------
// Outcomes

export interface SyncedJob {
  job: Job;
  /** What the sandbox generated for the days each account should have been pulled for. */
  expected: ReturnType<typeof expectedTotals>;
}

/**
 * The job succeeded, pulled for each account the window `jobs/window.ts` gives it — ending on
 * the account's current day as the sandbox's own clock and zone rules say (LinkedIn: UTC) — and
 * fetched every row the sandbox generated for those days.
 */
export async function expectJobSynced(
  db: Firestore,
  world: SandboxWorld,
  jobId: string,
): Promise<SyncedJob> {
  const { job } = parseJob(jobId, (await jobRef(db, jobId).get()).data());
  expect({ status: job.status, lastError: job.lastError }).toEqual({
    status: "succeeded",
    // An earlier attempt's error stays on the job (the store keeps the last one).
    lastError: job.attempts > 1 ? (expect.anything() as unknown) : null,
  });
  if (!job.result) {
    throw new Error(`Job ${jobId} succeeded without a result`);
  }
  const integration = integrationSchema.parse(
    (await db.doc(integrationPath(job.userId, job.providerId)).get()).data(),
  );
  const days = windowDays(job, job.providerId, integration.automation);
  const windowOf = (account: SandboxAccount) => {
    const until = world.today(account);
    const since = new Date(Date.parse(`${until}T00:00:00Z`) - days * 86_400_000)
      .toISOString()
      .slice(0, 10);
    return { since, until };
  };
  const accounts = world.accounts.filter((account) => account.provider === job.providerId);
  expect(
    job.result.accounts.map(({ accountId, status, since, until }) => ({
      accountId,
      status,
      since,
      until,
    })),
  ).toEqual(
    accounts.map((account) => ({ accountId: account.id, status: "ok", ...windowOf(account) })),
  );
  const expected = expectedTotals(world, job.providerId, windowOf);
  expect(expected.rows).toBeGreaterThan(0);
  expect(job.result.rowsFetched).toBe(expected.rows);
  return { job, expected };
}

/**
 * The functions' structured log entries about one job, oldest first: the Functions emulator
 * prints each entry a function logs as one `>  {json}` line (firebase-functions' logger), and a
 * thrown error as `Unhandled error <name>: <message>`.
 */
export function jobLogs(output: string, jobId: string): Array<Record<string, unknown>> {
  return output
    .split("\n")
    .filter((line) => line.includes(jobId))
    .flatMap((line) => {
      const json = line.slice(line.indexOf("{"));
      try {
        return [JSON.parse(json) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
}
