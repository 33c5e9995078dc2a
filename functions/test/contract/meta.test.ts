/**
 * What only the Meta adapter does, over real HTTP against the sandbox's Meta Marketing API:
 * `act_` ids, archived and deleted campaigns (which insights leave out unless filtered for),
 * `paging.next` without cursors, range splitting when Meta asks for less data, appsecret_proof,
 * asynchronous report runs for backfill slices (`bulk`), the 37-month history limit, Meta's own
 * permanent and token errors. The contract every platform shares is asserted in
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
import { dayIn } from "../../src/providers/ranges";
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
  /** A backfill slice: Meta's asynchronous report runs. */
  bulk?: boolean;
}

function run(accountIds: string[], range: DateRange, options: RunOptions = {}) {
  return runAdapter(
    options.adapter ?? metaAdapter,
    sandbox,
    {
      credentials: { accessToken: options.accessToken ?? token },
      accountIds,
      range,
      ...(options.bulk ? { bulk: true } : {}),
    },
    {
      settings: {
        timeoutMs: 1_000,
        maxInlineRetries: 1,
        concurrency: 2,
        // Report runs checked every 5 ms, given up after 2 s: the tests stay fast.
        asyncPollMs: 5,
        asyncMaxWaitMs: 2_000,
        ...options.settings,
      },
    },
  );
}

const metaRequests = () => requestsTo(world, "meta");
const insightsRequests = () => requestsTo(world, "meta", /\/insights$/);
/** Requests to Ad Report Run nodes (`/{v}/{report_run_id}`): status checks. */
const statusChecks = () => requestsTo(world, "meta", /^\/v[\d.]+\/\d+$/);
/** Requests to a report run's results (`/{v}/{report_run_id}/insights`). */
const resultPages = () => requestsTo(world, "meta", /^\/v[\d.]+\/\d+\/insights$/);
/** The report queries Meta answered or refused, in order. */
const queries = () =>
  world.queryLog.map(({ since, until, tooLarge }) => ({ since, until, tooLarge }));

const THIRTY_DAYS: DateRange = { since: "2026-01-01", until: "2026-01-30" };
const HALVES = [
  { since: "2026-01-01", until: "2026-01-15", tooLarge: false },
  { since: "2026-01-16", until: "2026-01-30", tooLarge: false },
];

const DAY_MS = 86_400_000;
const dayBefore = (day: string) =>
  new Date(Date.parse(`${day}T00:00:00Z`) - DAY_MS).toISOString().slice(0, 10);
