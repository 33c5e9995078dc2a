/**
 * Accounts and credentials over their whole life, at the domain level: the official Firestore
 * emulator, the sandbox platforms over real HTTP in their formats (discovery endpoints, token
 * inspection, hierarchies), the real job runner, a webhook receiver, and a clock the tests move
 * (the sandbox's days and tokens follow it).
 */
import type { SandboxAccount } from "../../../dev/sandbox/world";
import { type RunningWebhookReceiver, startWebhookReceiver } from "../../../dev/webhook-receiver";
import { writeCredentials } from "../../../src/integrations/credentials";
import { discoverIntegration, type DiscoveryDeps } from "../../../src/integrations/discovery";
import { EXPIRY_WARNING_MS } from "../../../src/integrations/health";
import { integrationPath, integrationSchema } from "../../../src/integrations/model";
import { DEFAULT_LEASE_MS } from "../../../src/jobs/lease";
import { type ProcessDeps, runJob } from "../../../src/jobs/process";
import { cadenceSlot } from "../../../src/jobs/schedule";
import { enqueueJobs, jobRef, parseJob } from "../../../src/jobs/store";
import type { ProviderId } from "../../../src/providers/types";
import { recordingLogger } from "../../harness/auth";
import { type TestFirestore, testFirestore } from "../../harness/firestore";
import { sandboxAccount } from "../../harness/sandbox";
import { manualClock, TEST_TOKEN_KEYS } from "../../harness/seed";
import { startTestStack, type TestStack } from "../../harness/stack";

const DAY_MS = 86_400_000;
const START = "2026-11-20T03:00:00Z";
const time = manualClock(START);

// Google: a manager, its sub-manager, and clients below both — one disabled, one added later.
const MANAGER: SandboxAccount = {
  ...sandboxAccount("google", "9000000001", 0, "UTC", "USD", "Agency"),
  manager: true,
};
const SUB: SandboxAccount = {
  ...sandboxAccount("google", "9000000002", 0, "UTC", "USD", "Agency EU"),
  manager: true,
  parents: ["9000000001"],
};
const CLIENT_A: SandboxAccount = {
  ...sandboxAccount("google", "5200000001", 2, "Europe/Berlin", "EUR", "Shop DE"),
  parents: ["9000000001", "9000000002"],
};
const CLIENT_B: SandboxAccount = {
  ...sandboxAccount("google", "5200000002", 2, "UTC", "USD", "Shop US"),
  parents: ["9000000001"],
};
const DISABLED: SandboxAccount = {
  ...sandboxAccount("google", "5200000003", 2, "UTC", "USD", "Old shop"),
  parents: ["9000000001"],
  disabled: true,
};
const LATER: SandboxAccount = {
  ...sandboxAccount("google", "5200000004", 2, "UTC", "USD", "New shop"),
  parents: ["9000000001", "9000000002"],
  hidden: true,
};
const META: SandboxAccount = sandboxAccount(
  "meta",
  "520000000000001",
  2,
  "UTC",
  "USD",
  "Meta shop",
);
const LINKEDIN: SandboxAccount = sandboxAccount(
  "linkedin",
  "520000001",
  2,
  "UTC",
  "USD",
  "In shop",
);

let firestore: TestFirestore;
let stack: TestStack;
let receiver: RunningWebhookReceiver;
let users = 0;

beforeAll(async () => {
  firestore = testFirestore("discovery");
  receiver = await startWebhookReceiver();
  stack = await startTestStack(
    [MANAGER, SUB, CLIENT_A, CLIENT_B, DISABLED, LATER, META, LINKEDIN],
    () => time.clock().getTime(),
  );
});
afterAll(async () => {
  await stack.stop();
  await receiver.stop();
  await firestore.close();
});
beforeEach(() => {
  time.set(START);
  receiver.messages.length = 0;
});

const discovery = (): Omit<DiscoveryDeps, "db" | "clock" | "logger" | "tokenKeys"> => ({
  discover: stack.discover,
  env: { SCHEDULER_ALERT_WEBHOOK_URL: receiver.url },
});

const processDeps = (): ProcessDeps => ({
  db: firestore.db,
  clock: time.clock,
  fetchMetrics: stack.newRuntime(),
  logger: recordingLogger(),
  owner: "worker",
  leaseMs: DEFAULT_LEASE_MS,
  tokenKeys: TEST_TOKEN_KEYS,
  discovery: discovery(),
});

const discoveryDeps = (): DiscoveryDeps => ({
  db: firestore.db,
  clock: time.clock,
  logger: recordingLogger(),
  tokenKeys: TEST_TOKEN_KEYS,
  ...discovery(),
});

