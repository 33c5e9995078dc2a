/**
 * What only the LinkedIn adapter does, against the LinkedIn sandbox over real HTTP on loopback:
 * date slices under adAnalytics' silent 15,000-element cap and campaign pages, LinkedIn's request
 * checks (Rest.li 2.0 encoding, LinkedIn-Version and its sunsets), the header-less 429, its
 * account-id errors and token edge cases, the 10 years of performance metrics it keeps. The
 * contract every platform shares is asserted in `providers.contract.test.ts`. Version sunsets are
 * judged at a pinned date, not today's.
 */
import { z } from "zod";

import { createLinkedinSandbox } from "../../dev/sandbox/linkedin";
import { type RunningSandbox, startSandbox } from "../../dev/sandbox/server";
import { type SandboxAccount, SandboxWorld } from "../../dev/sandbox/world";
import { PlatformHttp } from "../../src/providers/http";
import { realClock } from "../../src/providers/limiter";
import { createLinkedinAdapter, linkedinAdapter } from "../../src/providers/linkedin";
import type { Credentials } from "../../src/providers/types";
import {
  expectedRows,
  failure,
  fetchWithRows,
  LINKEDIN_VERSIONS_AT,
  requestsTo,
  sandboxAccount,
  sandboxDeps,
  totals,
} from "../harness/sandbox";

const DAY_MS = 86_400_000;
const SMALL_CAP = 40;

// The account's own zone; LinkedIn still reports its days in UTC.
const account = (id: string, name: string, currency: string, campaigns: number): SandboxAccount =>
  sandboxAccount("linkedin", id, campaigns, "America/New_York", currency, name);

const UK = account("512345680", "Acme UK", "GBP", 2);
const EMEA = account("512345678", "Acme EMEA", "EUR", 4);
const BIG = account("508123451", "Big Spender", "USD", 1001);
const DORMANT = account("512345681", "Acme Dormant", "EUR", 0);
const CROWDED = account("508123452", "Crowded Day", "USD", SMALL_CAP + 5);

const world = new SandboxWorld([EMEA, UK, DORMANT, BIG, CROWDED]);
const versionsActiveAt = () => LINKEDIN_VERSIONS_AT;
let sandbox: RunningSandbox;
let smallCapSandbox: RunningSandbox;
/** Judges versions on the day after the adapter's default version (202603) sunsets. */
let pastSunset: RunningSandbox;

beforeAll(async () => {
  sandbox = await startSandbox({ world, platforms: [createLinkedinSandbox({ versionsActiveAt })] });
  smallCapSandbox = await startSandbox({
    world,
    platforms: [createLinkedinSandbox({ maxElements: SMALL_CAP, versionsActiveAt })],
  });
  pastSunset = await startSandbox({
    world,
    platforms: [createLinkedinSandbox({ versionsActiveAt: () => Date.UTC(2027, 2, 16) })],
  });
});

afterAll(async () => {
  await Promise.all([sandbox.stop(), smallCapSandbox.stop(), pastSunset.stop()]);
});

beforeEach(() => {
  world.setFaults("linkedin", {});
  world.requestLog.length = 0;
});

type LinkedinOverrides = Record<string, unknown>;

function depsFor(target: RunningSandbox, overrides: LinkedinOverrides = {}) {
  return sandboxDeps("linkedin", target, {
    clientId: "sandbox-client",
    clientSecret: "sandbox-client-secret",
    maxInlineWaitMs: 5000,
    maxInlineRetries: 2,
    concurrency: 2,
    ...overrides,
  });
}

function credentials(lifetimeMs = 60 * DAY_MS): Credentials {
  return world.issueTokens("linkedin", { lifetimeMs, refreshable: true });
}

const RANGE = { since: "2026-10-01", until: "2026-10-20" };

const linkedinRequests = (pattern: RegExp) => requestsTo(world, "linkedin", pattern);

