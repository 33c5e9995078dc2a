/**
 * LinkedIn account discovery and token introspection against the LinkedIn sandbox over real HTTP
 * on loopback: the ad accounts the member has a role on, in cursor pages (a canceled one marked
 * inactive, a hidden one absent until it is revealed), and what `introspectToken` says of an
 * active, an expired and a revoked token — the refresh token's 365 days counted from the
 * consent, whatever the refreshes. Version sunsets are judged at a pinned date.
 */
import { createLinkedinSandbox } from "../../dev/sandbox/linkedin";
import { type RunningSandbox, startSandbox } from "../../dev/sandbox/server";
import { type SandboxAccount, SandboxWorld } from "../../dev/sandbox/world";
import type { AdapterContext } from "../../src/providers/adapter";
import { PlatformHttp } from "../../src/providers/http";
import { linkedinAdapter, linkedinTokens } from "../../src/providers/linkedin";
import type { Credentials, DiscoveredAccount } from "../../src/providers/types";
import {
  fetchWithRows,
  LINKEDIN_VERSIONS_AT,
  requestsTo,
  sandboxAccount,
  sandboxDeps,
} from "../harness/sandbox";

const DAY_MS = 86_400_000;
const YEAR_MS = 365 * DAY_MS;
const CLIENT_SECRET = "sandbox-client-secret";

const account = (id: number, overrides: Partial<SandboxAccount> = {}): SandboxAccount => ({
  ...sandboxAccount("linkedin", String(id), 1, "Europe/Paris", "EUR", `Acme ${id}`),
  ...overrides,
});

// 1,001 accounts the member can use fill three pages of 500; among them a canceled one.
const VISIBLE = Array.from({ length: 1_001 }, (_, index) => account(510_000_000 + index));
const CANCELED = account(520_000_001, { disabled: true, currency: "GBP" });
const LATER = account(520_000_002, { hidden: true, currency: "USD" });
const OTHER_PLATFORM = sandboxAccount("meta", "520000003", 1, "UTC", "USD");

/** The world's clock runs `shift` ms off real time: a consent given long ago is issued then. */
let shift = 0;
const world = new SandboxWorld(
  [...VISIBLE, CANCELED, LATER, OTHER_PLATFORM],
  () => Date.now() + shift,
);
let sandbox: RunningSandbox;

beforeAll(async () => {
  sandbox = await startSandbox({
    world,
    platforms: [createLinkedinSandbox({ versionsActiveAt: () => LINKEDIN_VERSIONS_AT })],
  });
});

afterAll(() => sandbox.stop());

beforeEach(() => {
  shift = 0;
  world.setFaults("linkedin", {});
  world.requestLog.length = 0;
});

const settings = { clientId: "sandbox-client", clientSecret: CLIENT_SECRET, maxInlineRetries: 0 };

/** What the domain hands `discover` and `inspect`: this platform's HTTP, redacting `secrets`. */
function context(
  secrets: Credentials,
  overrides: Record<string, unknown> = {},
): AdapterContext<"linkedin"> {
  const deps = sandboxDeps("linkedin", sandbox, { ...settings, ...overrides });
  return {
    settings: deps.settings,
    now: () => deps.clock.now(),
    http: new PlatformHttp({
      provider: "linkedin",
      axios: deps.axios,
      limiter: deps.limiter,
      clock: deps.clock,
      classify: linkedinAdapter.classify,
      timeoutMs: deps.settings.timeoutMs,
      maxInlineWaitMs: deps.settings.maxInlineWaitMs,
      maxInlineRetries: deps.settings.maxInlineRetries,
      secrets: [secrets.accessToken, secrets.refreshToken ?? "", CLIENT_SECRET],
    }),
  };
}

const credentials = (lifetimeMs = 60 * DAY_MS): Credentials =>
  world.issueTokens("linkedin", { lifetimeMs, refreshable: true });

const discovery = linkedinAdapter.discovery;

function discover(ctx: AdapterContext<"linkedin">, tokens: Credentials) {
  if (!discovery) {
    throw new Error("the LinkedIn adapter discovers no accounts");
  }
  return discovery.discover(ctx, tokens);
}

