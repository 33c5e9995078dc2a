/**
 * The Meta adapter over real HTTP against the sandbox's Meta Marketing API: requests, cursor
 * paging, range splitting, error classes from Meta's real signals, waits and the request rate.
 */
import axios from "axios";

import {
  META_MAX_CAMPAIGN_DAYS,
  META_SANDBOX_APP_SECRET,
  metaSandbox,
} from "../../dev/sandbox/meta";
import { type RunningSandbox, startSandbox } from "../../dev/sandbox/server";
import { daysBetween, type SandboxAccount, SandboxWorld } from "../../dev/sandbox/world";
import { fetchMetrics } from "../../src/providers/fetch";
import { RateLimiter, realClock } from "../../src/providers/limiter";
import { createMetaAdapter, metaAdapter } from "../../src/providers/meta";
import { parseProviderSettings } from "../../src/providers/settings";
import type { DateRange, FetchResult, MetricRow } from "../../src/providers/types";

const eu: SandboxAccount = {
  provider: "meta",
  id: "1010101010",
  name: "Acme EU",
  timeZone: "Europe/Berlin",
  currency: "EUR",
  campaigns: 5,
};
const us: SandboxAccount = {
  ...eu,
  id: "2020202020",
  name: "Acme US",
  timeZone: "America/Los_Angeles",
  currency: "USD",
  campaigns: 3,
};
const uk: SandboxAccount = {
  ...eu,
  id: "3030303030",
  name: "Acme UK",
  timeZone: "Europe/London",
  currency: "GBP",
  campaigns: 2,
};
/** More campaigns than the sandbox serves in one query even for a single day. */
const huge: SandboxAccount = {
  ...eu,
  id: "4040404040",
  name: "Acme Global",
  campaigns: META_MAX_CAMPAIGN_DAYS + 20,
};

const TWO_WEEKS: DateRange = { since: "2026-01-25", until: "2026-02-07" };
/** 25 rows a page, so two weeks of five campaigns (70 rows) take three pages. */
const paged = createMetaAdapter({ pageSize: 25 });

let sandbox: RunningSandbox;
let world: SandboxWorld;
let token: string;

beforeEach(async () => {
  world = new SandboxWorld([eu, us, uk, huge]);
  sandbox = await startSandbox({ world, platforms: [metaSandbox] });
  token = world.issueTokens("meta").accessToken;
});

afterEach(() => sandbox.stop());

interface RunOptions {
  settings?: Record<string, unknown>;
  adapter?: typeof metaAdapter;
  accessToken?: string;
}

function run(accountIds: string[], range: DateRange, options: RunOptions = {}) {
  const settings = parseProviderSettings({
    meta: {
      ...sandbox.baseUrls().meta,
      timeoutMs: 1_000,
      maxInlineWaitMs: 3_000,
      maxInlineRetries: 1,
      requestsPerSecond: 100,
      concurrency: 2,
      ...options.settings,
    },
  }).meta;
  return fetchMetrics(
    options.adapter ?? metaAdapter,
    {
      settings,
      axios: axios.create(),
      limiter: new RateLimiter(settings, realClock),
      clock: realClock,
    },
    { credentials: { accessToken: options.accessToken ?? token }, accountIds, range },
  );
}

/** Every campaign-day the sandbox generated, as the adapter must return it. */
function expectedRows(
  account: SandboxAccount,
  range: DateRange,
  accountId = account.id,
): MetricRow[] {
  return daysBetween(range.since, range.until).flatMap((date) =>
    world.campaigns(account).map((campaign) => ({
      provider: "meta" as const,
      accountId,
      campaignId: campaign.id,
      campaignName: campaign.name,
      date,
      timeZone: account.timeZone,
      currency: account.currency,
      ...world.metrics(account, campaign.id, date),
    })),
  );
}

const byKey = (rows: readonly MetricRow[]) =>
  [...rows].sort((a, b) =>
    `${a.accountId}|${a.date}|${a.campaignId}`.localeCompare(
      `${b.accountId}|${b.date}|${b.campaignId}`,
    ),
  );

