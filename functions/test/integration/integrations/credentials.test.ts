/**
 * Tokens at rest against the official Firestore emulator: what the stored document holds, who can open
 * it (only job processing, with the key id it names), rotation, ciphertexts tampered with or
 * moved to another document, and key configuration that is missing or wrong.
 */
import { randomBytes } from "node:crypto";

import { deleteApp, initializeApp } from "firebase-admin/app";

import { handleWorker } from "../../../src/http/worker";
import { openCredentials, writeCredentials } from "../../../src/integrations/credentials";
import { sealedKeyId } from "../../../src/integrations/crypto";
import {
  credentialsPath,
  integrationPath,
  integrationSchema,
} from "../../../src/integrations/model";
import { requireTokenKeys, type TokenKeyring } from "../../../src/integrations/token-keys";
import { DEFAULT_LEASE_MS } from "../../../src/jobs/lease";
import { type MetricsFetcher, runJob } from "../../../src/jobs/process";
import { enqueueJobs, jobRef, parseJob } from "../../../src/jobs/store";
import { requestedRange } from "../../../src/providers/ranges";
import type { Credentials } from "../../../src/providers/types";
import { EVENTS_COLLECTION } from "../../../src/scheduler/events";
import { ConfigError } from "../../../src/shared/config";
import {
  cronHeaders,
  endpointDeps,
  type LogEntry,
  recordingLogger,
  request,
  startTestAuth,
  TEST_ENV,
  type TestAuth,
} from "../../harness/auth";
import { type TestFirestore, testFirestore } from "../../harness/firestore";
import { seedIntegration, tokenKeysValue } from "../../harness/seed";

let firestore: TestFirestore;
let users = 0;

/** The `crash` lines of the crashed runs of one operation and source, on record. */
const crashEvents = async (operation: string, source: string): Promise<string[]> =>
  (
    await firestore.db
      .collection(EVENTS_COLLECTION)
      .where("operation", "==", operation)
      .where("source", "==", source)
      .get()
  ).docs
    .filter((doc) => doc.get("outcome") === "crashed")
    .map((doc) => String(doc.get("crash")));

beforeAll(() => {
  firestore = testFirestore("credentials");
});
afterAll(() => firestore.close());

/** Two keys, k1 and k2, as successive TOKEN_ENCRYPTION_KEYS values would hold them. */
const twoKeys = JSON.parse(tokenKeysValue("k1", "k2")) as { keys: Record<string, string> };
const keyValue = (current: string, ids: string[]) =>
  JSON.stringify({
    current,
    keys: Object.fromEntries(ids.map((id) => [id, twoKeys.keys[id]])),
  });
const keyring = (current: string, ids: string[]): TokenKeyring =>
  requireTokenKeys({ TOKEN_ENCRYPTION_KEYS: keyValue(current, ids) });
const beforeRotation = keyring("k1", ["k1"]);
const duringRotation = keyring("k2", ["k1", "k2"]);
const afterRotation = keyring("k2", ["k2"]);

/** Each user's tokens: random, so that no piece of them can appear anywhere by chance. */
const issued = new Map<string, Required<Credentials>>();
const tokensOf = (userId: string): Required<Credentials> => {
  const tokens = issued.get(userId) ?? {
    accessToken: `ya29.${randomBytes(24).toString("base64url")}`,
    refreshToken: `1//${randomBytes(24).toString("base64url")}`,
    expiresAt: Date.UTC(2100, 0, 1),
  };
  issued.set(userId, tokens);
  return tokens;
};

async function seeded(keys: TokenKeyring = beforeRotation) {
  const userId = `tokens-user-${(users += 1)}`;
  await seedIntegration(firestore.db, { userId, providerId: "google" });
  await writeCredentials(firestore.db, keys, userId, "google", tokensOf(userId));
  return userId;
}

const rawCredentials = async (userId: string) =>
  (await firestore.db.doc(credentialsPath(userId, "google")).get()).data() ?? {};

/** Every 8-character piece of a token: none may appear in what was stored, logged or answered. */
const piecesOf = (token: string) =>
  Array.from({ length: token.length - 7 }, (_, at) => token.slice(at, at + 8));