describe("complete, normalised rows", () => {
  it("reads every campaign-day of a range that needs two slices under LinkedIn's 15,000 cap", async () => {
    // 1,001 campaigns × 15 days = 15,015 elements: one request would be cut off at 15,000.
    const range = { since: "2026-10-01", until: "2026-10-15" };
    const result = await fetchWithRows(linkedinAdapter, depsFor(sandbox), {
      credentials: credentials(),
      accountIds: [BIG.id],
      range,
    });

    expect(result.accounts).toEqual([
      { accountId: BIG.id, status: "ok", rows: 15_015, range, timeZone: "UTC" },
    ]);
    const expected = expectedRows(world, BIG, range, { timeZone: "UTC" });
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
    expect(linkedinRequests(/\/adCampaigns$/)).toHaveLength(3);
    expect(linkedinRequests(/^\/rest\/adAnalytics$/)).toHaveLength(2);
  });

  it("without costInLocalCurrency, takes costInUsd for a USD account and no spend otherwise", async () => {
    world.setFaults("linkedin", { omitLocalCost: true });
    const range = { since: "2026-10-01", until: "2026-10-02" };
    const result = await fetchWithRows(linkedinAdapter, depsFor(sandbox), {
      credentials: credentials(),
      accountIds: [CROWDED.id, UK.id],
      range,
    });

    expect(result.accounts.map(({ status }) => status)).toEqual(["ok", "ok"]);
    const usd = result.rows.filter((row) => row.accountId === CROWDED.id);
    const gbp = result.rows.filter((row) => row.accountId === UK.id);
    expect(totals(usd)).toEqual(totals(expectedRows(world, CROWDED, range, { timeZone: "UTC" })));
    // Not 0, which would overwrite a spend stored earlier: unknown (metrics/store.ts keeps it).
    expect(gbp.length).toBeGreaterThan(0);
    expect(gbp.every((row) => row.spendMicros === null)).toBe(true);
  });

  it("asks adAnalytics nothing for an account without served campaigns", async () => {
    const result = await fetchWithRows(linkedinAdapter, depsFor(sandbox), {
      credentials: credentials(),
      accountIds: [DORMANT.id],
      range: RANGE,
    });

    expect(result).toEqual({
      rows: [],
      accounts: [{ accountId: DORMANT.id, status: "ok", rows: 0, range: RANGE, timeZone: "UTC" }],
      // The account and its (empty) campaign page.
      requests: 2,
    });
    expect(linkedinRequests(/^\/rest\/adAnalytics$/)).toHaveLength(0);
  });

  it("treats an answer of exactly the cap as truncated rather than complete", async () => {
    // 45 campaigns on one day: the sandbox, like LinkedIn, silently returns only the first 40.
    const adapter = createLinkedinAdapter({ maxElements: SMALL_CAP });
    const result = await fetchWithRows(adapter, depsFor(smallCapSandbox), {
      credentials: credentials(),
      accountIds: [CROWDED.id],
      range: { since: "2026-10-01", until: "2026-10-01" },
    });

    expect(result.rows).toEqual([]);
    expect(failure(result, CROWDED.id)).toMatchObject({
      code: "permanent",
      reason: "query_too_large",
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

  it("answers days older than its 10 years with no elements, as days without activity", async () => {
    const old = wellFormed.replace(
      dateRange,
      "dateRange=(start:(year:2015,month:10,day:1),end:(year:2015,month:10,day:2))",
    );

    const elements = async (query: string) =>
      z.object({ elements: z.array(z.unknown()) }).parse(await rawRequest(query, headers()))
        .elements;

    // A success, as for days without activity: LinkedIn documents no error for them.
    expect(await elements(old)).toEqual([]);
    // The same query for recent days: 2 campaigns × 2 days.
    expect(await elements(wellFormed)).toHaveLength(4);
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

  it.each([
    ["a version sunset before the pinned date", "202401", "20240101", () => sandbox],
    // 202603 is served until 2027-03-15: a sandbox pinned to the day after refuses it.
    ["the default version once past its sunset", undefined, "20260301", () => pastSunset],
  ])("fails %s permanently, after a single request", async (_what, apiVersion, named, target) => {
    const result = await fetchWithRows(linkedinAdapter, depsFor(target(), { apiVersion }), {
      credentials: credentials(),
      accountIds: [UK.id],
      range: RANGE,
    });

    expect(failure(result, UK.id)).toMatchObject({
      code: "permanent",
      reason: "nonexistent_version",
      message: expect.stringContaining(`Requested version ${named} is not active`) as unknown,
    });
    expect(linkedinRequests(/^\/rest\//)).toHaveLength(1);
  });
});

describe("history: 10 years of performance metrics, in UTC days", () => {
  // 12:00 UTC on 2026-12-01: the oldest day LinkedIn still reports is 2016-12-01. The world and
  // the adapter share one clock running from there, so no real midnight can move it.
  const shift = Date.UTC(2026, 11, 1, 12) - Date.now();
  const clock = { ...realClock, now: () => Date.now() + shift };
  const pinned = new SandboxWorld([UK, EMEA], clock.now);
  let pinnedSandbox: RunningSandbox;

  beforeAll(async () => {
    pinnedSandbox = await startSandbox({
      world: pinned,
      platforms: [createLinkedinSandbox({ versionsActiveAt })],
    });
  });

  afterAll(() => pinnedSandbox.stop());

  const fetchRange = (range: { since: string; until: string }) =>
    fetchWithRows(
      linkedinAdapter,
      { ...depsFor(pinnedSandbox), clock },
      {
        credentials: pinned.issueTokens("linkedin", { lifetimeMs: 60 * DAY_MS, refreshable: true }),
        accountIds: [UK.id, EMEA.id],
        range,
      },
    );

  it("refuses days past them before any request, and serves a range from the oldest day kept", async () => {
    // LinkedIn would answer 2016-11-30 with no elements: the adapter must not call that "no activity".
    const beyond = await fetchRange({ since: "2016-11-30", until: "2016-12-10" });

    for (const id of [UK.id, EMEA.id]) {
      expect(failure(beyond, id)).toMatchObject({
        code: "permanent",
        reason: "beyond_retention",
        message: expect.stringContaining("2016-12-01") as unknown,
      });
    }
    expect(pinned.requestLog).toHaveLength(0);

    const range = { since: "2016-12-01", until: "2016-12-10" };
    const inside = await fetchRange(range);
    const expected = [UK, EMEA].flatMap((each) =>
      expectedRows(pinned, each, range, { timeZone: "UTC" }),
    );
    expect(inside.accounts.map(({ status }) => status)).toEqual(["ok", "ok"]);
    expect(inside.rows).toHaveLength(expected.length);
    expect(totals(inside.rows)).toEqual(totals(expected));
  });
});

describe("error classes from LinkedIn's signals", () => {
  const fetchUk = (overrides: LinkedinOverrides = {}) =>
    fetchWithRows(linkedinAdapter, depsFor(sandbox, overrides), {
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
    expect(linkedinRequests(/^\/rest\//)).toHaveLength(1);
  });

  it("holds back only the throttled member: their other account waits, another member's fetch runs", async () => {
    // LinkedIn counts daily limits per application and per member; its 429 does not say which.
    const throttledMember = credentials();
    const otherMember = credentials();
    world.setFaults("linkedin", {
      throttles: [{ scope: "member", id: throttledMember.accessToken, retryAfterSeconds: 0 }],
    });
    // One limiter for every fetch, as one instance runs its jobs.
    const deps = depsFor(sandbox);
    const fetchFor = (member: Credentials) =>
      fetchWithRows(linkedinAdapter, deps, {
        credentials: member,
        accountIds: [UK.id, EMEA.id],
        range: RANGE,
      });

    const throttled = await fetchFor(throttledMember);
    expect(world.requestLog).toHaveLength(1);
    const other = await fetchFor(otherMember);
    const sentForOther = world.requestLog.length - 1;
    const again = await fetchFor(throttledMember);

    expect(failure(throttled, UK.id)).toMatchObject({
      code: "rate_limited",
      reason: "http_429",
      retryAfterMs: 60_000,
    });
    for (const paused of [
      failure(throttled, EMEA.id),
      failure(again, UK.id),
      failure(again, EMEA.id),
    ]) {
      expect(paused).toMatchObject({ code: "rate_limited", reason: "member_paused" });
    }
    expect(other.accounts.map(({ status }) => status)).toEqual(["ok", "ok"]);
    const rows = [UK, EMEA].flatMap((each) =>
      expectedRows(world, each, RANGE, { timeZone: "UTC" }),
    );
    expect(totals(other.rows)).toEqual(totals(rows));
    expect(other.rows).toHaveLength(rows.length);
    // The throttled member got nothing after the request answered 429.
    expect(sentForOther).toBeGreaterThan(0);
    expect(world.requestLog).toHaveLength(1 + sentForOther);
  });

  it("fails unknown and malformed account ids permanently", async () => {
    const result = await fetchWithRows(linkedinAdapter, depsFor(sandbox), {
      credentials: credentials(),
      accountIds: ["599999999", "act_123"],
      range: RANGE,
    });

    expect(failure(result, "599999999")).toMatchObject({ code: "permanent", reason: "not_found" });
    expect(failure(result, "act_123")).toMatchObject({
      code: "permanent",
      reason: "invalid_account_id",
    });
    // The malformed id never reached LinkedIn.
    expect(linkedinRequests(/act_123/)).toHaveLength(0);
  });
});

describe("tokens", () => {
  it("refreshes before the first request when the token has less than a day left", async () => {
    const result = await fetchWithRows(linkedinAdapter, depsFor(sandbox), {
      credentials: credentials(60 * 60 * 1000),
      accountIds: [UK.id],
      range: RANGE,
    });

    expect(result.refreshedCredentials).toBeDefined();
    expect(world.requestLog[0]?.path).toBe("/oauth/v2/accessToken");
    expect(linkedinRequests(/^\/oauth\/v2\/accessToken$/)).toHaveLength(1);
  });

  it("reports missing client credentials as our configuration, not the user's", async () => {
    const expired = credentials();
    world.expireAccessTokens("linkedin");
    const result = await fetchWithRows(
      linkedinAdapter,
      depsFor(sandbox, { clientId: undefined, clientSecret: undefined }),
      { credentials: expired, accountIds: [UK.id], range: RANGE },
    );

    expect(failure(result, UK.id)).toMatchObject({
      code: "permanent",
      reason: "missing_client_credentials",
    });
    expect(linkedinRequests(/^\/oauth\//)).toHaveLength(0);
  });

  it("asks for a reconnect when an expired token has no refresh token", async () => {
    const { refreshToken: _refresh, ...accessOnly } = credentials();
    world.expireAccessTokens("linkedin");
    const result = await fetchWithRows(linkedinAdapter, depsFor(sandbox), {
      credentials: { accessToken: accessOnly.accessToken },
      accountIds: [EMEA.id, UK.id],
      range: RANGE,
    });

    expect(failure(result, EMEA.id)).toMatchObject({
      code: "auth",
      reason: "expired_access_token",
    });
    expect(failure(result, UK.id)?.code).toBe("auth");
    expect(linkedinRequests(/./)).toHaveLength(1);
    expect(JSON.stringify(result)).not.toContain(accessOnly.accessToken);
  });
});
