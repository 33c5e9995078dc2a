/**
 * What only the TikTok adapter does, over real HTTP against the TikTok sandbox: a token TikTok
 * never issued, its advertiser errors, backfill slices through asynchronous report tasks (checked
 * until done, split when one fails or never finishes). The contract every platform shares is
 * asserted in `providers.contract.test.ts`. The last block checks the sandbox's request
 * validation itself, so the adapter is tested against TikTok's rules and not a lenient stub.
 */
import axios from "axios";

import type { RunningSandbox } from "../../dev/sandbox/server";
import { tiktokSandbox } from "../../dev/sandbox/tiktok";
import type { SandboxWorld } from "../../dev/sandbox/world";
import { tiktokAdapter } from "../../src/providers/tiktok";
import type { DateRange } from "../../src/providers/types";
import {
  byDayAndCampaign,
  expectedRows,
  expectNoSecrets,
  failure,
  type FetchedRows,
  queriedRanges,
  requestsTo,
  runAdapter,
  sandboxAccount,
  startWorld,
} from "../harness/sandbox";

const account = (id: string, campaigns: number, timeZone: string, currency: string) =>
  sandboxAccount("tiktok", id, campaigns, timeZone, currency, `Advertiser ${id.slice(-1)}`);

const SMALL = account("7000000000000000002", 3, "Etc/GMT-8", "EUR");
const TOKYO = account("7000000000000000003", 2, "Asia/Tokyo", "JPY");
/** Campaign names with a comma and quotes: the CSV of a task's output must quote them. */
const QUOTED = sandboxAccount(
  "tiktok",
  "7000000000000000005",
  3,
  "America/Los_Angeles",
  "USD",
  'Acme, "Spring" Ltd',
);
const UNKNOWN_ID = "7000000000000000999";

const SHORT: DateRange = { since: "2026-03-01", until: "2026-03-03" };

let world: SandboxWorld;
let sandbox: RunningSandbox;
let token: string;

beforeEach(async () => {
  ({ world, sandbox } = await startWorld([SMALL, TOKYO, QUOTED], [tiktokSandbox]));
  token = world.issueTokens("tiktok").accessToken;
});

afterEach(() => sandbox.stop());

function run(accountIds: string[]): Promise<FetchedRows> {
  return runAdapter(tiktokAdapter, sandbox, {
    credentials: { accessToken: token },
    accountIds,
    range: SHORT,
  });
}

const tiktokRequests = () => requestsTo(world, "tiktok");

describe("TikTok adapter against the sandbox", () => {
  it("fails every account with auth on a token TikTok never issued, without retries", async () => {
    token = "tiktok-at-never-issued";
    const result = await run([SMALL.id, TOKYO.id]);

    expect(result.rows).toEqual([]);
    expect(result.refreshedCredentials).toBeUndefined();
    expect(result.accounts.map((outcome) => outcome.status === "failed" && outcome.error)).toEqual([
      expect.objectContaining({ code: "auth", reason: "tiktok_code_40105" }),
      expect.objectContaining({ code: "auth", reason: "tiktok_code_40105" }),
    ]);
    expect(tiktokRequests()).toHaveLength(1);
    expectNoSecrets(result, [token]);
  });

  it.each([
    ["an advertiser that does not exist", UNKNOWN_ID, "tiktok_code_40300"],
    ["an advertiser id TikTok refuses as a parameter", "act_123", "tiktok_code_40002"],
  ])("classifies %s as permanent, not retried", async (_what, accountId, reason) => {
    const result = await run([accountId]);

    expect(result.accounts).toEqual([
      {
        accountId,
        status: "failed",
        error: expect.objectContaining({ code: "permanent", reason }) as unknown,
      },
    ]);
    expect(tiktokRequests()).toHaveLength(1);
  });
});

