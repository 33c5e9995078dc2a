import type { ClassifyContext, RawResponse } from "../../../src/providers/http";
import type { PauseScope } from "../../../src/providers/limiter";
import { classifyMeta, readUsage } from "../../../src/providers/meta/classify";
import { nextPageUrl } from "../../../src/providers/meta/index";
import { DEFAULT_CONVERSION_ACTION_TYPES, toMetricRow } from "../../../src/providers/meta/map";
import { insightsPageSchema, insightsRowSchema } from "../../../src/providers/meta/schema";
import { QUERY_TOO_LARGE } from "../../../src/providers/ranges";

const account = { accountId: "act_123", timeZone: "America/Los_Angeles", currency: "USD" };

function row(fields: Record<string, unknown>) {
  return insightsRowSchema.parse({
    campaign_id: "120210000000000001",
    campaign_name: "Prospecting - US",
    date_start: "2026-01-01",
    date_stop: "2026-01-01",
    ...fields,
  });
}

function mapped(fields: Record<string, unknown>, types = DEFAULT_CONVERSION_ACTION_TYPES) {
  return toMetricRow(row(fields), account, types);
}

function classified(status: number, body: unknown, headers: Record<string, string> = {}) {
  const pauses: Array<[number, PauseScope]> = [];
  const ctx: ClassifyContext = {
    now: 0,
    pause: (ms, scope = "platform") => pauses.push([ms, scope]),
  };
  const response: RawResponse = { status, headers, body };
  return { error: classifyMeta(response, ctx), pauses };
}

/** The Graph error envelope (https://developers.facebook.com/docs/graph-api/guides/error-handling). */
function graphError(code: number, message: string, extra: Record<string, unknown> = {}) {
  return { error: { message, type: "OAuthException", code, fbtrace_id: "AFm-w0VSqFxo", ...extra } };
}

describe("Meta insights mapping", () => {
  it("maps the documented example row exactly", () => {
    // The example response of https://developers.facebook.com/docs/marketing-api/insights
    // (provider-apis notes §2.3): every metric and action value is a string.
    const page = insightsPageSchema.parse({
      data: [
        {
          campaign_id: "120210000000000001",
          campaign_name: "Prospecting - US",
          account_currency: "USD",
          impressions: "18342",
          clicks: "402",
          spend: "251.37",
          actions: [
            { action_type: "link_click", value: "377" },
            { action_type: "offsite_conversion.fb_pixel_purchase", value: "9" },
          ],
          date_start: "2026-01-01",
          date_stop: "2026-01-01",
        },
      ],
      paging: {
        cursors: { before: "MAZDZD", after: "MjQZD" },
        next: "https://graph.facebook.com/v25.0/act_123/insights?after=MjQZD",
      },
    });
    const [first] = page.data;
    expect(first && toMetricRow(first, account, DEFAULT_CONVERSION_ACTION_TYPES)).toEqual({
      provider: "meta",
      accountId: "act_123",
      campaignId: "120210000000000001",
      campaignName: "Prospecting - US",
      date: "2026-01-01",
      timeZone: "America/Los_Angeles",
      currency: "USD",
      impressions: 18342,
      clicks: 402,
      spendMicros: 251_370_000n,
      conversions: 9,
      conversionValueMicros: 0n,
    });
  });

  it("counts overlapping purchase types once, taking the most preferred one", () => {
    const result = mapped({
      actions: [
        { action_type: "offsite_conversion.fb_pixel_purchase", value: "2.5" },
        { action_type: "omni_purchase", value: "3" },
      ],
      action_values: [
        { action_type: "offsite_conversion.fb_pixel_purchase", value: "40.1" },
        { action_type: "omni_purchase", value: "52.123457" },
      ],
    });
    expect(result.conversions).toBe(3);
    expect(result.conversionValueMicros).toBe(52_123_457n);
  });

  it("uses a configured action type list", () => {
    const result = mapped(
      {
        actions: [
          { action_type: "lead", value: "4" },
          { action_type: "omni_purchase", value: "1" },
        ],
      },
      ["lead"],
    );
    expect(result.conversions).toBe(4);
  });

  it("reads metrics Meta leaves out as 0", () => {
    expect(mapped({ impressions: "12" })).toMatchObject({
      impressions: 12,
      clicks: 0,
      spendMicros: 0n,
      conversions: 0,
      conversionValueMicros: 0n,
    });
  });

  it("refuses a row that spans more than one day", () => {
    expect(() => row({ date_stop: "2026-01-02" })).toThrow(/exactly one day/);
  });

  it("refuses a non-numeric metric instead of storing a wrong number", () => {
    expect(() => mapped({ spend: "12,50" })).toThrow(RangeError);
  });
});