/** A new integration of `providerId` with no fixed accounts: discovery decides. */
async function connect(
  providerId: ProviderId,
  selection: "all" | "selected",
  tokens: { lifetimeMs?: number; refreshable?: boolean } = {},
): Promise<string> {
  const userId = `discovery-user-${(users += 1)}`;
  await firestore.db.doc(integrationPath(userId, providerId)).set({
    status: "active",
    accountIds: [],
    accountSelection: selection,
    automation: { autoSync: true, cadenceHours: 24, lookbackDays: null },
  });
  const issued =
    providerId === "google"
      ? stack.world.issueTokens(providerId, { refreshable: true, lifetimeMs: 3650 * DAY_MS })
      : stack.world.issueTokens(providerId, tokens);
  await writeCredentials(firestore.db, TEST_TOKEN_KEYS, userId, providerId, issued);
  return userId;
}

const integration = async (userId: string, providerId: ProviderId) =>
  integrationSchema.parse(
    (await firestore.db.doc(integrationPath(userId, providerId)).get()).data(),
  );

/** A daily scheduled sync of the integration, run to its end. */
async function nightlySync(userId: string, providerId: ProviderId) {
  const [queued] = await enqueueJobs({ db: firestore.db, clock: time.clock }, [
    {
      userId,
      providerId,
      type: "scheduled-sync",
      timeframeDays: 1,
      source: "test",
      slot: cadenceSlot(time.clock(), 24),
    },
  ]);
  if (queued?.status !== "queued") {
    throw new Error(`not queued: ${JSON.stringify(queued)}`);
  }
  const run = await runJob(processDeps(), queued.jobId);
  const { job } = parseJob(queued.jobId, (await jobRef(firestore.db, queued.jobId).get()).data());
  return { run, job };
}

describe("discovery", () => {
  it("records a manager hierarchy's clients with their paths, managers left out, a disabled one inactive", async () => {
    const userId = await connect("google", "all");
    const outcome = await discoverIntegration(discoveryDeps(), { userId, providerId: "google" });
    expect(outcome.status).toBe("discovered");

    const stored = await integration(userId, "google");
    expect(Object.keys(stored.accounts).sort()).toEqual(["5200000001", "5200000002", "5200000003"]);
    expect(stored.accounts["5200000001"]).toMatchObject({
      name: "Shop DE",
      currency: "EUR",
      timeZone: "Europe/Berlin",
      status: "active",
      hierarchy: ["9000000001", "9000000002"],
    });
    expect(stored.accounts["5200000003"]).toMatchObject({ status: "inactive" });
    expect(stored.discoveredAt?.toDate()).toEqual(time.clock());
  });

  it("syncs every account of an all-accounts integration through its own manager, an added one from the next day on", async () => {
    const userId = await connect("google", "all");
    // The first nightly sync discovers (none yet), then fetches each client with the
    // login-customer-id its hierarchy names: the sandbox refuses any other.
    const first = await nightlySync(userId, "google");
    expect(first.job.status).toBe("succeeded");
    expect(
      first.job.result?.accounts.map((account) => [account.accountId, account.status]),
    ).toEqual([
      ["5200000001", "ok"],
      ["5200000002", "ok"],
    ]);

    stack.world.reveal(LATER);
    try {
      // The next night's sync discovers again: the new account is synced with the others.
      time.advance(DAY_MS);
      const nextDay = await nightlySync(userId, "google");
      expect(nextDay.job.status).toBe("succeeded");
      expect(nextDay.job.result?.accounts.map((account) => account.accountId)).toEqual([
        "5200000001",
        "5200000002",
        "5200000004",
      ]);
      expect((await integration(userId, "google")).accounts["5200000004"]).toMatchObject({
        status: "active",
        selected: false,
        hierarchy: ["9000000001", "9000000002"],
      });
    } finally {
      const at = stack.world.accounts.findIndex((account) => account.id === LATER.id);
      stack.world.accounts[at] = LATER;
    }
  });

  it("marks an account that lost access, keeps it, and syncs the others", async () => {
    const userId = await connect("google", "all");
    await nightlySync(userId, "google");
    const at = stack.world.accounts.findIndex((account) => account.id === CLIENT_B.id);
    stack.world.accounts[at] = { ...CLIENT_B, hidden: true };
    try {
      time.advance(DAY_MS);
      const next = await nightlySync(userId, "google");
      expect(next.job.status).toBe("succeeded");
      expect(next.job.result?.accounts.map((account) => account.accountId)).toEqual(["5200000001"]);
      const stored = await integration(userId, "google");
      expect(stored.accounts["5200000002"]).toMatchObject({
        status: "lost_access",
        name: "Shop US",
      });
      expect(stored.accounts["5200000002"]?.lostAccessAt?.toDate()).toEqual(time.clock());
    } finally {
      stack.world.accounts[at] = CLIENT_B;
    }
  });

  it("syncs only the chosen accounts of a selected-accounts integration", async () => {
    const userId = await connect("google", "selected");
    await discoverIntegration(discoveryDeps(), { userId, providerId: "google" });
    // Nothing chosen yet: nothing synced.
    expect((await nightlySync(userId, "google")).job.result?.accounts).toEqual([]);
  });
});