function totals(rows: readonly MetricRow[]) {
  const sum = (pick: (row: MetricRow) => number) =>
    rows.reduce((total, row) => total + pick(row), 0);
  return {
    impressions: sum((row) => row.impressions),
    clicks: sum((row) => row.clicks),
    spendMicros: sum((row) => row.spendMicros),
    conversions: sum((row) => row.conversions),
    conversionValueMicros: sum((row) => row.conversionValueMicros),
  };
}

const metaRequests = () => world.requestLog.filter((entry) => entry.provider === "meta");
const insightsRequests = () => metaRequests().filter((entry) => entry.path.endsWith("/insights"));

function failure(result: FetchResult, index = 0) {
  const outcome = result.accounts[index];
  return outcome?.status === "failed" ? outcome.error : undefined;
}

function expectNoSecrets(result: FetchResult, ...secrets: string[]): void {
  const text = JSON.stringify(result);
  for (const secret of [token, ...secrets]) {
    expect(text).not.toContain(secret);
  }
}

describe("Meta adapter: data", () => {
  it("follows the cursor through every page and returns each campaign-day normalised", async () => {
    const result = await run([`act_${eu.id}`], TWO_WEEKS, { adapter: paged });

    const expected = expectedRows(eu, TWO_WEEKS, `act_${eu.id}`);
    expect(expected).toHaveLength(70);
    expect(byKey(result.rows)).toEqual(byKey(expected));
    expect(totals(result.rows)).toEqual(totals(expected));
    expect(result.accounts).toEqual([{ accountId: `act_${eu.id}`, status: "ok", rows: 70 }]);
    expect(insightsRequests()).toHaveLength(3);
  });

  it("splits the date range when Meta asks to reduce the amount of data", async () => {
    // 45 days × 5 campaigns exceeds what one query may cover: 45 → 23 + 22 → 12 + 11 + 11 + 11.
    const range = { since: "2026-01-01", until: "2026-02-14" };
    const result = await run([eu.id], range, { adapter: paged });

    const expected = expectedRows(eu, range);
    expect(byKey(result.rows)).toEqual(byKey(expected));
    expect(totals(result.rows)).toEqual(totals(expected));
    // Three refused queries (45, 23 and 22 days), then 3 pages for each of the four slices.
    expect(insightsRequests()).toHaveLength(3 + 4 * 3);
  });

  it("fails as transient when even a single day is too much data", async () => {
    const result = await run([huge.id], { since: "2026-01-01", until: "2026-01-03" });

    expect(failure(result)).toMatchObject({ code: "transient", reason: "meta_too_much_data" });
    // 3 days refused, then 2 days, then the first single day: no further retries.
    expect(insightsRequests()).toHaveLength(3);
    expect(result.rows).toEqual([]);
  });

  it("loses only the failing account's rows when one account of three fails", async () => {
    world.setFaults("meta", { forbiddenAccounts: [us.id] });
    const result = await run([eu.id, us.id, uk.id], TWO_WEEKS);

    expect(byKey(result.rows)).toEqual(
      byKey([...expectedRows(eu, TWO_WEEKS), ...expectedRows(uk, TWO_WEEKS)]),
    );
    expect(result.accounts.map((outcome) => outcome.status)).toEqual(["ok", "failed", "ok"]);
    expect(failure(result, 1)).toMatchObject({ code: "permanent", reason: "meta_code_200" });
    expectNoSecrets(result);
  });

  it("sends appsecret_proof when the app secret is configured", async () => {
    // The sandbox verifies the proof against its app secret and refuses a wrong one.
    const ok = await run([uk.id], TWO_WEEKS, { settings: { appSecret: META_SANDBOX_APP_SECRET } });
    expect(byKey(ok.rows)).toEqual(byKey(expectedRows(uk, TWO_WEEKS)));

    const wrongSecret = "not-the-sandbox-app-secret";
    const refused = await run([uk.id], TWO_WEEKS, { settings: { appSecret: wrongSecret } });
    expect(failure(refused)).toMatchObject({ code: "permanent", reason: "meta_code_100" });
    expectNoSecrets(refused, wrongSecret);
  });
});

