/**
 * Meta account discovery over real HTTP against the Meta sandbox: the user's own ad accounts
 * (`/me/adaccounts`) and each business's owned and client ad accounts, each account once with the
 * business it belongs to, every page followed, a disabled account inactive, one revealed between
 * two runs found on the second, a revoked token failing `auth`; and the token facts debug_token
 * gives (expiry, data access, validity) with the app's token. The last block checks the sandbox's
 * rendering of those endpoints itself.
 */
import axios from "axios";

import { META_SANDBOX_APP_ID, META_SANDBOX_APP_SECRET, metaSandbox } from "../../dev/sandbox/meta";
import type { RunningSandbox } from "../../dev/sandbox/server";
import type { SandboxAccount, SandboxWorld } from "../../dev/sandbox/world";
import type { AdapterContext } from "../../src/providers/adapter";
import { ProviderError } from "../../src/providers/errors";
import { PlatformHttp } from "../../src/providers/http";
import { RateLimiter, realClock } from "../../src/providers/limiter";
import { createMetaAdapter } from "../../src/providers/meta";
import { accountStatusOf } from "../../src/providers/meta/discovery";
import type { DiscoveredAccount } from "../../src/providers/types";
import { requestsTo, sandboxAccount, sandboxSettings, startWorld } from "../harness/sandbox";

/** The user's agency, which owns accounts and manages clients' accounts. */
const AGENCY = "2000000000000101";
/** A brand the user also works in, which owns an account it shares with the agency. */
const BRAND = "2000000000000202";
/** A client's business the user is not in: its accounts are reached through the agency alone. */
const CLIENT = "2000000000000909";

const account = (id: string, name: string, parents?: string[]): SandboxAccount => ({
  ...sandboxAccount("meta", id, 1, "Europe/Berlin", "EUR", name),
  ...(parents ? { parents } : {}),
});

const OWN = account("1111111111", "Own");
const OWN_CLOSED: SandboxAccount = { ...account("1111111112", "Own closed"), disabled: true };
/** The agency's: in /me/adaccounts too (its members are assigned to it). */
const AGENCY_OWNED = account("2222222221", "Agency owned", [AGENCY]);
const BRAND_OWNED = account("2222222231", "Brand owned", [BRAND]);
/** A client's account the agency manages: only the agency's client_ad_accounts lists it. */
const CLIENT_SHARED = account("3333333331", "Client shared", [AGENCY, CLIENT]);
/** The brand's account shared with the agency: the brand's owned and the agency's client's. */
const BRAND_SHARED = account("3333333341", "Brand shared", [AGENCY, BRAND]);
/** Shared with the agency only after the first run. */
const LATER: SandboxAccount = { ...account("4444444441", "Later", [AGENCY]), hidden: true };
/** A Google notion: no ad account, never listed. */
const MANAGER: SandboxAccount = { ...account("5555555551", "Manager"), manager: true };

let world: SandboxWorld;
let sandbox: RunningSandbox;
let token: string;

beforeEach(async () => {
  ({ world, sandbox } = await startWorld(
    [OWN, OWN_CLOSED, AGENCY_OWNED, BRAND_OWNED, CLIENT_SHARED, BRAND_SHARED, LATER, MANAGER],
    [metaSandbox],
  ));
  token = world.issueTokens("meta").accessToken;
});

afterEach(() => sandbox.stop());

/** A discovery context as a run would build it: the platform's limiter, classifier, redaction. */
function context(overrides: Record<string, unknown> = {}): AdapterContext<"meta"> {
  const settings = sandboxSettings("meta", sandbox, {
    appSecret: META_SANDBOX_APP_SECRET,
    appId: META_SANDBOX_APP_ID,
    maxInlineRetries: 0,
    ...overrides,
  });
  return {
    settings,
    now: () => realClock.now(),
    http: new PlatformHttp({
      provider: "meta",
      axios: axios.create(),
      limiter: new RateLimiter(settings, realClock),
      clock: realClock,
      classify: createMetaAdapter().classify,
      timeoutMs: settings.timeoutMs,
      maxInlineWaitMs: settings.maxInlineWaitMs,
      maxInlineRetries: settings.maxInlineRetries,
      secrets: [token, settings.appSecret ?? ""],
    }),
  };
}

function discoveryOf(options: Parameters<typeof createMetaAdapter>[0] = {}) {
  const { discovery } = createMetaAdapter(options);
  if (!discovery) {
    throw new Error("the Meta adapter has no discovery");
  }
  return discovery;
}

const discover = (accessToken = token, discovery = discoveryOf()) =>
  discovery.discover(context(), { accessToken });

async function inspect(accessToken: string, overrides: Record<string, unknown> = {}) {
  const discovery = discoveryOf();
  if (!discovery.inspect) {
    throw new Error("the Meta discovery has no inspect");
  }
  return discovery.inspect(context(overrides), { accessToken });
}

