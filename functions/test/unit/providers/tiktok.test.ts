/**
 * Pure TikTok parsing, mapping and classification. Bodies follow TikTok's documented shapes:
 * the report example of `GET /report/integrated/get/`
 * (https://business-api.tiktok.com/portal/docs?id=1740302848100353, as quoted in
 * provider-apis.md §4.3) and the return codes of
 * https://business-api.tiktok.com/portal/docs?id=1737172488964097.
 */
import type { RawResponse } from "../../../src/providers/http";
import { QUERY_TOO_LARGE } from "../../../src/providers/ranges";
import { classifyTikTok, RATE_LIMIT_WAIT_MS } from "../../../src/providers/tiktok/classify";
import { assertCompleteReport, toMetricRow } from "../../../src/providers/tiktok/map";
import {
  type AdvertiserInfo,
  advertiserInfoResponseSchema,
  reportResponseSchema,
} from "../../../src/providers/tiktok/schema";

const ctx = { now: 0, pause: () => undefined };

function body(code: number, message: string): RawResponse {
  return {
    status: 200,
    headers: { "content-type": "application/json" },
    body: { code, message, request_id: "202203232218030102452410100E00D348", data: {} },
  };
}

/** The documented report example, with the value metric we request added. */
const documentedReport = {
  code: 0,
  message: "OK",
  request_id: "20260102112233445566778899AABBCC",
  data: {
    page_info: { page: 1, page_size: 1000, total_number: 2, total_page: 1 },
    list: [
      {
        dimensions: { campaign_id: "1780000000000001", stat_time_day: "2026-01-01 00:00:00" },
        metrics: {
          campaign_name: "Spark - Jan",
          spend: "125.50",
          impressions: "23241",
          clicks: "947",
          conversion: "12",
          cost_per_conversion: "10.46",
          total_complete_payment_rate: "480.25",
        },
      },
      {
        dimensions: { campaign_id: "1780000000000001", stat_time_day: "2026-01-02 00:00:00" },
        metrics: {
          campaign_name: "Spark - Jan",
          spend: "98.10",
          impressions: "18011",
          clicks: "602",
          conversion: "0",
          cost_per_conversion: "-",
          total_complete_payment_rate: "-",
        },
      },
    ],
  },
};

const advertiser: AdvertiserInfo = {
  advertiser_id: "7000000000000000000",
  currency: "USD",
  timezone: "Etc/GMT+8",
};

describe("classifyTikTok", () => {
  it("accepts a code 0 answer", () => {
    expect(classifyTikTok({ status: 200, headers: {}, body: documentedReport }, ctx)).toBe(
      undefined,
    );
  });

  it.each([
    // Message from a live 40100 (airbytehq/airbyte#70992).
    [40100, "Due to too many requests, requests from App 7 are temporarily restricted."],
    [40016, "Requests made too frequently."],
    [
      40133,
      "Advertiser (7)'s QPS (21) reaches QPS limit 20 for current path, request is temporarily restricted.",
    ],
  ])("classifies %i as rate_limited with the documented 1 s wait", (code, message) => {
    const error = classifyTikTok(body(code, message), ctx);
    expect(error?.toInfo()).toEqual({
      code: "rate_limited",
      reason: `tiktok_code_${code}`,
      message: `TikTok code ${code}: ${message} (request_id 202203232218030102452410100E00D348)`,
      retryAfterMs: RATE_LIMIT_WAIT_MS,
    });
  });

  it.each([
    [40100, "platform"],
    [40016, "platform"],
    [40133, "account"],
  ] as const)("holds back for %i what the return-code table names: %s", (code, scope) => {
    // 40100/40016: "the rate limit for the endpoint at the developer application level";
    // 40133: "the rate limit for the used endpoint at the advertiser level".
    expect(classifyTikTok(body(code, "Requests made too frequently."), ctx)?.scope).toBe(scope);
  });

  it.each([
    [40102, "Access token has expired."],
    // Observed live on an unauthenticated request (api-evangelist/tiktok-ads error catalogue).
    [40104, "Access token is null, you should set it in http header with key Access-Token."],
    [40105, "Access token is incorrect or has been revoked."],
  ])("classifies token code %i as auth", (code, message) => {
    expect(classifyTikTok(body(code, message), ctx)?.code).toBe("auth");
  });

  it.each([
    [40001, "No permission to operate advertiser 7."],
    // Message from a live 40002 (airbytehq/airbyte#11375).
    [
      40002,
      "Please correct the information in invalid metric fields and try again. Invalid metric fields: ['voucher_spend', 'cash_spend']. ",
    ],
    [40106, "The core user is invalid."],
    [40119, "Developer and advertisers do not belong to the same company."],
    [40300, "The advertiser does not exist or has been deleted."],
  ])("classifies %i as permanent", (code, message) => {
    expect(classifyTikTok(body(code, message), ctx)?.code).toBe("permanent");
  });

  it("marks 40067 as a query too large, for the adapter to split", () => {
    const error = classifyTikTok(body(40067, "The report covers too much data."), ctx);
    expect(error).toMatchObject({ code: "permanent", reason: QUERY_TOO_LARGE });
    expect(error?.message).toContain("TikTok code 40067");
  });

  it.each([50000, 50002, 51305, 60001])("classifies system code %i as transient", (code) => {
    expect(classifyTikTok(body(code, "System error"), ctx)?.code).toBe("transient");
  });

  it("classifies the code even when the HTTP status is 5xx", () => {
    const error = classifyTikTok({ ...body(50000, "System error"), status: 500 }, ctx);
    expect(error?.reason).toBe("tiktok_code_50000");
  });

  it("leaves bodies without TikTok's envelope to the HTTP status and the schema", () => {
    expect(classifyTikTok({ status: 504, headers: {}, body: undefined }, ctx)).toBe(undefined);
    expect(classifyTikTok({ status: 200, headers: {}, body: { data: {} } }, ctx)).toBe(undefined);
  });
});