describe("Meta adapter: permanent errors", () => {
  it("classifies an unknown ad account as permanent", async () => {
    const result = await run(["9999999999"], TWO_WEEKS);
    expect(failure(result)).toMatchObject({ code: "permanent", reason: "meta_code_100_33" });
  });

  it("refuses an account id that is not one without calling Meta", async () => {
    const result = await run(["../me/accounts"], TWO_WEEKS);
    expect(failure(result)).toMatchObject({ code: "permanent", reason: "invalid_account_id" });
    expect(metaRequests()).toHaveLength(0);
  });

  it("classifies a request Meta rejects (a deprecated API version) as permanent", async () => {
    const result = await run([eu.id], TWO_WEEKS, { settings: { apiVersion: "v19.0" } });
    expect(failure(result)).toMatchObject({ code: "permanent", reason: "meta_code_2635" });
  });
});

describe("Meta adapter: tokens", () => {
  it("classifies an expired token as auth and fails the other accounts without requests", async () => {
    world.expireAccessTokens("meta");
    const result = await run([eu.id, us.id], TWO_WEEKS);

    expect(failure(result, 0)).toMatchObject({ code: "auth", reason: "meta_code_190_463" });
    expect(failure(result, 1)).toMatchObject({ code: "auth", reason: "meta_code_190_463" });
    expect(metaRequests()).toHaveLength(1);
    // Meta tokens cannot be refreshed: nothing to hand back.
    expect(result.refreshedCredentials).toBeUndefined();
    expectNoSecrets(result);
  });

  it("classifies a revoked token as auth with no retries", async () => {
    world.setFaults("meta", { revokeTokens: true });
    const result = await run([eu.id, us.id], TWO_WEEKS);

    expect(failure(result)).toMatchObject({ code: "auth", reason: "meta_code_190_458" });
    expect(metaRequests()).toHaveLength(1);
    expectNoSecrets(result);
  });

  it("classifies a token Meta does not know as auth", async () => {
    const unknownToken = "EAAB-never-issued-token";
    const result = await run([eu.id], TWO_WEEKS, { accessToken: unknownToken });
    expect(failure(result)).toMatchObject({ code: "auth", reason: "meta_code_190" });
    expectNoSecrets(result, unknownToken);
  });
});

describe("Meta adapter: throttling and transient failures", () => {
  it("returns rate_limited with the wait the usage headers state when it is too long to wait", async () => {
    world.setFaults("meta", { rateLimit: { count: 5, retryAfterSeconds: 150 } });
    const result = await run([eu.id], TWO_WEEKS);

    expect(failure(result)).toMatchObject({
      code: "rate_limited",
      reason: "meta_code_17_2446079",
      retryAfterMs: 150_000,
    });
    expect(insightsRequests()).toHaveLength(1);
    expectNoSecrets(result);
  });

  it("waits out a short rate limit inline, no sooner than Meta asked", async () => {
    world.setFaults("meta", { rateLimit: { count: 1, retryAfterSeconds: 1 } });
    const result = await run([uk.id], TWO_WEEKS);

    expect(byKey(result.rows)).toEqual(byKey(expectedRows(uk, TWO_WEEKS)));
    const [throttled, retried] = insightsRequests();
    expect(retried && throttled && retried.at - throttled.at).toBeGreaterThanOrEqual(1_000);
  });

  it("classifies a persisting 5xx as transient after the inline retries", async () => {
    world.setFaults("meta", { serverErrors: 5 });
    const result = await run([eu.id], TWO_WEEKS);

    expect(failure(result)).toMatchObject({ code: "transient", reason: "meta_code_2" });
    expect(insightsRequests()).toHaveLength(2);
  });

  it("retries a single 5xx away", async () => {
    world.setFaults("meta", { serverErrors: 1 });
    const result = await run([uk.id], TWO_WEEKS);
    expect(byKey(result.rows)).toEqual(byKey(expectedRows(uk, TWO_WEEKS)));
  });

  it("classifies a response slower than the timeout as transient", async () => {
    world.setFaults("meta", { slowMs: 400 });
    const result = await run([eu.id], TWO_WEEKS, {
      settings: { timeoutMs: 150, maxInlineRetries: 0 },
    });
    expect(failure(result)).toMatchObject({ code: "transient", reason: "timeout" });
  });

  it("classifies malformed and truncated bodies as transient", async () => {
    world.setFaults("meta", { malformed: 2 });
    const malformed = await run([eu.id], TWO_WEEKS);
    expect(failure(malformed)).toMatchObject({ code: "transient", reason: "malformed_response" });

    world.setFaults("meta", { truncated: 2 });
    const truncated = await run([eu.id], TWO_WEEKS);
    expect(failure(truncated)?.code).toBe("transient");
  });

  it("never starts more requests in a second than requestsPerSecond", async () => {
    const requestsPerSecond = 4;
    const result = await run([eu.id, us.id, uk.id], TWO_WEEKS, {
      adapter: paged,
      settings: { requestsPerSecond },
    });

    expect(result.accounts.every((outcome) => outcome.status === "ok")).toBe(true);
    const starts = metaRequests().map((entry) => entry.at);
    // 3 account lookups and 3 + 2 + 2 insights pages.
    expect(starts).toHaveLength(10);
    // Arrival at the sandbox trails the limiter's start by a few ms of loopback jitter.
    const jitterMs = 30;
    starts.slice(requestsPerSecond).forEach((at, index) => {
      expect(at - (starts[index] ?? 0)).toBeGreaterThanOrEqual(1_000 - jitterMs);
    });
  });
});

