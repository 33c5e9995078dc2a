/**
 * The TikTok adapter over real HTTP against the TikTok sandbox: slicing, paging, normalisation,
 * every error class from TikTok's own signals, rate-limit waits, the client-side request rate,
 * per-account isolation and redaction. The last block checks the sandbox's request validation
 * itself, so the adapter is tested against TikTok's rules and not a lenient stub.
 */
import axios from "axios";

import { type RunningSandbox, startSandbox } from "../../dev/sandbox/server";
import { tiktokSandbox } from "../../dev/sandbox/tiktok";
import { daysBetween, type SandboxAccount, SandboxWorld } from "../../dev/sandbox/world";
import { fetchMetrics } from "../../src/providers/fetch";
import { RateLimiter, realClock } from "../../src/providers/limiter";
import { parseProviderSettings } from "../../src/providers/settings";
import { tiktokAdapter } from "../../src/providers/tiktok";
import { RATE_LIMIT_WAIT_MS } from "../../src/providers/tiktok/classify";
import type { DateRange, FetchResult, MetricRow } from "../../src/providers/types";

const REPORT_PATH = "/open_api/v1.3/report/integrated/get/";
const INFO_PATH = "/open_api/v1.3/advertiser/info/";

const account = (
  id: string,
  campaigns: number,
  timeZone: string,
  currency: string,
): SandboxAccount => ({
  provider: "tiktok",
  id,
  name: `Advertiser ${id.slice(-1)}`,
  timeZone,
  currency,
  campaigns,
});

/** 40 campaigns × 45 days: two 30-day slices, the first one over two 1000-row pages. */
const LARGE = account("7000000000000000001", 40, "America/New_York", "USD");
const SMALL = account("7000000000000000002", 3, "Etc/GMT-8", "EUR");
const TOKYO = account("7000000000000000003", 2, "Asia/Tokyo", "JPY");
const UNKNOWN_ID = "7000000000000000999";

const SHORT: DateRange = { since: "2026-03-01", until: "2026-03-03" };

let world: SandboxWorld;
let sandbox: RunningSandbox;
let token: string;

beforeEach(async () => {
  world = new SandboxWorld([LARGE, SMALL, TOKYO]);
  sandbox = await startSandbox({ world, platforms: [tiktokSandbox] });
  token = world.issueTokens("tiktok").accessToken;
});

afterEach(async () => {
  await sandbox.stop();
});

interface RunOptions {
  accountIds: string[];
  range?: DateRange;
  settings?: Record<string, number>;
}

function run({ accountIds, range = SHORT, settings = {} }: RunOptions): Promise<FetchResult> {
  const tiktok = parseProviderSettings({
    tiktok: {
      ...sandbox.baseUrls().tiktok,
      timeoutMs: 2_000,
      maxInlineWaitMs: 3_000,
      requestsPerSecond: 100,
      ...settings,
    },
  }).tiktok;
  return fetchMetrics(
    tiktokAdapter,
    {
      settings: tiktok,
      axios: axios.create(),
      limiter: new RateLimiter(tiktok, realClock),
      clock: realClock,
    },
    { credentials: { accessToken: token }, accountIds, range },
  );
}

/** What the sandbox generated for the account, as the adapter must return it. */
function expectedRows(source: SandboxAccount, range: DateRange): MetricRow[] {
  return daysBetween(range.since, range.until).flatMap((date) =>
    world.campaigns(source).map((campaign) => ({
      provider: "tiktok" as const,
      accountId: source.id,
      campaignId: campaign.id,
      campaignName: campaign.name,
      date,
      timeZone: source.timeZone,
      currency: source.currency,
      ...world.metrics(source, campaign.id, date),
    })),
  );
}

const byDayAndCampaign = (rows: readonly MetricRow[]): MetricRow[] =>
  [...rows].sort(
    (a, b) =>
      a.accountId.localeCompare(b.accountId) ||
      a.date.localeCompare(b.date) ||
      a.campaignId.localeCompare(b.campaignId),
  );