describe("credential health", () => {
  it("warns once before a Meta connection expires, then stops it with no report request", async () => {
    const userId = await connect("meta", "all", { lifetimeMs: 60 * DAY_MS });
    await discoverIntegration(discoveryDeps(), { userId, providerId: "meta" });
    expect((await integration(userId, "meta")).credentialHealth?.state).toBe("ok");
    expect(receiver.messages).toEqual([]);

    // Inside the last two weeks: expiring, one alert, however many discoveries.
    time.advance(60 * DAY_MS - EXPIRY_WARNING_MS + DAY_MS);
    await discoverIntegration(discoveryDeps(), { userId, providerId: "meta" });
    const expiring = (await integration(userId, "meta")).credentialHealth!;
    expect(expiring.state).toBe("expiring");
    expect(expiring.reconnectBy?.toMillis()).toBe(Date.parse(START) + 60 * DAY_MS);
    expect(receiver.messages).toHaveLength(1);
    expect(receiver.messages[0]?.text).toContain("meta connection");
    time.advance(DAY_MS);
    await discoverIntegration(discoveryDeps(), { userId, providerId: "meta" });
    expect(receiver.messages).toHaveLength(1);

    // Past the end: the job fails at once, needs_reauth, and asks the platform nothing.
    time.advance(EXPIRY_WARNING_MS);
    const before = stack.world.requestLog.filter((entry) => entry.provider === "meta").length;
    const { job } = await nightlySync(userId, "meta");
    expect(job.status).toBe("failed");
    expect(job.lastError).toMatchObject({ code: "auth", reason: "connection_expired" });
    expect(stack.world.requestLog.filter((entry) => entry.provider === "meta")).toHaveLength(
      before,
    );
    expect((await integration(userId, "meta")).status).toBe("needs_reauth");

    // The user reconnects: new credentials, the integration active again. They are not held
    // back by the old health: the next night discovers, judges them ok, and syncs.
    const fresh = stack.world.issueTokens("meta", { lifetimeMs: 60 * DAY_MS });
    await writeCredentials(firestore.db, TEST_TOKEN_KEYS, userId, "meta", fresh);
    await firestore.db.doc(integrationPath(userId, "meta")).update({ status: "active" });
    time.advance(DAY_MS);
    const after = await nightlySync(userId, "meta");
    expect(after.job.status).toBe("succeeded");
    expect((await integration(userId, "meta")).credentialHealth?.state).toBe("ok");
  });

  it("knows a LinkedIn connection ends 365 days after consent, whatever the refreshes", async () => {
    const userId = await connect("linkedin", "all", { lifetimeMs: 60 * DAY_MS, refreshable: true });
    // Day 355: the access token long expired and is refreshed on the way; the refresh token
    // still ends on day 365.
    time.advance(355 * DAY_MS);
    const outcome = await discoverIntegration(discoveryDeps(), { userId, providerId: "linkedin" });
    expect(outcome.status).toBe("discovered");
    const health = (await integration(userId, "linkedin")).credentialHealth!;
    expect(health.state).toBe("expiring");
    expect(health.reconnectBy?.toMillis()).toBe(Date.parse(START) + 365 * DAY_MS);
    expect(receiver.messages).toHaveLength(1);

    time.advance(11 * DAY_MS);
    const before = stack.world.requestLog.filter((entry) => entry.provider === "linkedin").length;
    const { job } = await nightlySync(userId, "linkedin");
    expect(job.lastError).toMatchObject({ code: "auth", reason: "connection_expired" });
    expect(stack.world.requestLog.filter((entry) => entry.provider === "linkedin")).toHaveLength(
      before,
    );
  });

  it("moves a connection whose tokens cannot be opened to needs_reauth, asking the platform nothing", async () => {
    const userId = await connect("meta", "all", { lifetimeMs: 60 * DAY_MS });
    // A token stored in the clear (or under a removed key) is refused by credentials.ts.
    await firestore.db
      .doc(`${integrationPath(userId, "meta")}/private/credentials`)
      .update({ accessToken: "not-sealed" });
    const before = stack.world.requestLog.length;
    const outcome = await discoverIntegration(discoveryDeps(), { userId, providerId: "meta" });
    expect(outcome.status).toBe("refused");
    expect(stack.world.requestLog).toHaveLength(before);
    const stored = await integration(userId, "meta");
    expect(stored.status).toBe("needs_reauth");
    expect(stored.credentialHealth?.state).toBe("revoked");
  });

  it("moves a revoked connection to needs_reauth at discovery", async () => {
    const userId = await connect("meta", "all", { lifetimeMs: 60 * DAY_MS });
    stack.world.setFaults("meta", { revokeTokens: true });
    try {
      const outcome = await discoverIntegration(discoveryDeps(), { userId, providerId: "meta" });
      expect(outcome.status).toBe("refused");
      const stored = await integration(userId, "meta");
      expect(stored.status).toBe("needs_reauth");
      expect(stored.credentialHealth?.state).toBe("revoked");
    } finally {
      stack.world.setFaults("meta", {});
    }
  });
});