function inspect(ctx: AdapterContext<"linkedin">, tokens: Credentials) {
  if (!discovery?.inspect) {
    throw new Error("the LinkedIn adapter inspects no tokens");
  }
  return discovery.inspect(ctx, tokens);
}

/** The message a call failed with. */
const messageOf = (call: Promise<unknown>): Promise<string> =>
  call.then(
    () => "resolved",
    (error: unknown) => (error instanceof Error ? error.message : "not an error"),
  );

/** When the world issued `tokens` (their expiry less the lifetime they were issued with). */
const issuedAt = (tokens: Credentials, lifetimeMs = 60 * DAY_MS): number =>
  (tokens.expiresAt ?? 0) - lifetimeMs;

const discovered = (accounts: readonly DiscoveredAccount[], id: string) =>
  accounts.find((each) => each.accountId === id);

/** Epoch seconds, as introspection counts, back in ms. */
const toSecond = (ms: number): number => Math.floor(ms / 1000) * 1000;

describe("discover", () => {
  it("lists every account the member can use over cursor pages, a canceled one inactive", async () => {
    const tokens = credentials();
    const accounts = await discover(context(tokens), tokens);

    expect(accounts).toHaveLength(VISIBLE.length + 1);
    expect(new Set(accounts.map((each) => each.accountId)).size).toBe(accounts.length);
    expect(discovered(accounts, VISIBLE[0]?.id ?? "")).toEqual({
      accountId: VISIBLE[0]?.id,
      name: VISIBLE[0]?.name,
      currency: "EUR",
      // LinkedIn reports days in UTC whatever the account's own zone.
      timeZone: "UTC",
      status: "active",
      platformStatus: "ACTIVE",
      hierarchy: [],
    });
    expect(discovered(accounts, CANCELED.id)).toMatchObject({
      currency: "GBP",
      status: "inactive",
      platformStatus: "CANCELED",
    });
    expect(accounts.filter((each) => each.status === "inactive")).toHaveLength(1);
    // Neither the account the member has no role on yet nor another platform's.
    expect(discovered(accounts, LATER.id)).toBeUndefined();
    expect(discovered(accounts, OTHER_PLATFORM.id)).toBeUndefined();
    // 500 + 500 + 2.
    expect(requestsTo(world, "linkedin", /^\/rest\/adAccounts$/)).toHaveLength(3);
  });

  it("names each account as fetchAccount takes it", async () => {
    const tokens = credentials();
    const accounts = await discover(context(tokens), tokens);
    const first = accounts[0];
    if (!first) {
      throw new Error("no account discovered");
    }

    const result = await fetchWithRows(
      linkedinAdapter,
      sandboxDeps("linkedin", sandbox, settings),
      {
        credentials: tokens,
        accountIds: [first.accountId],
        range: { since: "2026-10-01", until: "2026-10-02" },
      },
    );

    expect(result.accounts[0]).toMatchObject({ accountId: first.accountId, status: "ok" });
    expect(result.rows.every((row) => row.accountId === first.accountId)).toBe(true);
    expect(result.rows.length).toBeGreaterThan(0);
  });

  it("finds an account the member was given between two runs", async () => {
    const tokens = credentials();
    const before = await discover(context(tokens), tokens);
    world.reveal(LATER);
    try {
      const after = await discover(context(tokens), tokens);

      expect(discovered(before, LATER.id)).toBeUndefined();
      expect(discovered(after, LATER.id)).toMatchObject({
        name: LATER.name,
        currency: "USD",
        status: "active",
      });
      expect(after).toHaveLength(before.length + 1);
    } finally {
      // Hidden again for the other tests.
      world.accounts[world.accounts.findIndex((each) => each.id === LATER.id)] = LATER;
    }
  });

  it("fails a revoked token with auth, which a refresh cannot mend", async () => {
    const tokens = credentials();
    world.setFaults("linkedin", { revokeTokens: true });

    const listing = discover(context(tokens), tokens);
    await expect(listing).rejects.toMatchObject({ code: "auth", reason: "revoked_access_token" });
    // The module's refresh rule for an auth error: one refresh, which LinkedIn refuses too.
    const refresh = linkedinTokens.refresh(context(tokens), tokens);
    await expect(refresh).rejects.toMatchObject({ code: "auth", reason: "oauth_invalid_grant" });
    const messages = `${await messageOf(listing)} ${await messageOf(refresh)}`;
    for (const secret of [tokens.accessToken, tokens.refreshToken ?? "", CLIENT_SECRET]) {
      expect(messages).not.toContain(secret);
    }
  });

  it("fails an expired token with auth, and lists again once it is refreshed", async () => {
    const tokens = credentials();
    world.expireAccessTokens("linkedin");

    await expect(discover(context(tokens), tokens)).rejects.toMatchObject({
      code: "auth",
      reason: "expired_access_token",
    });
    const renewed = await linkedinTokens.refresh(context(tokens), tokens);
    const accounts = await discover(context(renewed), renewed);

    expect(accounts).toHaveLength(VISIBLE.length + 1);
  });
});