describe("Meta error classification", () => {
  it("classifies the documented code-17 throttle as rate_limited with the BUC wait", () => {
    // Body from https://developers.facebook.com/docs/marketing-api/overview/rate-limiting, header
    // shape from https://developers.facebook.com/docs/graph-api/overview/rate-limiting.
    const { error, pauses } = classified(
      400,
      graphError(17, "(#17) User request limit reached", { error_subcode: 2446079 }),
      {
        "x-business-use-case-usage": JSON.stringify({
          "1234": [
            {
              type: "ads_insights",
              call_count: 100,
              total_cputime: 8,
              total_time: 10,
              estimated_time_to_regain_access: 5,
            },
          ],
        }),
      },
    );
    expect(error?.toInfo()).toMatchObject({
      code: "rate_limited",
      reason: "meta_code_17_2446079",
      retryAfterMs: 300_000,
    });
    // The Marketing API's code 17 is its ad-account-level limit: the account waits, not the app.
    expect(error?.scope).toBe("account");
    // The header's keyed business object waits too (the HTTP layer pauses the error's scope).
    expect(pauses).toEqual([[300_000, { account: "1234" }]]);
  });

  it.each([
    [17, 2446079, "account"],
    [613, 1487742, "account"],
    [80000, 2446079, "account"],
    [80004, 2446079, "account"],
    [4, 1504022, "platform"],
    [341, undefined, "platform"],
  ] as const)("holds back for code %i/%s what Meta says is limited: %s", (code, subcode, scope) => {
    // https://developers.facebook.com/docs/marketing-api/overview/rate-limiting: 17 and 613 are
    // "at the ad account level", the BUC throttles counted "for each ad account"; 4 is the app's.
    const { error } = classified(
      400,
      graphError(code, `(#${code}) Too many calls.`, subcode ? { error_subcode: subcode } : {}),
    );
    expect(error).toMatchObject({ code: "rate_limited", scope });
  });

  it("takes the ad-account reset time when that limit is the spent one", () => {
    const { error } = classified(
      400,
      graphError(613, "(#613) Calls to this api have exceeded the rate limit.", {
        error_subcode: 1487742,
      }),
      { "x-ad-account-usage": '{"acc_id_util_pct":100,"reset_time_duration":42}' },
    );
    expect(error?.toInfo()).toMatchObject({ code: "rate_limited", retryAfterMs: 42_000 });
  });

  it.each([4, 32, 80000, 80004, 80014])(
    "classifies code %i as rate_limited even though it is flagged transient",
    (code) => {
      const { error } = classified(
        400,
        graphError(code, `(#${code}) There have been too many calls to this ad-account.`, {
          is_transient: true,
          error_subcode: 2446079,
        }),
      );
      // No header states a wait: the default rate-limit wait applies.
      expect(error?.toInfo()).toMatchObject({ code: "rate_limited", retryAfterMs: 60_000 });
    },
  );

  it.each([
    [463, "Error validating access token: Session has expired on Friday, 09-Jan-26."],
    [460, "Error validating access token: The session has been invalidated."],
    [458, "Error validating access token: The user has not authorized application 1."],
    [undefined, "Invalid OAuth access token - Cannot parse access token"],
  ])("classifies code 190 subcode %s as auth", (subcode, message) => {
    const { error } = classified(
      400,
      graphError(190, message, subcode === undefined ? {} : { error_subcode: subcode }),
    );
    expect(error?.code).toBe("auth");
    expect(error?.reason).toBe(`meta_code_190${subcode === undefined ? "" : `_${subcode}`}`);
  });

  it.each([
    [
      403,
      200,
      undefined,
      "(#200) Ad account owner has NOT grant ads_management or ads_read permission",
    ],
    [403, 10, undefined, "(#10) Application does not have permission for this action"],
    [400, 100, 33, "Unsupported get request. Object with ID 'act_1' does not exist"],
    [
      400,
      100,
      undefined,
      "(#100) level must be one of the following values: ad, adset, campaign, account",
    ],
  ])("classifies HTTP %i code %i/%s as permanent", (status, code, subcode, message) => {
    const { error } = classified(
      status,
      graphError(code, message, subcode === undefined ? {} : { error_subcode: subcode }),
    );
    expect(error?.code).toBe("permanent");
  });

  it.each([
    [
      2,
      "An unexpected error has occurred. Please retry your request later.",
      { is_transient: true },
    ],
    [1, "An unknown error occurred", { error_subcode: 99 }],
    [2, "Your request encountered an intermittent error.", { error_subcode: 1504043 }],
  ])("classifies code %i (%s) as transient", (code, message, extra) => {
    expect(classified(500, graphError(code, message, extra)).error?.code).toBe("transient");
  });

  it.each([
    [1, undefined, "Please reduce the amount of data you're asking for, then retry your request"],
    [100, 1487534, "(#100) Please reduce the amount of data you're asking for"],
    [100, 1504018, "Your request timed out. Try a smaller date range"],
    [2, 1504038, "Your request timed out. Try a smaller date range"],
  ])(
    "marks code %i/%s as a query too large, for the adapter to split",
    (code, subcode, message) => {
      // https://developers.facebook.com/docs/marketing-api/insights/error-codes; the code-1 body as
      // Meta sends it with HTTP 500 (airbytehq/airbyte#49977).
      const { error } = classified(
        500,
        graphError(code, message, subcode === undefined ? {} : { error_subcode: subcode }),
      );
      expect(error?.reason).toBe(QUERY_TOO_LARGE);
      // Not retried inline: the same request cannot succeed.
      expect(error?.code).toBe("permanent");
    },
  );

  it("keeps Meta's code for a code it does not know and classifies by HTTP status", () => {
    const deprecated = classified(
      400,
      graphError(2635, "(#2635) You are calling a deprecated version"),
    );
    expect(deprecated.error?.toInfo()).toMatchObject({
      code: "permanent",
      reason: "meta_code_2635",
      message: expect.stringContaining("(fbtrace_id AFm-w0VSqFxo)") as unknown,
    });
    expect(classified(503, graphError(12345, "Something")).error?.code).toBe("transient");
  });

  it("leaves bodies that are not a Graph error to the status and the schema", () => {
    expect(classified(502, "<html>Bad gateway</html>").error).toBeUndefined();
    expect(classified(200, { data: [] }).error).toBeUndefined();
  });
});