const daysAfter = (day: string, days: number) =>
  new Date(Date.parse(`${day}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);

/**
 * The first day Meta serves insights for, "37 months from the current date" (error 3018) in the
 * account's zone: the same day of the month 37 months back, or that month's last day.
 */
function oldestServedDay(timeZone: string): string {
  const [year = 0, month = 1, day = 1] = dayIn(Date.now(), timeZone).split("-").map(Number);
  const monthStart = new Date(Date.UTC(year, month - 1 - 37, 1));
  const monthDays = new Date(
    Date.UTC(monthStart.getUTCFullYear(), monthStart.getUTCMonth() + 1, 0),
  ).getUTCDate();
  monthStart.setUTCDate(Math.min(day, monthDays));
  return monthStart.toISOString().slice(0, 10);
}

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

describe("Meta adapter: asynchronous report runs (bulk)", () => {
  it("fetches a backfill slice through one report run, with exactly the sync path's rows", async () => {
    const sync = await run([retired.id], THIRTY_DAYS, { adapter: paged });
    world.queryLog.length = 0;
    world.requestLog.length = 0;

    const bulk = await run([retired.id], THIRTY_DAYS, { adapter: paged, bulk: true });

    // Archived and deleted campaigns included, each campaign-day once, mapped as sync maps it.
    expect(byDayAndCampaign(bulk.rows)).toEqual(byDayAndCampaign(sync.rows));
    expect(byDayAndCampaign(bulk.rows)).toEqual(
      byDayAndCampaign(expectedRows(world, retired, THIRTY_DAYS)),
    );
    expect(bulk.accounts).toEqual(sync.accounts);
    // One report run for the whole slice, recorded once: not per status check or result page.
    expect(queries()).toEqual([{ ...THIRTY_DAYS, tooLarge: false }]);
    expect(insightsRequests().filter((entry) => entry.path.includes("/act_"))).toHaveLength(1);
    // One "not yet" (checksBeforeDone defaults to 1), then done; 120 rows at 25 a page.
    expect(statusChecks()).toHaveLength(2);
    expect(resultPages()).toHaveLength(5);
  });

  it("checks a run's status every asyncPollMs until it completes", async () => {
    world.setFaults("meta", { asyncReports: { checksBeforeDone: 3 } });
    const result = await run([uk.id], TWO_WEEKS, { bulk: true, settings: { asyncPollMs: 40 } });

    expect(byDayAndCampaign(result.rows)).toEqual(
      byDayAndCampaign(expectedRows(world, uk, TWO_WEEKS)),
    );
    // Three answers "not yet", the fourth "Job Completed".
    const checks = statusChecks();
    expect(checks).toHaveLength(4);
    // Each check waits asyncPollMs after the creation or the check before (a few ms of timer
    // and loopback jitter allowed).
    const arrivals = [insightsRequests()[0]?.at ?? 0, ...checks.map((entry) => entry.at)];
    for (let i = 1; i < arrivals.length; i += 1) {
      expect((arrivals[i] ?? 0) - (arrivals[i - 1] ?? 0)).toBeGreaterThanOrEqual(40 - 5);
    }
  });

  it("asks for a failed run's range again in halves, the rows adding up exactly once", async () => {
    world.setFaults("meta", { asyncReports: { failReports: 1 } });
    const result = await run([retired.id], THIRTY_DAYS, { bulk: true });

    const expected = expectedRows(world, retired, THIRTY_DAYS);
    expect(byDayAndCampaign(result.rows)).toEqual(byDayAndCampaign(expected));
    expect(totals(result.rows)).toEqual(totals(expected));
    expect(result.accounts[0]?.status).toBe("ok");
    // The failed run, then one run for each half; each created once.
    expect(queries()).toEqual([{ ...THIRTY_DAYS, tooLarge: false }, ...HALVES]);
  });

  it("gives up on a run still running after asyncMaxWaitMs and asks for its halves", async () => {
    // 30 days × 4 campaigns never complete; 15 days × 4 do.
    world.setFaults("meta", { asyncReports: { stuckAboveRows: 60 } });
    const result = await run([retired.id], THIRTY_DAYS, {
      bulk: true,
      // Healthy runs need two checks (50 ms): a wide margin for a loaded machine.
      settings: { asyncPollMs: 25, asyncMaxWaitMs: 500 },
    });

    const expected = expectedRows(world, retired, THIRTY_DAYS);
    expect(byDayAndCampaign(result.rows)).toEqual(byDayAndCampaign(expected));
    expect(queries()).toEqual([{ ...THIRTY_DAYS, tooLarge: false }, ...HALVES]);
    // The stuck run was checked for asyncMaxWaitMs, then left: at most one check per poll.
    const stuck = statusChecks().filter((entry) => entry.path === statusChecks()[0]?.path);
    const created = insightsRequests()[0]?.at ?? 0;
    expect((stuck.at(-1)?.at ?? 0) - created).toBeGreaterThanOrEqual(500 - 5);
    expect(stuck.length).toBeLessThanOrEqual(500 / 25 + 1);
  });

  it("fails a single day whose run keeps failing as transient, as Meta says to retry later", async () => {
    world.setFaults("meta", { asyncReports: { failReports: 5 } });
    const result = await run([uk.id], { since: "2026-01-01", until: "2026-01-02" }, { bulk: true });

    expect(failure(result)).toMatchObject({
      code: "transient",
      reason: "meta_code_-2_2490547",
      message: expect.stringContaining("Generating the report failed") as unknown,
    });
    expect(result.rows).toEqual([]);
    // Two days, then the first day alone: a single day is not asked again.
    expect(queries()).toEqual([
      { since: "2026-01-01", until: "2026-01-02", tooLarge: false },
      { since: "2026-01-01", until: "2026-01-01", tooLarge: false },
    ]);
  });
});

describe("Meta adapter: history limit", () => {
  it.each([
    ["synchronous insights", false],
    ["a report run", true],
  ])("fails a range starting over 37 months ago as beyond_retention (%s)", async (_what, bulk) => {
    const since = dayBefore(oldestServedDay(eu.timeZone));
    const result = await run([eu.id], { since, until: daysAfter(since, 9) }, { bulk });

    expect(failure(result)).toMatchObject({
      code: "permanent",
      reason: "beyond_retention",
      message: expect.stringContaining("cannot be beyond 37 months") as unknown,
    });
    // Refused as a whole, never split: no smaller range of those days exists.
    expect(insightsRequests()).toHaveLength(1);
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

  it("refuses a time_range starting over 37 months ago, read or as a report run, with code 3018", async () => {
    const oldest = oldestServedDay(eu.timeZone);
    const range = (since: string) => JSON.stringify({ since, until: daysAfter(since, 1) });
    const post = (params: Record<string, string>) =>
      axios.post<unknown>(insightsUrl(), new URLSearchParams(params), {
        headers: { Authorization: `Bearer ${token}` },
        validateStatus: () => true,
      });
    // The real body (airbytehq/airbyte source-facebook-marketing unit_tests/test_errors.py).
    const refusal = {
      error: {
        message:
          "(#3018) The start date of the time range cannot be beyond 37 months from the current date",
        type: "OAuthException",
        code: 3018,
        fbtrace_id: expect.any(String) as unknown,
      },
    };
    for (const send of [get, post]) {
      const refused = await send({ ...valid, time_range: range(dayBefore(oldest)) });
      expect(refused.status).toBe(400);
      expect(refused.data).toEqual(refusal);
      // The oldest day Meta keeps is still served.
      expect((await send({ ...valid, time_range: range(oldest) })).status).toBe(200);
    }
  });

  it("renders a report run as Meta documents it: created, checked, then its results", async () => {
    world.setFaults("meta", { asyncReports: { checksBeforeDone: 2 } });
    const auth = { headers: { Authorization: `Bearer ${token}` }, validateStatus: () => true };
    const created = await axios.post<{ report_run_id: string }>(
      insightsUrl(),
      new URLSearchParams(valid),
      auth,
    );
    expect(created.status).toBe(200);
    expect(created.data).toEqual({ report_run_id: expect.stringMatching(/^\d+$/) as unknown });
    const runUrl = `${sandbox.baseUrls().meta.baseUrl}/v26.0/${created.data.report_run_id}`;

    const statuses: unknown[] = [];
    for (let check = 0; check < 3; check += 1) {
      statuses.push((await axios.get<unknown>(runUrl, auth)).data);
    }
    expect(statuses).toEqual([
      expect.objectContaining({ async_status: "Job Not Started", async_percent_completion: 0 }),
      expect.objectContaining({ async_status: "Job Started", async_percent_completion: 50 }),
      expect.objectContaining({
        id: created.data.report_run_id,
        account_id: eu.id,
        async_status: "Job Completed",
        async_percent_completion: 100,
        time_completed: expect.any(Number) as unknown,
      }),
    ]);
    // The results page as the synchronous edge: 2 days × 5 campaigns at 4 a page.
    const results = await axios.get<{ data: unknown[]; paging: unknown }>(`${runUrl}/insights`, {
      ...auth,
      params: { limit: "4" },
    });
    const synchronous = await get({ ...valid, limit: "4" });
    expect(results.data).toEqual({
      ...(synchronous.data as object),
      paging: expect.objectContaining({
        cursors: { before: "MAZDZD", after: "MwZDZD" },
      }) as unknown,
    });

    // A failed run says why (v25.0 and later) and has no results.
    world.setFaults("meta", { asyncReports: { checksBeforeDone: 0, failReports: 1 } });
    const failed = await axios.post<{ report_run_id: string }>(
      insightsUrl(),
      new URLSearchParams(valid),
      auth,
    );
    const failedUrl = `${sandbox.baseUrls().meta.baseUrl}/v26.0/${failed.data.report_run_id}`;
    expect((await axios.get<unknown>(failedUrl, auth)).data).toMatchObject({
      async_status: "Job Failed",
      error_code: -2,
      error_subcode: 2490547,
      error_message: "Generating the report failed. Try again later.",
    });
    expect((await axios.get<unknown>(`${failedUrl}/insights`, auth)).status).toBe(400);
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