describe("backfill slices through asynchronous report tasks (bulk)", () => {
  /** Small waits, as a test affords; each check is still one request. */
  const FAST = { asyncPollMs: 5, asyncMaxWaitMs: 2_000 };

  function fetchRange(
    accountIds: string[],
    range: DateRange,
    bulk: boolean,
    settings: Record<string, unknown> = {},
  ): Promise<FetchedRows> {
    return runAdapter(
      tiktokAdapter,
      sandbox,
      { credentials: { accessToken: token }, accountIds, range, ...(bulk ? { bulk } : {}) },
      { settings: { ...FAST, ...settings } },
    );
  }

  const tasks = (what: "create" | "check" | "download" | "cancel") =>
    requestsTo(world, "tiktok", new RegExp(`/report/task/${what}/$`));
  const taskRanges = () => queriedRanges(world, "tiktok", false);

  it("returns exactly the rows the synchronous path returns, from one task over 45 days", async () => {
    // Longer than the synchronous report's 30 days: one task, two synchronous slices.
    const range = { since: "2026-01-01", until: "2026-02-14" };
    const synchronous = await fetchRange([QUOTED.id], range, false);
    const syncRequests = world.requestLog.length;
    expect(tasks("create")).toHaveLength(0);

    const bulk = await fetchRange([QUOTED.id], range, true);

    expect(bulk.accounts).toEqual([synchronous.accounts[0]]);
    expect(byDayAndCampaign(bulk.rows)).toEqual(byDayAndCampaign(synchronous.rows));
    expect(byDayAndCampaign(bulk.rows)).toEqual(
      byDayAndCampaign(expectedRows(world, QUOTED, range)),
    );
    // One QueryRecord per task created, none per check or download.
    expect(world.queryLog.slice(2)).toEqual([
      expect.objectContaining({ accountId: QUOTED.id, ...range, rows: 45 * 3, tooLarge: false }),
    ]);
    expect(
      world.requestLog.slice(syncRequests).map((entry) => entry.path.replace(/^.*v1\.3/, "")),
    ).toEqual([
      "/advertiser/info/",
      "/report/task/create/",
      "/report/task/check/",
      "/report/task/check/",
      "/report/task/download/",
    ]);
  });

  it("backfills through the synchronous report when the app may not create tasks (40118)", async () => {
    world.setFaults("tiktok", { asyncReports: { notAllowed: true } });
    const range = { since: "2026-01-01", until: "2026-02-14" };
    const bulk = await fetchRange([QUOTED.id], range, true);

    expect(bulk.accounts).toEqual([expect.objectContaining({ status: "ok", rows: 45 * 3 })]);
    expect(byDayAndCampaign(bulk.rows)).toEqual(
      byDayAndCampaign(expectedRows(world, QUOTED, range)),
    );
    // One refused create, then the synchronous report's 30-day slices.
    expect(tasks("create")).toHaveLength(1);
    expect(world.queryLog.map(({ since, until }) => ({ since, until }))).toEqual([
      { since: "2026-01-01", until: "2026-01-30" },
      { since: "2026-01-31", until: "2026-02-14" },
    ]);
  });

  it("checks a task asyncPollMs apart until it is done, as often as checksBeforeDone says", async () => {
    world.setFaults("tiktok", { asyncReports: { checksBeforeDone: 3 } });
    const range = { since: "2026-03-01", until: "2026-03-10" };
    const result = await fetchRange([SMALL.id], range, true, { asyncPollMs: 60 });

    expect(byDayAndCampaign(result.rows)).toEqual(
      byDayAndCampaign(expectedRows(world, SMALL, range)),
    );
    // Three answers "still running", the fourth SUCCESS; the output is read after it, once.
    const checks = tasks("check").map((entry) => entry.at);
    expect(checks).toHaveLength(4);
    const created = tasks("create")[0]?.at ?? Infinity;
    const gaps = checks.map((at, index) => at - (index === 0 ? created : (checks[index - 1] ?? 0)));
    for (const gap of gaps) {
      expect(gap).toBeGreaterThanOrEqual(50);
    }
    expect(tasks("download")).toHaveLength(1);
    expect(tasks("download")[0]?.at).toBeGreaterThanOrEqual(checks.at(-1) ?? Infinity);
    expect(world.queryLog).toHaveLength(1);
  });

  it("asks for a failed task's range again as two halves, each its own task, rows counted once", async () => {
    world.setFaults("tiktok", { asyncReports: { failReports: 1 } });
    const range = { since: "2026-03-01", until: "2026-03-10" };
    const result = await fetchRange([SMALL.id], range, true);

    expect(result.accounts[0]).toMatchObject({ status: "ok", rows: 30 });
    expect(byDayAndCampaign(result.rows)).toEqual(
      byDayAndCampaign(expectedRows(world, SMALL, range)),
    );
    expect(taskRanges()).toEqual([
      "2026-03-01..2026-03-10",
      "2026-03-01..2026-03-05",
      "2026-03-06..2026-03-10",
    ]);
    expect(world.queryLog).toHaveLength(3);
    expect(tasks("download")).toHaveLength(2);
  });

  it("gives a task up after asyncMaxWaitMs, cancels it and asks for its halves", async () => {
    // 8 days of 3 campaigns (24 campaign-days) never finish; 4-day halves (12) do.
    world.setFaults("tiktok", { asyncReports: { stuckAboveRows: 12 } });
    const range = { since: "2026-03-01", until: "2026-03-08" };
    const started = Date.now();
    const result = await fetchRange([SMALL.id], range, true, {
      asyncPollMs: 10,
      asyncMaxWaitMs: 150,
    });

    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(byDayAndCampaign(result.rows)).toEqual(
      byDayAndCampaign(expectedRows(world, SMALL, range)),
    );
    expect(taskRanges()).toEqual([
      "2026-03-01..2026-03-08",
      "2026-03-01..2026-03-04",
      "2026-03-05..2026-03-08",
    ]);
    expect(tasks("cancel")).toHaveLength(1);
    // Checked until given up (150 ms at one check per 10 ms at most), not forever.
    expect(tasks("check").length).toBeLessThanOrEqual(15 + 2 * 2);
  });

  it("fails a single day whose task still fails as transient", async () => {
    world.setFaults("tiktok", { asyncReports: { failReports: 2 } });
    const range = { since: "2026-03-01", until: "2026-03-02" };
    const result = await fetchRange([SMALL.id], range, true);

    expect(failure(result)).toMatchObject({ code: "transient", reason: "report_task_failed" });
    expect(result.rows).toEqual([]);
    expect(taskRanges()).toEqual(["2026-03-01..2026-03-02", "2026-03-01..2026-03-01"]);
  });

  it("serves a task ten years back: TikTok documents no lookback limit, and history says so", async () => {
    expect(tiktokAdapter.history.retentionMonths).toBeGreaterThanOrEqual(120);
    expect(tiktokAdapter.history.source).toContain("retained forever");
    const range = { since: "2017-01-01", until: "2017-03-31" };
    const result = await fetchRange([TOKYO.id], range, true);

    expect(result.accounts[0]).toMatchObject({ status: "ok", range });
    expect(byDayAndCampaign(result.rows)).toEqual(
      byDayAndCampaign(expectedRows(world, TOKYO, range)),
    );
    expect(tasks("create")).toHaveLength(1);
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

  const post = (path: string, body: unknown, headers: Record<string, string>) =>
    axios.post<unknown>(`${sandbox.baseUrls().tiktok.baseUrl}${path}`, body, {
      headers,
      validateStatus: () => true,
    });

  /** A valid task: 90 days, more than a synchronous daily report may cover. */
  const taskBody = (): Record<string, unknown> => ({
    advertiser_id: SMALL.id,
    report_type: "BASIC",
    data_level: "AUCTION_CAMPAIGN",
    dimensions: ["campaign_id", "stat_time_day"],
    metrics: ["campaign_name", "spend"],
    start_date: "2026-01-01",
    end_date: "2026-03-31",
    enable_report_title_translation: false,
  });

  async function createdTask(body = taskBody()): Promise<string> {
    const response = await post("/report/task/create/", body, withToken());
    expect(response.data).toMatchObject({
      code: 0,
      data: { task_id: expect.any(String) as unknown },
    });
    return (response.data as { data: { task_id: string } }).data.task_id;
  }

  const taskCall = async (path: string, taskId: string, advertiserId = SMALL.id) =>
    (await get(path, { advertiser_id: advertiserId, task_id: taskId }, withToken())).data;

  it("runs a task as TikTok documents it: QUEUING, SUCCESS, then its output as a CSV stream", async () => {
    const taskId = await createdTask();

    expect(await taskCall("/report/task/download/", taskId)).toMatchObject({ code: 40201 });
    expect(await taskCall("/report/task/check/", taskId)).toMatchObject({
      code: 0,
      data: { status: "QUEUING" },
    });
    expect(await taskCall("/report/task/check/", taskId)).toMatchObject({
      code: 0,
      data: { status: "SUCCESS" },
    });
    const output = await get(
      "/report/task/download/",
      { advertiser_id: SMALL.id, task_id: taskId },
      withToken(),
    );
    expect(output.status).toBe(200);
    expect(output.headers["content-type"]).toContain("text/csv");
    const lines = String(output.data).trimEnd().split("\n");
    expect(lines[0]).toBe("campaign_id,stat_time_day,campaign_name,spend");
    expect(lines).toHaveLength(1 + 90 * SMALL.campaigns);
    // One QueryRecord for the task, none for its checks and downloads.
    expect(world.queryLog).toEqual([
      expect.objectContaining({ since: "2026-01-01", until: "2026-03-31", rows: 270 }),
    ]);
  });

  it("titles the output's columns with display names unless translation is turned off", async () => {
    const { enable_report_title_translation: _translation, ...body } = taskBody();
    const taskId = await createdTask(body);
    await taskCall("/report/task/check/", taskId);
    await taskCall("/report/task/check/", taskId);
    const output = await taskCall("/report/task/download/", taskId);
    expect(String(output).split("\n")[0]).toBe("Campaign ID,Date,Campaign Name,Cost");
  });

  it.each<[string, number, Record<string, unknown>, () => Record<string, string>]>([
    ["no Access-Token header", 40104, {}, () => ({})],
    ["a Bearer-prefixed token", 40105, {}, () => ({ "Access-Token": `Bearer ${token}` })],
    ["no advertiser_id", 40002, { advertiser_id: undefined }, withToken],
    // A 19-digit id as a JSON number loses its last digits: no such advertiser.
    ["an advertiser_id sent as a number", 40300, { advertiser_id: Number(SMALL.id) }, withToken],
    [
      "dimensions as a JSON string",
      40002,
      { dimensions: '["campaign_id","stat_time_day"]' },
      withToken,
    ],
    ["an unknown metric", 40002, { metrics: ["spend", "roas_magic"] }, withToken],
    ["an end_date before its start_date", 40002, { end_date: "2025-12-31" }, withToken],
    [
      "an output_format the sandbox does not render",
      40009,
      { output_format: "XLSX_DOWNLOAD" },
      withToken,
    ],
  ])(
    "answers a task with %s with HTTP 200 and code %i, creating none",
    async (_what, code, body, headers) => {
      const response = await post("/report/task/create/", { ...taskBody(), ...body }, headers());
      expect(response.status).toBe(200);
      expect(response.data).toMatchObject({ code, data: {} });
      expect(world.queryLog).toEqual([]);
    },
  );

  it.each(["/report/task/check/", "/report/task/download/"])(
    "answers %s without a task of the advertiser's, or with a wrong token, with TikTok's codes",
    async (path) => {
      const taskId = await createdTask();
      const cases: Array<[Record<string, string>, Record<string, string>, number]> = [
        [{ advertiser_id: SMALL.id }, withToken(), 40002],
        [{ advertiser_id: SMALL.id, task_id: "7300000000000000999" }, withToken(), 40007],
        [{ advertiser_id: TOKYO.id, task_id: taskId }, withToken(), 40007],
        [
          { advertiser_id: SMALL.id, task_id: taskId },
          { "Access-Token": "tiktok-at-never-issued" },
          40105,
        ],
      ];
      for (const [params, headers, code] of cases) {
        const response = await get(path, params, headers);
        expect(response.status).toBe(200);
        expect(response.data).toMatchObject({ code });
      }
    },
  );

  it("cancels a task that is queued, which then has no output, and refuses to cancel it twice", async () => {
    const taskId = await createdTask();
    const cancel = async () =>
      (
        await post(
          "/report/task/cancel/",
          { advertiser_id: SMALL.id, task_id: taskId },
          withToken(),
        )
      ).data;

    expect(await cancel()).toMatchObject({ code: 0, data: { status: "CANCELED" } });
    expect(await taskCall("/report/task/check/", taskId)).toMatchObject({
      code: 0,
      data: { status: "CANCELED" },
    });
    expect(await taskCall("/report/task/download/", taskId)).toMatchObject({ code: 40200 });
    expect(await cancel()).toMatchObject({ code: 40200 });
  });

  it("answers a task endpoint asked with the wrong method with 405", async () => {
    const response = await get("/report/task/create/", {}, withToken());
    expect(response.status).toBe(405);
  });
});