describe("Meta sandbox: request checks", () => {
  const insightsUrl = () => `${sandbox.baseUrls().meta.baseUrl}/v26.0/act_${eu.id}/insights`;
  const valid = {
    level: "campaign",
    time_increment: "1",
    time_range: '{"since":"2026-01-01","until":"2026-01-02"}',
    fields: "campaign_id,campaign_name,spend",
  };
  const get = (params: Record<string, string>, auth = true) =>
    axios.get<unknown>(insightsUrl(), {
      params,
      headers: auth ? { Authorization: `Bearer ${token}` } : {},
      validateStatus: () => true,
    });

  it("answers a valid query with data, cursors and usage headers", async () => {
    const response = await get({ ...valid, limit: "4" });
    expect(response.status).toBe(200);
    expect(response.data).toMatchObject({
      data: expect.any(Array) as unknown,
      paging: {
        cursors: { before: "MAZDZD", after: "MwZDZD" },
        next: expect.any(String) as unknown,
      },
    });
    expect(Object.keys(response.headers)).toEqual(
      expect.arrayContaining([
        "x-business-use-case-usage",
        "x-ad-account-usage",
        "x-fb-ads-insights-throttle",
      ]),
    );
  });

  it.each([
    ["no access token", {}, false, 104, "An access token is required to request this resource."],
    [
      "no level",
      { level: "" },
      true,
      100,
      "(#100) level must be one of the following values: ad, adset, campaign, account",
    ],
    ["no fields", { fields: "" }, true, 100, "(#100) param fields must be non-empty."],
    [
      "an unknown field",
      { fields: "campaign_id,reach_estimate" },
      true,
      100,
      "(#100) reach_estimate is not valid for fields param.",
    ],
    [
      "a time_range that is not JSON",
      { time_range: "since=2026-01-01" },
      true,
      100,
      "(#100) param time_range must be non-empty.",
    ],
    ["an invalid cursor", { after: "not-a-cursor" }, true, 100, "Invalid parameter"],
  ])("answers %s with Meta's error body", async (_what, change, auth, code, message) => {
    const response = await get({ ...valid, ...change }, auth);
    expect(response.status).toBe(400);
    expect(response.data).toMatchObject({
      error: { code, type: "OAuthException", fbtrace_id: expect.any(String) as unknown },
    });
    const { error } = response.data as { error: { message: string } };
    expect(error.message.startsWith(message.replace(/\.$/, ""))).toBe(true);
  });
});