/** A platform stand-in that records the credentials job processing hands it. */
function platform(refreshed?: Credentials) {
  const received: Credentials[] = [];
  const fetchMetrics: MetricsFetcher = (_providerId, request) => {
    received.push(request.credentials);
    return Promise.resolve({
      accounts: request.accountIds.map((accountId) => ({
        accountId,
        status: "ok" as const,
        rows: 0,
        range: requestedRange(request, "UTC"),
        timeZone: "UTC",
      })),
      ...(refreshed ? { refreshedCredentials: refreshed } : {}),
      requests: request.accountIds.length,
    });
  };
  return { received, fetchMetrics };
}

async function queueJob(userId: string): Promise<string> {
  const [queued] = await enqueueJobs({ db: firestore.db, clock: () => new Date() }, [
    { userId, providerId: "google", type: "manual-sync", timeframeDays: 1, source: "test" },
  ]);
  if (queued?.status !== "queued") {
    throw new Error("expected a queued job");
  }
  return queued.jobId;
}

const readJob = async (jobId: string) =>
  parseJob(jobId, (await jobRef(firestore.db, jobId).get()).data()).job;

async function runOneJob(
  userId: string,
  keys: TokenKeyring,
  fetchMetrics: MetricsFetcher,
  entries: LogEntry[] = [],
) {
  const deps = {
    db: firestore.db,
    clock: () => new Date(),
    fetchMetrics,
    logger: recordingLogger(entries),
    owner: "credentials-test",
    leaseMs: DEFAULT_LEASE_MS,
    tokenKeys: keys,
  };
  const jobId = await queueJob(userId);
  const { outcome } = await runJob(deps, jobId);
  const job = await readJob(jobId);
  const integration = integrationSchema.parse(
    (await firestore.db.doc(integrationPath(userId, "google")).get()).data(),
  );
  return { outcome, job, integration };
}

describe("stored credentials", () => {
  it("are ciphertext: the raw document holds no piece of either token", async () => {
    const userId = await seeded();
    const raw = await rawCredentials(userId);
    expect(raw.accessToken).toMatch(/^v1\.k1\./);
    expect(raw.refreshToken).toMatch(/^v1\.k1\./);
    expect(raw.expiresAt).toEqual(
      expect.objectContaining({ seconds: Date.UTC(2100, 0, 1) / 1000 }),
    );
    const stored = JSON.stringify(raw);
    const { accessToken, refreshToken } = tokensOf(userId);
    for (const piece of [...piecesOf(accessToken), ...piecesOf(refreshToken)]) {
      expect(stored).not.toContain(piece);
    }
  });

  it("open with the key id they name, for their own document only", async () => {
    const userId = await seeded();
    const raw = await rawCredentials(userId);
    expect(openCredentials(duringRotation, userId, "google", raw)).toEqual(tokensOf(userId));
    expect(() => openCredentials(afterRotation, userId, "google", raw)).toThrow(
      'credentials are sealed with key id "k1", which TOKEN_ENCRYPTION_KEYS no longer holds',
    );
    expect(() => openCredentials(beforeRotation, "someone-else", "google", raw)).toThrow(
      "credentials unreadable: the user must reconnect",
    );
  });
});

