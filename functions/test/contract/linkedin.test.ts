/**
 * LinkedIn adapter against the LinkedIn sandbox over real HTTP on loopback: complete and
 * normalised rows across slices and campaign pages, every error class from LinkedIn's own
 * signals, token refresh, rate limits, per-account isolation and redaction.
 */
import axios from "axios";
import { z } from "zod";

import { createLinkedinSandbox, linkedinSandbox } from "../../dev/sandbox/linkedin";
import { type RunningSandbox, startSandbox } from "../../dev/sandbox/server";
import { daysBetween, type SandboxAccount, SandboxWorld } from "../../dev/sandbox/world";
import { fetchMetrics } from "../../src/providers/fetch";
import { PlatformHttp } from "../../src/providers/http";
import { RateLimiter, realClock } from "../../src/providers/limiter";
import { createLinkedinAdapter, linkedinAdapter } from "../../src/providers/linkedin";
import { parseProviderSettings } from "../../src/providers/settings";
import type { Credentials, FetchResult, MetricRow } from "../../src/providers/types";

const DAY_MS = 86_400_000;
const SMALL_CAP = 40;

const account = (
  id: string,
  name: string,
  currency: string,
  campaigns: number,
): SandboxAccount => ({
  provider: "linkedin",
  id,
  name,
  // The account's own zone; LinkedIn still reports its days in UTC.
  timeZone: "America/New_York",
  currency,
  campaigns,
});

const EMEA = account("512345678", "Acme EMEA", "EUR", 4);
const US = account("512345679", "Acme US", "USD", 3);
const UK = account("512345680", "Acme UK", "GBP", 2);
const BIG = account("508123451", "Big Spender", "USD", 1001);
const DORMANT = account("512345681", "Acme Dormant", "EUR", 0);
const CROWDED = account("508123452", "Crowded Day", "USD", SMALL_CAP + 5);

const world = new SandboxWorld([EMEA, US, UK, DORMANT, BIG, CROWDED]);
let sandbox: RunningSandbox;
let smallCapSandbox: RunningSandbox;

beforeAll(async () => {
  sandbox = await startSandbox({ world, platforms: [linkedinSandbox] });
  smallCapSandbox = await startSandbox({
    world,
    platforms: [createLinkedinSandbox({ maxElements: SMALL_CAP })],
  });
});

afterAll(async () => {
  await Promise.all([sandbox.stop(), smallCapSandbox.stop()]);
});

beforeEach(() => {
  world.setFaults("linkedin", {});
  world.requestLog.length = 0;
});

type LinkedinOverrides = Record<string, unknown>;

function depsFor(target: RunningSandbox, overrides: LinkedinOverrides = {}) {
  const settings = parseProviderSettings({
    linkedin: {
      ...target.baseUrls().linkedin,
      clientId: "sandbox-client",
      clientSecret: "sandbox-client-secret",
      timeoutMs: 2000,
      maxInlineWaitMs: 5000,
      maxInlineRetries: 2,
      requestsPerSecond: 100,
      concurrency: 2,
      ...overrides,
    },
  }).linkedin;
  return {
    settings,
    axios: axios.create(),
    limiter: new RateLimiter(
      { requestsPerSecond: settings.requestsPerSecond, concurrency: settings.concurrency },
      realClock,
    ),
    clock: realClock,
  };
}

function credentials(lifetimeMs = 60 * DAY_MS): Credentials {
  const issued = world.issueTokens("linkedin", { lifetimeMs, refreshable: true });
  return {
    accessToken: issued.accessToken,
    ...(issued.refreshToken ? { refreshToken: issued.refreshToken } : {}),
    ...(issued.expiresAt === undefined ? {} : { expiresAt: issued.expiresAt }),
  };
}

const RANGE = { since: "2026-10-01", until: "2026-10-20" };

function totals(rows: readonly Omit<MetricRow, "provider">[]) {
  return rows.reduce(
    (sum, row) => ({
      impressions: sum.impressions + row.impressions,
      clicks: sum.clicks + row.clicks,
      spendMicros: sum.spendMicros + row.spendMicros,
      conversions: sum.conversions + row.conversions,
      conversionValueMicros: sum.conversionValueMicros + row.conversionValueMicros,
    }),
    { impressions: 0, clicks: 0, spendMicros: 0, conversions: 0, conversionValueMicros: 0 },
  );
}