describe("TikTok report mapping", () => {
  it("maps the documented example to normalised rows, '-' as 0", () => {
    const parsed = reportResponseSchema.parse(documentedReport);
    expect(parsed.data.list.map((row) => toMetricRow(row, advertiser))).toEqual([
      {
        provider: "tiktok",
        accountId: "7000000000000000000",
        campaignId: "1780000000000001",
        campaignName: "Spark - Jan",
        date: "2026-01-01",
        timeZone: "Etc/GMT+8",
        currency: "USD",
        impressions: 23241,
        clicks: 947,
        spendMicros: 125_500_000n,
        conversions: 12,
        conversionValueMicros: 480_250_000n,
      },
      {
        provider: "tiktok",
        accountId: "7000000000000000000",
        campaignId: "1780000000000001",
        campaignName: "Spark - Jan",
        date: "2026-01-02",
        timeZone: "Etc/GMT+8",
        currency: "USD",
        impressions: 18011,
        clicks: 602,
        spendMicros: 98_100_000n,
        conversions: 0,
        conversionValueMicros: 0n,
      },
    ]);
  });

  it("keeps money and fractional conversions exact", () => {
    const [row] = reportResponseSchema.parse({
      ...documentedReport,
      data: {
        ...documentedReport.data,
        list: [
          {
            dimensions: { campaign_id: "1", stat_time_day: "2026-03-01 00:00:00" },
            metrics: {
              campaign_name: "c",
              spend: "1234567.89",
              impressions: "9007199254740991",
              clicks: "-",
              conversion: "2.5",
              total_complete_payment_rate: "0.01",
            },
          },
        ],
      },
    }).data.list;
    expect(row && toMetricRow(row, advertiser)).toMatchObject({
      spendMicros: 1_234_567_890_000n,
      impressions: Number.MAX_SAFE_INTEGER,
      clicks: 0,
      conversions: 2.5,
      conversionValueMicros: 10_000n,
    });
  });

  it.each([
    ["a metric that is not a decimal string", { spend: "1,234.00" }],
    ["a metric sent as a number", { impressions: 10 }],
    ["a missing metric", { clicks: undefined }],
  ])("rejects %s", (_what, metrics) => {
    const [first] = documentedReport.data.list;
    const broken = { ...first, metrics: { ...first?.metrics, ...metrics } };
    const result = reportResponseSchema.safeParse({
      ...documentedReport,
      data: { ...documentedReport.data, list: [broken] },
    });
    expect(result.success).toBe(false);
  });

  it("rejects a day that is not 'YYYY-MM-DD 00:00:00'", () => {
    const [first] = documentedReport.data.list;
    const result = reportResponseSchema.safeParse({
      ...documentedReport,
      data: {
        ...documentedReport.data,
        list: [{ ...first, dimensions: { campaign_id: "1", stat_time_day: "2026-01-01" } }],
      },
    });
    expect(result.success).toBe(false);
  });
});

describe("TikTok advertiser info", () => {
  const info = (entry: Record<string, unknown>) => ({
    code: 0,
    message: "OK",
    request_id: "20260102112233445566778899AABBCC",
    data: { list: [{ ...advertiser, ...entry }] },
  });

  it("accepts GMT-offset and regional zone names", () => {
    expect(advertiserInfoResponseSchema.safeParse(info({})).success).toBe(true);
    expect(
      advertiserInfoResponseSchema.safeParse(info({ timezone: "America/Los_Angeles" })).success,
    ).toBe(true);
  });

  it.each([
    ["an unknown time zone", { timezone: "Mars/Olympus_Mons" }],
    ["a currency that is not ISO 4217", { currency: "usd" }],
    ["a numeric advertiser id", { advertiser_id: 7 }],
  ])("rejects %s", (_what, entry) => {
    expect(advertiserInfoResponseSchema.safeParse(info(entry)).success).toBe(false);
  });
});

describe("assertCompleteReport", () => {
  const rows = reportResponseSchema
    .parse(documentedReport)
    .data.list.map((row) => toMetricRow(row, advertiser));

  it("accepts the pages when they hold exactly the announced rows", () => {
    expect(() => assertCompleteReport(rows, 2, "report")).not.toThrow();
  });

  it.each([
    ["a row moved onto a later page", [...rows, ...rows.slice(0, 1)], 3],
    ["a row missed", rows.slice(1), 2],
  ])("reports %s as a transient change", (_what, pages, total) => {
    expect(() => assertCompleteReport(pages, total, "report")).toThrow(
      expect.objectContaining({ code: "transient", reason: "report_changed" }) as Error,
    );
  });
});