describe("inspect", () => {
  it("reports an active token's end and the refresh token's, 365 days from consent", async () => {
    const tokens = credentials();
    const facts = await inspect(context(tokens), tokens);

    expect(facts).toEqual({
      valid: true,
      accessTokenExpiresAt: toSecond(tokens.expiresAt ?? 0),
      connectionExpiresAt: toSecond(issuedAt(tokens)) + YEAR_MS,
    });
    // Asked of the token endpoint's sibling (no introspection URL setting yet).
    expect(requestsTo(world, "linkedin", /^\/oauth\/v2\/introspectToken$/)).toHaveLength(1);
  });

  it("reports an expired token as not valid, its end in the past", async () => {
    const tokens = credentials(-DAY_MS);
    const facts = await inspect(context(tokens), tokens);

    expect(facts.valid).toBe(false);
    expect(facts.accessTokenExpiresAt).toBe(toSecond(tokens.expiresAt ?? 0));
    expect(facts.accessTokenExpiresAt ?? Infinity).toBeLessThan(Date.now());
  });

  it("reports a revoked token as not valid", async () => {
    const tokens = credentials();
    world.setFaults("linkedin", { revokeTokens: true });
    const facts = await inspect(context(tokens), tokens);

    expect(facts.valid).toBe(false);
  });

  it("keeps the connection's end at consent + 365 days across refreshes, and ends a late token with it", async () => {
    // Consent 320 days ago: the refresh token has 45 days left, less than an access token's 60.
    shift = -320 * DAY_MS;
    const tokens = credentials();
    shift = 0;

    const renewed = await linkedinTokens.refresh(context(tokens), tokens);
    const facts = await inspect(context(renewed), renewed);

    const end = toSecond(issuedAt(tokens)) + YEAR_MS;
    expect(facts.valid).toBe(true);
    expect(facts.connectionExpiresAt).toBe(end);
    // Not 60 days from now: the access token ends with the refresh token.
    expect(Math.abs((renewed.expiresAt ?? 0) - end)).toBeLessThan(2_000);
    expect(Math.abs((facts.accessTokenExpiresAt ?? 0) - end)).toBeLessThan(2_000);
  });

  it("refuses the refresh once the 365 days are over", async () => {
    shift = -366 * DAY_MS;
    const tokens = credentials();
    shift = 0;

    await expect(linkedinTokens.refresh(context(tokens), tokens)).rejects.toMatchObject({
      code: "auth",
      reason: "oauth_invalid_grant",
    });
  });

  it("ends a connection without a refresh token with its access token", async () => {
    const { accessToken, expiresAt } = credentials();
    const facts = await inspect(context({ accessToken }), { accessToken });

    expect(facts.connectionExpiresAt).toBe(toSecond(expiresAt ?? 0));
    expect(facts.accessTokenExpiresAt).toBe(facts.connectionExpiresAt);
  });

  it("needs the client credentials: our configuration, not the user's", async () => {
    const tokens = credentials();
    const noClient = context(tokens, { clientId: undefined, clientSecret: undefined });

    await expect(inspect(noClient, tokens)).rejects.toMatchObject({
      code: "permanent",
      reason: "missing_client_credentials",
    });
    expect(requestsTo(world, "linkedin", /^\/oauth\//)).toHaveLength(0);
  });
});