const byId = (accounts: readonly DiscoveredAccount[]) =>
  [...accounts].sort((a, b) => a.accountId.localeCompare(b.accountId));

const expected = (
  { id, name }: SandboxAccount,
  hierarchy: string[],
  status: "active" | "inactive" = "active",
): DiscoveredAccount => ({
  accountId: id,
  name,
  currency: "EUR",
  timeZone: "Europe/Berlin",
  status,
  platformStatus: status === "active" ? "1" : "2",
  hierarchy,
});

/** Every account discovery must find, as it must describe it. */
const EVERY_ACCOUNT = [
  expected(OWN, []),
  expected(OWN_CLOSED, [], "inactive"),
  expected(AGENCY_OWNED, [AGENCY]),
  expected(BRAND_OWNED, [BRAND]),
  expected(CLIENT_SHARED, [AGENCY]),
  // Owned by the brand, shared with the agency: kept as its owner's.
  expected(BRAND_SHARED, [BRAND]),
];

describe("Meta discovery: accounts", () => {
  it("finds the user's and every business's accounts once each, with the business and status", async () => {
    const accounts = await discover();

    expect(byId(accounts)).toEqual(byId(EVERY_ACCOUNT));
    // One listing of each: the user's accounts and businesses, then each business's two edges.
    expect(requestsTo(world, "meta").map(({ path }) => path)).toEqual([
      "/v26.0/me/adaccounts",
      "/v26.0/me/businesses",
      `/v26.0/${AGENCY}/owned_ad_accounts`,
      `/v26.0/${AGENCY}/client_ad_accounts`,
      `/v26.0/${BRAND}/owned_ad_accounts`,
      `/v26.0/${BRAND}/client_ad_accounts`,
    ]);
  });

  it("follows every page of every listing", async () => {
    // Two a page: the user's four accounts take two pages, the agency's two clients' one.
    const accounts = await discover(token, discoveryOf({ pageSize: 2 }));

    expect(byId(accounts)).toEqual(byId(EVERY_ACCOUNT));
    expect(requestsTo(world, "meta", /\/me\/adaccounts$/)).toHaveLength(2);
    expect(requestsTo(world, "meta", new RegExp(`${AGENCY}/client_ad_accounts$`))).toHaveLength(1);
  });

  it("finds an account shared with a business between two discoveries", async () => {
    expect((await discover()).map(({ accountId }) => accountId)).not.toContain(LATER.id);

    world.reveal(LATER);

    expect(await discover()).toContainEqual(expected(LATER, [AGENCY]));
  });

  it("lists a disabled account as inactive, with Meta's status", async () => {
    world.reveal({ ...AGENCY_OWNED, disabled: true });

    const accounts = await discover();
    expect(accounts).toContainEqual(expected(OWN_CLOSED, [], "inactive"));
    expect(accounts).toContainEqual(expected(AGENCY_OWNED, [AGENCY], "inactive"));
  });

  it("fails with auth when the token is revoked", async () => {
    world.setFaults("meta", { revokeTokens: true });

    const failure = await discover().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ProviderError);
    expect(failure).toMatchObject({ code: "auth", reason: "meta_code_190_458" });
    expect((failure as Error).message).not.toContain(token);
  });

  // Meta's account_status values (https://developers.facebook.com/docs/marketing-api/reference/ad-account/):
  // ads run at 1, and at 8 and 9, which Meta counts as running ("Running Or In Review").
  it.each([
    [1, "ACTIVE", "active"],
    [2, "DISABLED", "inactive"],
    [3, "UNSETTLED", "inactive"],
    [7, "PENDING_RISK_REVIEW", "inactive"],
    [8, "PENDING_SETTLEMENT", "active"],
    [9, "IN_GRACE_PERIOD", "active"],
    [100, "PENDING_CLOSURE", "inactive"],
    [101, "CLOSED", "inactive"],
  ])("reads account_status %i (%s) as %s", (status, _name, expectedStatus) => {
    expect(accountStatusOf(status)).toBe(expectedStatus);
  });
});