describe("Meta usage headers", () => {
  // Header shapes from https://developers.facebook.com/docs/graph-api/overview/rate-limiting.
  it.each([
    [
      "the app's usage near its limit, every request for the default wait",
      { "x-app-usage": '{"call_count":97,"total_time":25,"total_cputime":25}' },
      [[60_000, "platform"]],
    ],
    [
      "the called account's usage near its limit, that account for its reset time",
      { "x-ad-account-usage": '{"acc_id_util_pct":98,"reset_time_duration":42}' },
      [[42_000, "account"]],
    ],
    [
      "a business use case near its limit, the account that keys it for the time to regain access",
      {
        "x-business-use-case-usage":
          '{"66782684":[{"type":"ads_insights","call_count":96,"total_cputime":20,"total_time":20,"estimated_time_to_regain_access":3}],"66782685":[{"type":"ads_insights","call_count":10,"total_cputime":2,"total_time":2,"estimated_time_to_regain_access":0}]}',
      },
      [[180_000, { account: "66782684" }]],
    ],
    [
      "ordinary usage, not at all",
      {
        "x-business-use-case-usage":
          '{"1":[{"type":"ads_insights","call_count":12,"total_cputime":8,"total_time":10,"estimated_time_to_regain_access":0}]}',
        "x-ad-account-usage": '{"acc_id_util_pct":9.67,"reset_time_duration":100}',
      },
      [],
    ],
  ])("pauses a successful call reporting %s", (_what, headers, expected) => {
    const { error, pauses } = classified(200, { data: [] }, headers);
    expect(error).toBeUndefined();
    expect(pauses).toEqual(expected);
  });

  it("reads usage on failed calls too", () => {
    const { error, pauses } = classified(
      403,
      graphError(
        200,
        "(#200) Ad account owner has NOT grant ads_management or ads_read permission",
      ),
      { "x-fb-ads-insights-throttle": '{"app_id_util_pct":99.5,"acc_id_util_pct":3}' },
    );
    expect(error?.code).toBe("permanent");
    expect(pauses).toEqual([[60_000, "platform"]]);
  });

  it("ignores headers that are not the documented JSON", () => {
    expect(readUsage({ "x-app-usage": "{call_count: 99", "x-ad-account-usage": '"full"' })).toEqual(
      {
        app: { peakPercent: 0, waitMs: 0 },
        account: { peakPercent: 0, waitMs: 0 },
        business: {},
      },
    );
  });
});

describe("Meta paging", () => {
  const endpoint = "https://graph.facebook.com/v26.0/act_123/insights";
  const firstPage = { level: "campaign", limit: "25", appsecret_proof: "proof" };
  const auth = { appsecret_proof: "proof" };

  it("asks for the next page by its after cursor against our endpoint", () => {
    const url = nextPageUrl(
      { next: "https://elsewhere.example/x?after=MjQZD", cursors: { after: "MjQZD" } },
      endpoint,
      firstPage,
      auth,
    );
    expect(url).toBe(`${endpoint}?level=campaign&limit=25&appsecret_proof=proof&after=MjQZD`);
  });

  it("follows next verbatim when Meta sends no cursors, with our auth parameters", () => {
    const next = `${endpoint}?level=campaign&limit=25&after=MjQZD&appsecret_proof=stale`;
    expect(nextPageUrl({ next }, endpoint, firstPage, auth)).toBe(
      `${endpoint}?level=campaign&limit=25&after=MjQZD&appsecret_proof=proof`,
    );
  });

  it.each([
    ["another host", "https://graph.evil.example/v26.0/act_123/insights?after=MjQZD"],
    ["another edge", "https://graph.facebook.com/v26.0/act_999/insights?after=MjQZD"],
    ["not a URL", "after=MjQZD"],
  ])("never follows a next without cursors to %s", (_what, next) => {
    expect(nextPageUrl({ next }, endpoint, firstPage, auth)).toBeUndefined();
  });
});
