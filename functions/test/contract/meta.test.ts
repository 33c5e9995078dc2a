/**
 * What only the Meta adapter does, over real HTTP against the sandbox's Meta Marketing API:
 * `act_` ids, archived and deleted campaigns (which insights leave out unless filtered for),
 * `paging.next` without cursors, range splitting when Meta asks for less data, appsecret_proof,
 * Meta's own permanent and token errors. The contract every platform shares is asserted in
 * `providers.contract.test.ts`; the last block checks the sandbox's own request validation.
 */
import axios from "axios";

import {
  META_MAX_CAMPAIGN_DAYS,
  META_SANDBOX_APP_SECRET,
  metaSandbox,
} from "../../dev/sandbox/meta";
import type { RunningSandbox } from "../../dev/sandbox/server";
import type { SandboxAccount, SandboxWorld } from "../../dev/sandbox/world";
import { createMetaAdapter, metaAdapter } from "../../src/providers/meta";
import type { DateRange } from "../../src/providers/types";
import {
  byDayAndCampaign,
  expectedRows,
  expectNoSecrets,
  failure,
  requestsTo,
  runAdapter,
  startWorld,
  totals,
} from "../harness/sandbox";

const eu: SandboxAccount = {
  provider: "meta",
  id: "1010101010",
  name: "Acme EU",
  timeZone: "Europe/Berlin",
  currency: "EUR",
  campaigns: 5,
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
/** Four campaigns, the third archived and the fourth deleted since: all four spent. */
const retired: SandboxAccount = {
  ...eu,
  id: "6060606060",
  name: "Acme Retired",
  campaigns: 4,
  archivedCampaigns: 1,
  deletedCampaigns: 1,
};

const TWO_WEEKS: DateRange = { since: "2026-01-25", until: "2026-02-07" };
/** 25 rows a page, so two weeks of five campaigns (70 rows) take three pages. */
const paged = createMetaAdapter({ pageSize: 25 });

let sandbox: RunningSandbox;
let world: SandboxWorld;
let token: string;

beforeEach(async () => {
  ({ world, sandbox } = await startWorld([eu, uk, huge, retired], [metaSandbox]));
  token = world.issueTokens("meta").accessToken;
});

afterEach(() => sandbox.stop());

interface RunOptions {
  settings?: Record<string, unknown>;
  adapter?: typeof metaAdapter;
  accessToken?: string;
}

function run(accountIds: string[], range: DateRange, options: RunOptions = {}) {
  return runAdapter(
    options.adapter ?? metaAdapter,
    sandbox,
    { credentials: { accessToken: options.accessToken ?? token }, accountIds, range },
    {
      settings: { timeoutMs: 1_000, maxInlineRetries: 1, concurrency: 2, ...options.settings },
    },
  );
}

const metaRequests = () => requestsTo(world, "meta");
const insightsRequests = () => requestsTo(world, "meta", /\/insights$/);

describe("Meta adapter: data", () => {
  it("accepts act_-prefixed ids, reporting rows under the canonical id", async () => {
    const result = await run([`act_${uk.id}`], TWO_WEEKS);

    // Rows carry the number alone; the outcome keeps the id as the caller spelled it.
    const expected = expectedRows(world, uk, TWO_WEEKS);
    expect(byDayAndCampaign(result.rows)).toEqual(byDayAndCampaign(expected));
    expect(result.accounts).toEqual([
      {
        accountId: `act_${uk.id}`,
        status: "ok",
        rows: expected.length,
        range: TWO_WEEKS,
        timeZone: uk.timeZone,
      },
    ]);
  });

  it("includes archived and deleted campaigns, which insights leave out unless asked", async () => {
    const result = await run([retired.id], TWO_WEEKS);

    const expected = expectedRows(world, retired, TWO_WEEKS);
    expect(totals(result.rows)).toEqual(totals(expected));
    expect(byDayAndCampaign(result.rows)).toEqual(byDayAndCampaign(expected));
    expect(new Set(result.rows.map((row) => row.campaignId))).toEqual(
      new Set(world.campaigns(retired).map((campaign) => campaign.id)),
    );
  });

  it("follows paging.next when Meta sends it without cursors", async () => {
    world.setFaults("meta", { pagingWithoutCursors: true });
    const result = await run([eu.id], TWO_WEEKS, { adapter: paged });

    const expected = expectedRows(world, eu, TWO_WEEKS);
    expect(byDayAndCampaign(result.rows)).toEqual(byDayAndCampaign(expected));
    expect(result.accounts).toEqual([
      {
        accountId: eu.id,
        status: "ok",
        rows: expected.length,
        range: TWO_WEEKS,
        timeZone: eu.timeZone,
      },
    ]);
    // 70 rows at 25 a page: three pages, each asked for once.
    expect(insightsRequests()).toHaveLength(3);
  });

  it("splits the date range when Meta asks to reduce the amount of data", async () => {
    // 45 days × 5 campaigns exceeds what one query may cover: 45 → 23 + 22 → 12 + 11 + 11 + 11.
    const range = { since: "2026-01-01", until: "2026-02-14" };
    const result = await run([eu.id], range, { adapter: paged });

    const expected = expectedRows(world, eu, range);
    expect(byDayAndCampaign(result.rows)).toEqual(byDayAndCampaign(expected));
    expect(totals(result.rows)).toEqual(totals(expected));
    // Three refused queries (45, 23 and 22 days), then 3 pages for each of the four slices.
    expect(insightsRequests()).toHaveLength(3 + 4 * 3);
  });

  it("fails permanently when even a single day is too much data", async () => {
    const result = await run([huge.id], { since: "2026-01-01", until: "2026-01-03" });

    expect(failure(result)).toMatchObject({
      code: "permanent",
      reason: "query_too_large",
      message: expect.stringContaining("single day 2026-01-01") as unknown,
    });
    // 3 days refused, then 2 days, then the first single day: no further retries.
    expect(insightsRequests()).toHaveLength(3);
    expect(result.rows).toEqual([]);
  });

  it("sends appsecret_proof when the app secret is configured", async () => {
    // The sandbox verifies the proof against its app secret and refuses a wrong one.
    const ok = await run([uk.id], TWO_WEEKS, { settings: { appSecret: META_SANDBOX_APP_SECRET } });
    expect(byDayAndCampaign(ok.rows)).toEqual(byDayAndCampaign(expectedRows(world, uk, TWO_WEEKS)));

    const wrongSecret = "not-the-sandbox-app-secret";
    const refused = await run([uk.id], TWO_WEEKS, { settings: { appSecret: wrongSecret } });
    expect(failure(refused)).toMatchObject({ code: "permanent", reason: "meta_code_100" });
    expectNoSecrets(refused, [token, wrongSecret]);
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
  it("classifies a token Meta does not know as auth", async () => {
    const unknownToken = "EAAB-never-issued-token";
    const result = await run([eu.id], TWO_WEEKS, { accessToken: unknownToken });
    expect(failure(result)).toMatchObject({ code: "auth", reason: "meta_code_190" });
    expectNoSecrets(result, [token, unknownToken]);
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

  it("leaves archived and deleted campaigns out unless filtering asks for their status", async () => {
    const url = `${sandbox.baseUrls().meta.baseUrl}/v26.0/act_${retired.id}/insights`;
    const campaignsOf = async (params: Record<string, string>) => {
      const response = await axios.get<{ data: Array<{ campaign_id: string }> }>(url, {
        params: { ...valid, limit: "100", ...params },
        headers: { Authorization: `Bearer ${token}` },
      });
      return [...new Set(response.data.data.map((row) => row.campaign_id))];
    };
    const [live1, live2, archived, deleted] = world.campaigns(retired).map(({ id }) => id);
    const filter = (field: string, value: string[]) =>
      JSON.stringify([{ field, operator: "IN", value }]);

    expect(await campaignsOf({})).toEqual([live1, live2]);
    expect(
      await campaignsOf({ filtering: filter("ad.effective_status", ["ACTIVE", "ARCHIVED"]) }),
    ).toEqual([live1, live2, archived]);
    expect(
      await campaignsOf({ filtering: filter("campaign.effective_status", ["DELETED"]) }),
    ).toEqual([deleted]);
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
    [
      "a status filter with an unknown status",
      { filtering: '[{"field":"ad.effective_status","operator":"IN","value":["GONE"]}]' },
      true,
      100,
      "(#100) Filtering field 'ad.effective_status' with operation 'in' and value 'GONE' is not supported",
    ],
    [
      "filtering that is not a JSON list",
      { filtering: "ad.effective_status=ACTIVE" },
      true,
      100,
      "(#100) param filtering must be an array of objects with field, operator and value.",
    ],
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