describe("Meta discovery: token facts (debug_token)", () => {
  const DAY_MS = 86_400_000;
  /** Graph's times are whole seconds. */
  const toSecond = (ms: number) => Math.floor(ms / 1000) * 1000;

  it("gives a long-lived token's expiry and the end of its data access", async () => {
    const lifetimeMs = 60 * DAY_MS;
    const before = Date.now();
    const issued = world.issueTokens("meta", { lifetimeMs });
    const after = Date.now();

    const facts = await inspect(issued.accessToken);

    expect(facts).toEqual({
      valid: true,
      accessTokenExpiresAt: toSecond(issued.expiresAt ?? 0),
      connectionExpiresAt: expect.any(Number) as unknown,
    });
    // Data access lasts 90 days from consent (here, the token's issue).
    expect(facts.connectionExpiresAt).toBeGreaterThanOrEqual(toSecond(before + 90 * DAY_MS));
    expect(facts.connectionExpiresAt).toBeLessThanOrEqual(after + 90 * DAY_MS);
  });

  it("gives no expiry for a token that never expires (expires_at 0)", async () => {
    const facts = await inspect(token);
    expect(facts).toMatchObject({ valid: true, accessTokenExpiresAt: null });
    expect(facts.connectionExpiresAt).toEqual(expect.any(Number));
  });

  it("says a revoked token is not valid, without failing", async () => {
    world.setFaults("meta", { revokeTokens: true });
    expect(await inspect(token)).toMatchObject({ valid: false, accessTokenExpiresAt: null });
  });

  it("says an expired token is not valid, and when it expired", async () => {
    const issued = world.issueTokens("meta", { lifetimeMs: 60 * DAY_MS });
    world.expireAccessTokens("meta");

    const facts = await inspect(issued.accessToken);
    expect(facts.valid).toBe(false);
    expect(facts.accessTokenExpiresAt).toBeLessThanOrEqual(Date.now());
  });

  it("says a token Meta never issued is not valid, with no times", async () => {
    expect(await inspect("EAAB-never-issued")).toEqual({
      valid: false,
      accessTokenExpiresAt: null,
      connectionExpiresAt: null,
    });
  });

  it("fails permanent, not auth, when Meta refuses the app's token", async () => {
    const wrongSecret = "not-the-app-secret";
    const failure = await inspect(token, { appSecret: wrongSecret }).catch((e: unknown) => e);

    // A refused app token is the app's configuration, not the user's connection.
    expect(failure).toMatchObject({ code: "permanent", reason: "app_token_refused" });
    expect((failure as Error).message).not.toContain(wrongSecret);
  });

  it.each([["appId"], ["appSecret"]])(
    "asks nothing without the app's %s: a configuration error, not the user's",
    async (missing) => {
      const failure = await inspect(token, { [missing]: undefined }).catch((e: unknown) => e);
      expect(failure).toMatchObject({ code: "permanent", reason: "app_not_configured" });
      expect(requestsTo(world, "meta")).toHaveLength(0);
    },
  );
});

describe("Meta sandbox: discovery endpoints", () => {
  const graph = (path: string, params: Record<string, string>, bearer?: string) =>
    axios.get<unknown>(`${sandbox.baseUrls().meta.baseUrl}/v26.0/${path}`, {
      params,
      headers: bearer ? { Authorization: `Bearer ${bearer}` } : {},
      validateStatus: () => true,
    });
  const APP_TOKEN = `${META_SANDBOX_APP_ID}|${META_SANDBOX_APP_SECRET}`;

  it("answers debug_token as Meta documents it: is_valid, expires_at 0 for never, the error", async () => {
    const valid = await graph("debug_token", { input_token: token }, APP_TOKEN);
    expect(valid.status).toBe(200);
    expect(valid.data).toEqual({
      data: expect.objectContaining({
        app_id: META_SANDBOX_APP_ID,
        type: "USER",
        is_valid: true,
        expires_at: 0,
        data_access_expires_at: expect.any(Number) as unknown,
        issued_at: expect.any(Number) as unknown,
        scopes: expect.arrayContaining(["ads_read"]) as unknown,
      }) as unknown,
    });

    world.setFaults("meta", { revokeTokens: true });
    const revoked = await graph("debug_token", { input_token: token }, APP_TOKEN);
    expect(revoked.status).toBe(200);
    expect(revoked.data).toMatchObject({
      data: { is_valid: false, error: { code: 190, subcode: 458 } },
    });
  });

  it.each([
    ["a user's token", () => token, 100],
    ["no token", () => undefined, 100],
    ["the app's id with another secret", () => `${META_SANDBOX_APP_ID}|nope`, 190],
  ])("refuses debug_token called with %s", async (_what, bearer, code) => {
    const response = await graph("debug_token", { input_token: token }, bearer());
    expect(response.status).toBe(400);
    expect(response.data).toMatchObject({ error: { code, type: "OAuthException" } });
  });

  it("pages the listings and refuses a business the user is not in", async () => {
    const first = await graph("me/adaccounts", { limit: "3", fields: "account_id" }, token);
    expect(first.data).toMatchObject({
      data: [{ id: `act_${OWN.id}` }, { id: `act_${OWN_CLOSED.id}` }, {}],
      paging: {
        cursors: { before: "MAZDZD", after: "MgZDZD" },
        next: expect.any(String) as unknown,
      },
    });

    const outside = await graph(`${CLIENT}/owned_ad_accounts`, {}, token);
    expect(outside.status).toBe(400);
    expect(outside.data).toMatchObject({ error: { code: 100, error_subcode: 33 } });
  });
});
