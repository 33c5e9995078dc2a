/**
 * What only the TikTok adapter does, over real HTTP against the TikTok sandbox: a token TikTok
 * never issued, its advertiser errors. The contract every platform shares is asserted in
 * `providers.contract.test.ts`. The last block checks the sandbox's request validation itself,
 * so the adapter is tested against TikTok's rules and not a lenient stub.
 */
import axios from "axios";

import type { RunningSandbox } from "../../dev/sandbox/server";
import { tiktokSandbox } from "../../dev/sandbox/tiktok";
import type { SandboxWorld } from "../../dev/sandbox/world";
import { tiktokAdapter } from "../../src/providers/tiktok";
import type { DateRange } from "../../src/providers/types";
import {
  expectNoSecrets,
  type FetchedRows,
  requestsTo,
  runAdapter,
  sandboxAccount,
  startWorld,
} from "../harness/sandbox";

const account = (id: string, campaigns: number, timeZone: string, currency: string) =>
  sandboxAccount("tiktok", id, campaigns, timeZone, currency, `Advertiser ${id.slice(-1)}`);

const SMALL = account("7000000000000000002", 3, "Etc/GMT-8", "EUR");
const TOKYO = account("7000000000000000003", 2, "Asia/Tokyo", "JPY");
const UNKNOWN_ID = "7000000000000000999";

const SHORT: DateRange = { since: "2026-03-01", until: "2026-03-03" };

let world: SandboxWorld;
let sandbox: RunningSandbox;
let token: string;

beforeEach(async () => {
  ({ world, sandbox } = await startWorld([SMALL, TOKYO], [tiktokSandbox]));
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