describe("job processing", () => {
  it("hands the platform the decrypted tokens", async () => {
    const userId = await seeded();
    const { received, fetchMetrics } = platform();
    const { outcome } = await runOneJob(userId, beforeRotation, fetchMetrics);
    expect(outcome).toBe("succeeded");
    expect(received).toEqual([tokensOf(userId)]);
  });

  it("after a rotation still reads old tokens, and seals refreshed ones with the new key", async () => {
    const userId = await seeded(beforeRotation);
    const refreshed = { ...tokensOf(`${userId}-refreshed`), expiresAt: Date.UTC(2100, 0, 2) };
    const { received, fetchMetrics } = platform(refreshed);
    const { outcome } = await runOneJob(userId, duringRotation, fetchMetrics);
    expect(outcome).toBe("succeeded");
    expect(received).toEqual([tokensOf(userId)]);
    const raw = await rawCredentials(userId);
    expect([sealedKeyId(String(raw.accessToken)), sealedKeyId(String(raw.refreshToken))]).toEqual([
      "k2",
      "k2",
    ]);
    // Once rewritten, the old key is no longer needed for this integration.
    expect(openCredentials(afterRotation, userId, "google", raw)).toEqual(refreshed);
  });

  /** A platform that refreshes the token, after `meanwhile` happened during the fetch. */
  const refreshingAfter =
    (userId: string, meanwhile: () => Promise<void>): MetricsFetcher =>
    async (providerId, request) => {
      await meanwhile();
      return platform(tokensOf(`${userId}-refreshed`)).fetchMetrics(providerId, request);
    };

  it("a worker that lost its lease does not store the tokens it refreshed", async () => {
    const userId = await seeded();
    const takeOver = async () => {
      const running = await firestore.db
        .collection("syncJobs")
        .where("userId", "==", userId)
        .where("status", "==", "running")
        .get();
      await Promise.all(running.docs.map((doc) => doc.ref.update({ leaseOwner: "new-owner" })));
    };
    const entries: LogEntry[] = [];
    const { outcome } = await runOneJob(
      userId,
      beforeRotation,
      refreshingAfter(userId, takeOver),
      entries,
    );
    expect(outcome).toBe("lease_lost");
    const raw = await rawCredentials(userId);
    expect(openCredentials(beforeRotation, userId, "google", raw)).toEqual(tokensOf(userId));
    expect(entries).toContainEqual(
      expect.objectContaining({
        message: "refreshed credentials not stored",
        fields: expect.objectContaining({ why: "lease_lost" }) as unknown,
      }),
    );
  });

  it("tokens stored by a reconnect during the fetch are not overwritten by older ones", async () => {
    const userId = await seeded();
    const reconnected = tokensOf(`${userId}-reconnected`);
    const reconnect = () =>
      writeCredentials(firestore.db, beforeRotation, userId, "google", reconnected);
    const { outcome } = await runOneJob(userId, beforeRotation, refreshingAfter(userId, reconnect));
    expect(outcome).toBe("succeeded");
    const raw = await rawCredentials(userId);
    expect(openCredentials(beforeRotation, userId, "google", raw)).toEqual(reconnected);
  });

  const unreadableCases: Array<[string, (userId: string) => Promise<void>]> = [
    [
      "a ciphertext moved from another user's document",
      async (userId) => {
        const victim = await seeded();
        await firestore.db.doc(credentialsPath(userId, "google")).set(await rawCredentials(victim));
      },
    ],
    [
      "a tampered ciphertext",
      async (userId) => {
        const raw = await rawCredentials(userId);
        const sealed = String(raw.accessToken);
        // A character inside the body: all six of its bits are ciphertext (the last may be padding).
        const at = sealed.lastIndexOf(".") + 5;
        const flipped = `${sealed.slice(0, at)}${sealed[at] === "A" ? "B" : "A"}${sealed.slice(at + 1)}`;
        await firestore.db.doc(credentialsPath(userId, "google")).update({ accessToken: flipped });
      },
    ],
    [
      "the two tokens swapped",
      async (userId) => {
        const raw = await rawCredentials(userId);
        await firestore.db.doc(credentialsPath(userId, "google")).update({
          accessToken: raw.refreshToken as unknown,
          refreshToken: raw.accessToken as unknown,
        });
      },
    ],
  ];

  it.each(unreadableCases)(
    "fails cleanly on %s: auth, the user must reconnect, nothing secret logged",
    async (_what, damage) => {
      const userId = await seeded();
      await damage(userId);
      const stored = JSON.stringify(await rawCredentials(userId));
      const entries: LogEntry[] = [];
      const { received, fetchMetrics } = platform();
      const { outcome, job, integration } = await runOneJob(
        userId,
        beforeRotation,
        fetchMetrics,
        entries,
      );
      expect(outcome).toBe("failed");
      expect(received).toEqual([]);
      expect(job.lastError).toMatchObject({
        code: "auth",
        reason: "credentials_unreadable",
        message: "credentials unreadable: the user must reconnect",
      });
      expect(integration.status).toBe("needs_reauth");
      const visible = JSON.stringify({ entries, job, integration });
      const sealedParts = stored.match(/v1\.k1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/g) ?? [];
      expect(sealedParts).not.toHaveLength(0);
      for (const secret of [
        ...sealedParts.flatMap((sealed) => sealed.split(".").slice(2)),
        ...Object.values(twoKeys.keys),
        ...piecesOf(tokensOf(userId).accessToken),
      ]) {
        expect(visible).not.toContain(secret);
      }
    },
  );

  const operatorCases: Array<[string, TokenKeyring, (userId: string) => Promise<void>, string]> = [
    ["a key removed too early", afterRotation, () => Promise.resolve(), "credentials_key_unknown"],
    [
      "tokens stored unencrypted",
      beforeRotation,
      async (userId) => {
        await firestore.db
          .doc(credentialsPath(userId, "google"))
          .set({ accessToken: tokensOf(userId).accessToken, refreshToken: null, expiresAt: null });
      },
      "credentials_not_sealed",
    ],
  ];

  it.each(operatorCases)(
    "fails permanently on %s, an operator's problem: the integration stays active",
    async (_what, keys, damage, reason) => {
      const userId = await seeded(beforeRotation);
      await damage(userId);
      const { outcome, job, integration } = await runOneJob(userId, keys, platform().fetchMetrics);
      expect(outcome).toBe("failed");
      expect(job.lastError).toMatchObject({ code: "permanent", reason });
      expect(integration.status).toBe("active");
    },
  );
});