/** What the sandbox generated for an account, as our rows should say it. */
function expectedRows(target: SandboxAccount, range = RANGE) {
  return daysBetween(range.since, range.until).flatMap((date) =>
    world.campaigns(target).map((campaign) => ({
      accountId: target.id,
      campaignId: campaign.id,
      campaignName: campaign.name,
      date,
      timeZone: "UTC",
      currency: target.currency,
      ...world.metrics(target, campaign.id, date),
    })),
  );
}

const requestsTo = (pattern: RegExp) =>
  world.requestLog.filter((entry) => entry.provider === "linkedin" && pattern.test(entry.path));

function failure(result: FetchResult, accountId: string) {
  const outcome = result.accounts.find((entry) => entry.accountId === accountId);
  return outcome?.status === "failed" ? outcome.error : undefined;
}

describe("complete, normalised rows", () => {
  it("reads every campaign-day of a range that needs two slices under LinkedIn's 15,000 cap", async () => {
    // 1,001 campaigns × 15 days = 15,015 elements: one request would be cut off at 15,000.
    const range = { since: "2026-10-01", until: "2026-10-15" };
    const result = await fetchMetrics(linkedinAdapter, depsFor(sandbox), {
      credentials: credentials(),
      accountIds: [BIG.id],
      range,
    });

    expect(result.accounts).toEqual([{ accountId: BIG.id, status: "ok", rows: 15_015 }]);
    const expected = expectedRows(BIG, range);
    expect(totals(result.rows)).toEqual(totals(expected));
    expect(new Set(result.rows.map((row) => `${row.campaignId}|${row.date}`)).size).toBe(15_015);
    // Names come from all three campaign pages (500 + 500 + 1).
    const names = new Map(expected.map((row) => [row.campaignId, row.campaignName]));
    expect(result.rows.every((row) => row.campaignName === names.get(row.campaignId))).toBe(true);
    expect(
      result.rows.every(
        (row) => row.provider === "linkedin" && row.timeZone === "UTC" && row.currency === "USD",
      ),
    ).toBe(true);
    expect(requestsTo(/\/adCampaigns$/)).toHaveLength(3);
    expect(requestsTo(/^\/rest\/adAnalytics$/)).toHaveLength(2);
  });

  it("slices by the configured cap and maps each row exactly as generated", async () => {
    const adapter = createLinkedinAdapter({ maxElements: SMALL_CAP });
    const result = await fetchMetrics(adapter, depsFor(smallCapSandbox), {
      credentials: credentials(),
      accountIds: [EMEA.id],
      range: RANGE,
    });

    // floor(39 / 4 campaigns) = 9 days a slice: 9 + 9 + 2 days.
    expect(requestsTo(/^\/rest\/adAnalytics$/)).toHaveLength(3);
    const ordered = (rows: readonly Omit<MetricRow, "provider">[]) =>
      [...rows].sort((a, b) =>
        `${a.date}${a.campaignId}`.localeCompare(`${b.date}${b.campaignId}`),
      );
    expect(ordered(result.rows.map(({ provider: _provider, ...row }) => row))).toEqual(
      ordered(expectedRows(EMEA)),
    );
  });

  it("asks adAnalytics nothing for an account without served campaigns", async () => {
    const result = await fetchMetrics(linkedinAdapter, depsFor(sandbox), {
      credentials: credentials(),
      accountIds: [DORMANT.id],
      range: RANGE,
    });

    expect(result).toEqual({
      rows: [],
      accounts: [{ accountId: DORMANT.id, status: "ok", rows: 0 }],
    });
    expect(requestsTo(/^\/rest\/adAnalytics$/)).toHaveLength(0);
  });

  it("treats an answer of exactly the cap as truncated rather than complete", async () => {
    // 45 campaigns on one day: the sandbox, like LinkedIn, silently returns only the first 40.
    const adapter = createLinkedinAdapter({ maxElements: SMALL_CAP });
    const result = await fetchMetrics(adapter, depsFor(smallCapSandbox), {
      credentials: credentials(),
      accountIds: [CROWDED.id],
      range: { since: "2026-10-01", until: "2026-10-01" },
    });

    expect(result.rows).toEqual([]);
    expect(failure(result, CROWDED.id)).toMatchObject({
      code: "permanent",
      reason: "truncated_response",
    });
  });
});