function totals(rows: readonly MetricRow[]) {
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

const tiktokRequests = () => world.requestLog.filter((entry) => entry.provider === "tiktok");

describe("TikTok adapter against the sandbox", () => {
  it("returns every campaign-day of a 45-day range across 30-day slices and 1000-row pages", async () => {
    const range = { since: "2026-01-01", until: "2026-02-14" };
    const result = await run({ accountIds: [LARGE.id], range });

    expect(result.accounts).toEqual([{ accountId: LARGE.id, status: "ok", rows: 40 * 45 }]);
    expect(byDayAndCampaign(result.rows)).toEqual(expectedRows(LARGE, range));
    // Advertiser info, slice 1 (1200 rows) pages 1-2, slice 2 (600 rows) page 1.
    expect(tiktokRequests().map((entry) => entry.path)).toEqual([
      INFO_PATH,
      REPORT_PATH,
      REPORT_PATH,
      REPORT_PATH,
    ]);
    expect(totals(result.rows)).toEqual(totals(expectedRows(LARGE, range)));
  });

  it("waits TikTok's documented 1 s after a 40100 before retrying, then succeeds", async () => {
    world.setFaults("tiktok", { rateLimit: { count: 1, retryAfterSeconds: 1 } });
    const result = await run({ accountIds: [SMALL.id] });

    expect(byDayAndCampaign(result.rows)).toEqual(expectedRows(SMALL, SHORT));
    const [info, limited, retried, ...rest] = tiktokRequests();
    expect([info?.path, limited?.path, retried?.path, rest]).toEqual([
      INFO_PATH,
      REPORT_PATH,
      REPORT_PATH,
      [],
    ]);
    expect((retried?.at ?? 0) - (limited?.at ?? 0)).toBeGreaterThanOrEqual(RATE_LIMIT_WAIT_MS);
  });

  it("hands a 40100 back as rate_limited with the wait when it exceeds the inline budget", async () => {
    world.setFaults("tiktok", { rateLimit: { count: 1, retryAfterSeconds: 1 } });
    const result = await run({ accountIds: [SMALL.id], settings: { maxInlineWaitMs: 500 } });

    expect(result.accounts).toEqual([
      {
        accountId: SMALL.id,
        status: "failed",
        error: expect.objectContaining({
          code: "rate_limited",
          reason: "tiktok_code_40100",
          retryAfterMs: RATE_LIMIT_WAIT_MS,
        }) as unknown,
      },
    ]);
    expect(tiktokRequests()).toHaveLength(2);
  });

  it.each([
    ["an expired", () => world.expireAccessTokens("tiktok"), "tiktok_code_40102"],
    ["a revoked", () => world.setFaults("tiktok", { revokeTokens: true }), "tiktok_code_40105"],
    ["an unknown", () => (token = "tiktok-at-never-issued"), "tiktok_code_40105"],
  ])(
    "fails every account with auth on %s token, without retries or refresh",
    async (_what, spoil, reason) => {
      spoil();
      const result = await run({ accountIds: [SMALL.id, TOKYO.id] });

      expect(result.rows).toEqual([]);
      expect(result.refreshedCredentials).toBeUndefined();
      expect(
        result.accounts.map((outcome) => outcome.status === "failed" && outcome.error),
      ).toEqual([
        expect.objectContaining({ code: "auth", reason }),
        expect.objectContaining({ code: "auth", reason }),
      ]);
      expect(tiktokRequests()).toHaveLength(1);
    },
  );

  it("retries a 5xx inline and succeeds", async () => {
    world.setFaults("tiktok", { serverErrors: 1 });
    const result = await run({ accountIds: [SMALL.id] });

    expect(byDayAndCampaign(result.rows)).toEqual(expectedRows(SMALL, SHORT));
    expect(tiktokRequests().map((entry) => entry.path)).toEqual([
      INFO_PATH,
      REPORT_PATH,
      REPORT_PATH,
    ]);
  });

  it.each([
    ["a 5xx", { serverErrors: 1 }, {}, "tiktok_code_50000"],
    ["a response slower than the timeout", { slowMs: 400 }, { timeoutMs: 150 }, "timeout"],
    ["a body that is not JSON", { malformed: 1 }, {}, "malformed_response"],
    // The connection closes before the announced length has arrived.
    ["a truncated body", { truncated: 1 }, {}, "network"],
  ])("classifies %s as transient", async (_what, faults, settings, reason) => {
    world.setFaults("tiktok", faults);
    const result = await run({
      accountIds: [SMALL.id],
      settings: { maxInlineRetries: 0, ...settings },
    });

    expect(result.accounts).toEqual([
      {
        accountId: SMALL.id,
        status: "failed",
        error: expect.objectContaining({ code: "transient", reason }) as unknown,
      },
    ]);
  });

  it.each([
    ["an advertiser the token may not operate", SMALL.id, "tiktok_code_40001"],
    ["an advertiser that does not exist", UNKNOWN_ID, "tiktok_code_40300"],
    ["an advertiser id TikTok refuses as a parameter", "act_123", "tiktok_code_40002"],
  ])("classifies %s as permanent, not retried", async (_what, accountId, reason) => {
    world.setFaults("tiktok", { forbiddenAccounts: [SMALL.id] });
    const result = await run({ accountIds: [accountId] });

    expect(result.accounts).toEqual([
      {
        accountId,
        status: "failed",
        error: expect.objectContaining({ code: "permanent", reason }) as unknown,
      },
    ]);
    expect(tiktokRequests()).toHaveLength(1);
  });

  it("never starts more requests in a second than requestsPerSecond", async () => {
    const requestsPerSecond = 4;
    const range = { since: "2026-01-01", until: "2026-02-14" };
    const result = await run({
      accountIds: [LARGE.id, SMALL.id],
      range,
      settings: { requestsPerSecond },
    });

    expect(result.rows).toHaveLength((40 + 3) * 45);
    const starts = tiktokRequests().map((entry) => entry.at);
    // 4 requests for LARGE, 3 for SMALL: at least one limiter wait happened.
    expect(starts).toHaveLength(7);
    // The sandbox logs arrival, not the limiter's start: allow for event-loop delay between the
    // two (unthrottled, all 7 requests would arrive within a few tens of ms).
    const jitterMs = 100;
    for (const start of starts) {
      const inWindow = starts.filter((at) => at >= start && at < start + 1_000 - jitterMs);
      expect(inWindow.length).toBeLessThanOrEqual(requestsPerSecond);
    }
  });

  it("loses only the failing account's rows when one of three fails", async () => {
    world.setFaults("tiktok", { forbiddenAccounts: [SMALL.id] });
    const result = await run({ accountIds: [TOKYO.id, SMALL.id, LARGE.id] });

    expect(result.accounts).toEqual([
      { accountId: TOKYO.id, status: "ok", rows: 2 * 3 },
      {
        accountId: SMALL.id,
        status: "failed",
        error: expect.objectContaining({ code: "permanent" }) as unknown,
      },
      { accountId: LARGE.id, status: "ok", rows: 40 * 3 },
    ]);
    expect(byDayAndCampaign(result.rows)).toEqual(
      byDayAndCampaign([...expectedRows(TOKYO, SHORT), ...expectedRows(LARGE, SHORT)]),
    );
  });

  it("keeps the token out of every result, failed or not", async () => {
    world.setFaults("tiktok", { forbiddenAccounts: [SMALL.id], serverErrors: 1 });
    const mixed = await run({
      accountIds: [TOKYO.id, SMALL.id, UNKNOWN_ID],
      settings: { maxInlineRetries: 0 },
    });
    world.setFaults("tiktok", { revokeTokens: true });
    const revoked = await run({ accountIds: [TOKYO.id] });

    expect(mixed.accounts.map((outcome) => outcome.status)).toEqual(["failed", "failed", "failed"]);
    expect(revoked.accounts[0]?.status).toBe("failed");
    expect(JSON.stringify([mixed, revoked])).not.toContain(token);
  });
});

describe("TikTok sandbox request checks", () => {
  const validParams = (): Record<string, string> => ({
    advertiser_id: SMALL.id,
    report_type: "BASIC",
    data_level: "AUCTION_CAMPAIGN",
    dimensions: '["campaign_id","stat_time_day"]',
    metrics: '["campaign_name","spend"]',
    start_date: "2026-01-01",
    end_date: "2026-01-30",
    page: "1",
    page_size: "1000",
  });

  const get = (path: string, params: Record<string, string>, headers: Record<string, string>) =>
    axios.get<unknown>(`${sandbox.baseUrls().tiktok.baseUrl}${path}`, {
      params,
      headers,
      validateStatus: () => true,
    });

  it("answers a valid request with code 0 and page_info", async () => {
    const response = await get("/report/integrated/get/", validParams(), {
      "Access-Token": token,
    });
    expect(response.status).toBe(200);
    expect(response.data).toMatchObject({
      code: 0,
      data: { page_info: { page: 1, page_size: 1000, total_number: 90, total_page: 1 } },
    });
  });

  const withToken = () => ({ "Access-Token": token });

  it.each<[string, number, Record<string, string>, () => Record<string, string>]>([
    ["no Access-Token header", 40104, {}, () => ({})],
    ["a Bearer-prefixed token", 40105, {}, () => ({ "Access-Token": `Bearer ${token}` })],
    ["no advertiser_id", 40002, { advertiser_id: "" }, withToken],
    ["dimensions that are not a JSON list", 40002, { dimensions: "campaign_id" }, withToken],
    ["an unknown metric", 40002, { metrics: '["spend","roas_magic"]' }, withToken],
    ["more than 30 days", 40002, { end_date: "2026-01-31" }, withToken],
    ["page_size above 1000", 40002, { page_size: "1001" }, withToken],
  ])("answers %s with HTTP 200 and code %i", async (_what, code, params, headers) => {
    const response = await get(
      "/report/integrated/get/",
      { ...validParams(), ...params },
      headers(),
    );
    expect(response.status).toBe(200);
    expect(response.data).toMatchObject({ code, data: {} });
  });

  it("answers a path without its trailing slash with 404", async () => {
    const response = await get("/report/integrated/get", validParams(), { "Access-Token": token });
    expect(response.status).toBe(404);
  });
});