describe("key configuration", () => {
  let testAuth: TestAuth;

  beforeAll(async () => {
    testAuth = await startTestAuth(firestore);
  });
  afterAll(() => testAuth.close());

  it.each([
    ["missing", undefined, "TOKEN_ENCRYPTION_KEYS"],
    ["malformed", '{"current":"k9","keys":{}}', "TOKEN_ENCRYPTION_KEYS"],
  ])(
    "%s: the worker answers 500 naming the variable and leaves the job queued",
    async (_what, value, variable) => {
      const userId = await seeded(keyring("k1", ["k1"]));
      const jobId = await queueJob(userId);
      const response = await handleWorker(
        request("POST", { headers: cronHeaders(), body: { maxJobs: 100 } }),
        endpointDeps({
          db: firestore.db,
          auth: testAuth.auth,
          now: new Date(),
          env: { ...TEST_ENV, TOKEN_ENCRYPTION_KEYS: value },
        }),
      );
      expect(response.status).toBe(500);
      expect(response.body).toEqual({
        error: {
          code: "misconfigured",
          message: `Server configuration is invalid: ${variable}`,
        },
      });
      expect(await readJob(jobId)).toMatchObject({ status: "queued", attempts: 0 });
      // The run is on record where operators look, not only in health.
      expect(await crashEvents("process_queued_jobs", "worker-endpoint")).toContainEqual(
        expect.stringContaining(`Invalid configuration: ${variable}`),
      );
    },
  );

  it("the scheduled functions and the job trigger read it from their bound secret", async () => {
    // The trigger wiring builds its dependencies from the default app and process.env.
    const app = initializeApp({ projectId: firestore.projectId });
    const saved = process.env.TOKEN_ENCRYPTION_KEYS;
    try {
      const { processDeps } = await import("../../../src/triggers/deps");
      const run = { operation: "process_job", source: "trigger" } as const;
      process.env.TOKEN_ENCRYPTION_KEYS = keyValue("k2", ["k1", "k2"]);
      const built = await processDeps({}, run);
      expect(built.tokenKeys.current.id).toBe("k2");
      // Its jobs' platform requests stop a minute before the 540 s timeout.
      const left = built.deadline!.getTime() - Date.now();
      expect(left).toBeGreaterThan(470_000);
      expect(left).toBeLessThanOrEqual(480_000);
      expect(await crashEvents("process_job", "trigger")).toEqual([]);
      process.env.TOKEN_ENCRYPTION_KEYS = '{"current":"k1","keys":{"k1":"c2hvcnQ="}}';
      await expect(processDeps({}, run)).rejects.toThrow(ConfigError);
      await expect(processDeps({}, run)).rejects.toThrow(
        /TOKEN_ENCRYPTION_KEYS .*keys\.k1 must be 32 random/,
      );
      delete process.env.TOKEN_ENCRYPTION_KEYS;
      await expect(processDeps({}, run)).rejects.toThrow(
        "TOKEN_ENCRYPTION_KEYS is required but not set",
      );
      // Each failed run recorded its crash event, naming the variable, never its value.
      const crashes = await crashEvents("process_job", "trigger");
      expect(crashes).toHaveLength(3);
      expect(crashes.filter((crash) => crash.includes("must be 32 random"))).toHaveLength(2);
      expect(crashes).toContainEqual(
        expect.stringContaining("TOKEN_ENCRYPTION_KEYS is required but not set"),
      );
      expect(crashes.join(" ")).not.toContain("c2hvcnQ=");
    } finally {
      process.env.TOKEN_ENCRYPTION_KEYS = saved;
      await deleteApp(app);
    }
  });
});