describe("LinkedIn's request checks", () => {
  /** The platform's answers, classified the way every adapter request is. */
  function rawRequest(query: string, headers: Record<string, string>) {
    const deps = depsFor(sandbox, { maxInlineRetries: 0 });
    const http = new PlatformHttp({
      provider: "linkedin",
      axios: deps.axios,
      limiter: deps.limiter,
      clock: realClock,
      classify: linkedinAdapter.classify,
      timeoutMs: 2000,
      maxInlineWaitMs: 0,
      maxInlineRetries: 0,
      secrets: [],
    });
    return http.request({
      method: "GET",
      url: `${deps.settings.baseUrl}/adAnalytics?${query}`,
      headers,
      schema: z.unknown(),
      label: "hand-built adAnalytics",
    });
  }

  const headers = () => ({
    Authorization: `Bearer ${credentials().accessToken}`,
    "LinkedIn-Version": "202603",
    "X-Restli-Protocol-Version": "2.0.0",
  });
  const dateRange = "dateRange=(start:(year:2026,month:10,day:1),end:(year:2026,month:10,day:2))";
  const base = `q=analytics&pivot=CAMPAIGN&timeGranularity=DAILY&${dateRange}`;
  const wellFormed = `${base}&accounts=List(urn%3Ali%3AsponsoredAccount%3A${UK.id})`;

  it("accepts the encoding the adapter uses", async () => {
    await expect(rawRequest(wellFormed, headers())).resolves.toMatchObject({
      elements: expect.any(Array) as unknown,
    });
  });

  it("rejects bare URN colons and double-encoded structure as a permanent bad request", async () => {
    await expect(
      rawRequest(`${base}&accounts=List(urn:li:sponsoredAccount:${UK.id})`, headers()),
    ).rejects.toMatchObject({
      code: "permanent",
      reason: "http_400",
      message: expect.stringContaining("Parameter 'accounts' is invalid") as unknown,
    });
    const doubleEncoded = new URLSearchParams({
      accounts: `List(urn%3Ali%3AsponsoredAccount%3A${UK.id})`,
    }).toString();
    await expect(rawRequest(`${base}&${doubleEncoded}`, headers())).rejects.toMatchObject({
      code: "permanent",
      message: expect.stringContaining("Parameter 'accounts' is invalid") as unknown,
    });
  });

  it("needs X-Restli-Protocol-Version 2.0.0 for the structured parameters", async () => {
    const { "X-Restli-Protocol-Version": _protocol, ...protocol1 } = headers();
    await expect(rawRequest(wellFormed, protocol1)).rejects.toMatchObject({
      code: "permanent",
      message: expect.stringContaining("Parameter 'dateRange' is invalid") as unknown,
    });
  });

  it("requires a LinkedIn-Version header", async () => {
    const { "LinkedIn-Version": _version, ...unversioned } = headers();
    await expect(rawRequest(wellFormed, unversioned)).rejects.toMatchObject({
      code: "permanent",
      reason: "version_missing",
    });
  });

  it("fails a sunset LinkedIn-Version permanently, after a single request", async () => {
    const result = await fetchMetrics(linkedinAdapter, depsFor(sandbox, { apiVersion: "202401" }), {
      credentials: credentials(),
      accountIds: [UK.id],
      range: RANGE,
    });

    expect(failure(result, UK.id)).toMatchObject({
      code: "permanent",
      reason: "nonexistent_version",
      message: expect.stringContaining("Requested version 20240101 is not active") as unknown,
    });
    expect(requestsTo(/^\/rest\//)).toHaveLength(1);
  });
});

describe("error classes from LinkedIn's signals", () => {
  const fetchUk = (overrides: LinkedinOverrides = {}) =>
    fetchMetrics(linkedinAdapter, depsFor(sandbox, overrides), {
      credentials: credentials(),
      accountIds: [UK.id],
      range: RANGE,
    });

  it("gives a header-less 429 LinkedIn's default wait and leaves the retry to the job", async () => {
    world.setFaults("linkedin", { rateLimit: { count: 1, retryAfterSeconds: 0 } });
    const result = await fetchUk();

    expect(failure(result, UK.id)).toEqual({
      code: "rate_limited",
      reason: "http_429",
      message: "rate limited by the platform",
      retryAfterMs: 60_000,
    });
    expect(requestsTo(/^\/rest\//)).toHaveLength(1);
  });

  it("retries inline no sooner than an advertised wait", async () => {
    world.setFaults("linkedin", { rateLimit: { count: 1, retryAfterSeconds: 1 } });
    const result = await fetchUk();

    expect(result.accounts).toEqual([{ accountId: UK.id, status: "ok", rows: 40 }]);
    const [limited, retried] = requestsTo(/^\/rest\//);
    expect(retried?.path).toBe(limited?.path);
    expect((retried?.at ?? 0) - (limited?.at ?? 0)).toBeGreaterThanOrEqual(1000);
  });

  it("retries a 5xx inline and reports a persistent one as transient", async () => {
    world.setFaults("linkedin", { serverErrors: 1 });
    expect((await fetchUk()).accounts).toEqual([{ accountId: UK.id, status: "ok", rows: 40 }]);

    world.setFaults("linkedin", { serverErrors: 10 });
    world.requestLog.length = 0;
    const result = await fetchUk();
    expect(failure(result, UK.id)).toMatchObject({ code: "transient", reason: "http_500" });
    // The first try and the two inline retries.
    expect(requestsTo(/^\/rest\//)).toHaveLength(3);
  });

  it("reports a response slower than the timeout as transient", async () => {
    world.setFaults("linkedin", { slowMs: 600 });
    const result = await fetchUk({ timeoutMs: 200, maxInlineRetries: 0 });

    expect(failure(result, UK.id)).toMatchObject({ code: "transient", reason: "timeout" });
  });

  it("reports malformed and truncated bodies as transient", async () => {
    world.setFaults("linkedin", { malformed: 1 });
    expect(failure(await fetchUk({ maxInlineRetries: 0 }), UK.id)).toMatchObject({
      code: "transient",
      reason: "malformed_response",
    });

    world.setFaults("linkedin", { truncated: 1 });
    expect(failure(await fetchUk({ maxInlineRetries: 0 }), UK.id)).toMatchObject({
      code: "transient",
    });
  });

  it("fails forbidden, unknown and malformed account ids permanently", async () => {
    world.setFaults("linkedin", { forbiddenAccounts: [US.id] });
    const result = await fetchMetrics(linkedinAdapter, depsFor(sandbox), {
      credentials: credentials(),
      accountIds: [US.id, "599999999", "act_123"],
      range: RANGE,
    });

    expect(failure(result, US.id)).toMatchObject({
      code: "permanent",
      reason: "access_denied",
      message: expect.stringContaining("Not enough permissions to access") as unknown,
    });
    expect(failure(result, "599999999")).toMatchObject({ code: "permanent", reason: "not_found" });
    expect(failure(result, "act_123")).toMatchObject({
      code: "permanent",
      reason: "invalid_account_id",
    });
    // The malformed id never reached LinkedIn.
    expect(requestsTo(/act_123/)).toHaveLength(0);
  });

  it("loses only the failing account's rows among three", async () => {
    world.setFaults("linkedin", { forbiddenAccounts: [US.id] });
    const result = await fetchMetrics(linkedinAdapter, depsFor(sandbox), {
      credentials: credentials(),
      accountIds: [EMEA.id, US.id, UK.id],
      range: RANGE,
    });

    expect(result.accounts.map((outcome) => outcome.status)).toEqual(["ok", "failed", "ok"]);
    expect(totals(result.rows)).toEqual(totals([...expectedRows(EMEA), ...expectedRows(UK)]));
    expect(new Set(result.rows.map((row) => row.accountId))).toEqual(new Set([EMEA.id, UK.id]));
  });
});

describe("tokens", () => {
  it("refreshes an access token LinkedIn reports expired, once, and hands the new one back", async () => {
    const original = credentials();
    world.expireAccessTokens("linkedin");
    const before = Date.now();
    const result = await fetchMetrics(linkedinAdapter, depsFor(sandbox), {
      credentials: original,
      accountIds: [UK.id, EMEA.id],
      range: RANGE,
    });

    expect(result.accounts.map((outcome) => outcome.status)).toEqual(["ok", "ok"]);
    const renewed = result.refreshedCredentials;
    expect(renewed?.accessToken).not.toBe(original.accessToken);
    expect(renewed?.refreshToken).toBe(original.refreshToken);
    expect(world.checkAccessToken("linkedin", renewed?.accessToken)).toBe("valid");
    expect(renewed?.expiresAt).toBeGreaterThanOrEqual(before + 60 * DAY_MS);
    expect(requestsTo(/^\/oauth\/v2\/accessToken$/)).toHaveLength(1);
    // Only the first request saw the expired token.
    expect(world.requestLog[0]?.path).toBe(`/rest/adAccounts/${UK.id}`);
    expect(world.requestLog[1]?.path).toBe("/oauth/v2/accessToken");
  });

  it("refreshes before the first request when the token has less than a day left", async () => {
    const result = await fetchMetrics(linkedinAdapter, depsFor(sandbox), {
      credentials: credentials(60 * 60 * 1000),
      accountIds: [UK.id],
      range: RANGE,
    });

    expect(result.refreshedCredentials).toBeDefined();
    expect(world.requestLog[0]?.path).toBe("/oauth/v2/accessToken");
    expect(requestsTo(/^\/oauth\/v2\/accessToken$/)).toHaveLength(1);
  });

  it("fails every account with auth, without retries, when the user revoked access", async () => {
    const revoked = credentials();
    world.setFaults("linkedin", { revokeTokens: true });
    const result = await fetchMetrics(linkedinAdapter, depsFor(sandbox), {
      credentials: revoked,
      accountIds: [EMEA.id, US.id, UK.id],
      range: RANGE,
    });

    expect(result.rows).toEqual([]);
    expect(
      result.accounts.map((outcome) => outcome.status === "failed" && outcome.error.code),
    ).toEqual(["auth", "auth", "auth"]);
    expect(failure(result, EMEA.id)?.reason).toBe("oauth_invalid_grant");
    // One API call answered 65601 and one refused refresh; nothing after.
    expect(world.requestLog.map((entry) => entry.path)).toEqual([
      `/rest/adAccounts/${EMEA.id}`,
      "/oauth/v2/accessToken",
    ]);
    const text = JSON.stringify(result);
    for (const secret of [
      revoked.accessToken,
      revoked.refreshToken ?? "",
      "sandbox-client-secret",
    ]) {
      expect(text).not.toContain(secret);
    }
  });

  it("reports missing client credentials as our configuration, not the user's", async () => {
    const expired = credentials();
    world.expireAccessTokens("linkedin");
    const result = await fetchMetrics(
      linkedinAdapter,
      depsFor(sandbox, { clientId: undefined, clientSecret: undefined }),
      { credentials: expired, accountIds: [UK.id], range: RANGE },
    );

    expect(failure(result, UK.id)).toMatchObject({
      code: "permanent",
      reason: "missing_client_credentials",
    });
    expect(requestsTo(/^\/oauth\//)).toHaveLength(0);
  });

  it("asks for a reconnect when an expired token has no refresh token", async () => {
    const { refreshToken: _refresh, ...accessOnly } = credentials();
    world.expireAccessTokens("linkedin");
    const result = await fetchMetrics(linkedinAdapter, depsFor(sandbox), {
      credentials: { accessToken: accessOnly.accessToken },
      accountIds: [EMEA.id, UK.id],
      range: RANGE,
    });

    expect(failure(result, EMEA.id)).toMatchObject({
      code: "auth",
      reason: "expired_access_token",
    });
    expect(failure(result, UK.id)?.code).toBe("auth");
    expect(requestsTo(/./)).toHaveLength(1);
    expect(JSON.stringify(result)).not.toContain(accessOnly.accessToken);
  });
});

describe("client-side rate limit", () => {
  it("never starts more requests in a second than requestsPerSecond", async () => {
    const requestsPerSecond = 4;
    const adapter = createLinkedinAdapter({ maxElements: SMALL_CAP });
    const result = await fetchMetrics(adapter, depsFor(smallCapSandbox, { requestsPerSecond }), {
      credentials: credentials(),
      accountIds: [EMEA.id, US.id, UK.id],
      range: RANGE,
    });

    expect(result.accounts.every((outcome) => outcome.status === "ok")).toBe(true);
    const starts = world.requestLog.map((entry) => entry.at);
    expect(starts.length).toBeGreaterThan(2 * requestsPerSecond);
    // Arrival times trail each client start by a varying delay (loopback transit and the event
    // loop the sandbox shares with the client): tens of ms on a loaded machine. A 100 ms allowance
    // still fails a limiter that lets 5 requests a second through (800 ms apart) or a burst.
    const jitterMs = 100;
    for (let i = requestsPerSecond; i < starts.length; i += 1) {
      expect((starts[i] ?? 0) - (starts[i - requestsPerSecond] ?? 0)).toBeGreaterThanOrEqual(
        1000 - jitterMs,
      );
    }
  });
});
