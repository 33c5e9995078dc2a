/**
 * Google Ads adapter, pure parts: response parsing and mapping, error classification, date
 * slicing, customer ids, token expiry. Bodies are shaped like Google's documented examples and
 * real bodies quoted in public issues (cited per test).
 */
import type { ProviderError } from "../../../src/providers/errors";
import { googleAdapter } from "../../../src/providers/google";
import { parseDuration } from "../../../src/providers/google/errors";
import { toMetricRows } from "../../../src/providers/google/map";
import {
  campaignDailyQuery,
  customerId,
  MAX_SLICE_DAYS,
} from "../../../src/providers/google/query";
import { searchStreamResponseSchema } from "../../../src/providers/google/schema";
import { EAGER_REFRESH_MS } from "../../../src/providers/google/tokens";
import { DEFAULT_RATE_LIMIT_WAIT_MS, type RawResponse } from "../../../src/providers/http";
import { sliceRange } from "../../../src/providers/ranges";
import type { ProviderErrorCode } from "../../../src/providers/types";

const NOW = Date.parse("2026-03-01T12:00:00Z");

function classify(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): ProviderError | undefined {
  const raw: RawResponse = { status, headers, body };
  return googleAdapter.classify(raw, { now: NOW, pause: () => undefined });
}

/** A GoogleAdsFailure Status body as Google Ads sends it. */
function adsFailure(
  code: number,
  status: string,
  message: string,
  errorCode: Record<string, string>,
  errorMessage: string,
): unknown {
  return {
    error: {
      code,
      message,
      status,
      details: [
        {
          "@type": "type.googleapis.com/google.ads.googleads.v21.errors.GoogleAdsFailure",
          errors: [{ errorCode, message: errorMessage }],
          requestId: "xN_KaZRHZuU6Rlgt3cM2uQ",
        },
      ],
    },
  };
}

/** A row with only the fields the adapter selects. */
const streamRow = (metrics: Record<string, unknown>, campaignId = "222") => ({
  customer: { currencyCode: "USD", timeZone: "America/New_York" },
  campaign: { id: campaignId, name: "Display" },
  metrics,
  segments: { date: "2026-01-02" },
});

const mapStream = (...results: unknown[]) =>
  toMetricRows("1234567890", searchStreamResponseSchema.parse([{ results }]));

describe("searchStream parsing and mapping", () => {
  // The documented REST response: an array of batches, int64 as strings, doubles as numbers
  // (https://developers.google.com/google-ads/api/rest/common/search; provider-apis notes §1.3).
  const documented = [
    {
      results: [
        {
          customer: {
            resourceName: "customers/1234567890",
            id: "1234567890",
            currencyCode: "EUR",
            timeZone: "Europe/Berlin",
          },
          campaign: {
            resourceName: "customers/1234567890/campaigns/111",
            id: "111",
            name: "Brand - DE",
            status: "ENABLED",
          },
          metrics: {
            impressions: "1520",
            clicks: "87",
            costMicros: "41230000",
            conversions: 3.5,
            conversionsValue: 210.0,
          },
          segments: { date: "2026-01-01" },
        },
      ],
      fieldMask:
        "customer.id,customer.currencyCode,customer.timeZone,campaign.id,campaign.name,campaign.status,metrics.impressions,metrics.clicks,metrics.costMicros,metrics.conversions,metrics.conversionsValue,segments.date",
      requestId: "xN_KaZRHZuU6Rlgt3cM2uQ",
      queryResourceConsumption: "304",
    },
  ];

  it("maps the documented example to one normalised row", () => {
    const batches = searchStreamResponseSchema.parse(documented);
    expect(toMetricRows("1234567890", batches)).toEqual([
      {
        provider: "google",
        accountId: "1234567890",
        campaignId: "111",
        campaignName: "Brand - DE",
        date: "2026-01-01",
        timeZone: "Europe/Berlin",
        currency: "EUR",
        impressions: 1520,
        clicks: 87,
        spendMicros: 41_230_000n,
        conversions: 3.5,
        conversionValueMicros: 210_000_000n,
      },
    ]);
  });

  it("reads metrics proto3 JSON omitted as zero", () => {
    // Zero-valued fields are left out of proto3 JSON: here everything but impressions.
    expect(mapStream(streamRow({ impressions: "12" }))[0]).toMatchObject({
      impressions: 12,
      clicks: 0,
      spendMicros: 0n,
      conversions: 0,
      conversionValueMicros: 0n,
    });
  });

  it("concatenates every batch and accepts batches without results", () => {
    const row = documented[0]?.results[0];
    const batches = searchStreamResponseSchema.parse([
      { results: [row, row], fieldMask: "campaign.id", requestId: "a" },
      { results: [row], fieldMask: "campaign.id", requestId: "a" },
      { fieldMask: "campaign.id", requestId: "a" },
    ]);
    expect(toMetricRows("1234567890", batches)).toHaveLength(3);
  });

  it("converts conversion values exactly, without float drift", () => {
    const [row] = mapStream(
      streamRow(
        { costMicros: "123456789012", conversions: 0.3333333333, conversionsValue: 1234.56 },
        "9007199254740993",
      ),
    );
    expect(row?.conversionValueMicros).toBe(1_234_560_000n);
    expect(row?.spendMicros).toBe(123_456_789_012n);
    expect(row?.conversions).toBe(0.333333);
    // Ids above 2^53 stay exact because they are never turned into numbers.
    expect(row?.campaignId).toBe("9007199254740993");
  });

  it("keeps cost_micros past 2^53 exact, and refuses a count too large to hold exactly", () => {
    expect(mapStream(streamRow({ costMicros: "9007199254740993" }))[0]?.spendMicros).toBe(
      9_007_199_254_740_993n,
    );
    expect(() => mapStream(streamRow({ impressions: "9007199254740993" }))).toThrow(RangeError);
  });

  it("rejects rows that are not what the API documents", () => {
    const { customer: _customer, ...withoutCustomer } = streamRow({});
    const invalid = [
      [{ results: [withoutCustomer] }],
      [{ results: [streamRow({ clicks: "12.5" })] }],
      [{ results: [{ ...streamRow({}), segments: { date: "2026-02-30T00:00:00Z" } }] }],
      { results: [] },
    ];
    for (const body of invalid) {
      expect(searchStreamResponseSchema.safeParse(body).success).toBe(false);
    }
  });
});

describe("error classification", () => {
  it("classifies RESOURCE_EXHAUSTED as rate_limited with quotaErrorDetails.retryDelay", () => {
    // Real body from PipedreamHQ/pipedream#21554 (provider-apis notes §1.6).
    const body = {
      error: {
        code: 429,
        message: "Resource has been exhausted (e.g. check quota).",
        status: "RESOURCE_EXHAUSTED",
        details: [
          {
            "@type": "type.googleapis.com/google.ads.googleads.v21.errors.GoogleAdsFailure",
            errors: [
              {
                errorCode: { quotaError: "RESOURCE_EXHAUSTED" },
                message: "Too many requests. Retry in 40591 seconds.",
                details: {
                  quotaErrorDetails: {
                    rateScope: "DEVELOPER",
                    rateName: "Number of operations for basic access",
                    retryDelay: "40591s",
                  },
                },
              },
            ],
            requestId: "xN_KaZRHZuU6Rlgt3cM2uQ",
          },
        ],
      },
    };
    const error = classify(429, body);
    expect(error?.code).toBe("rate_limited");
    expect(error?.reason).toBe("resource_exhausted");
    expect(error?.retryAfterMs).toBe(40_591_000);
    expect(error?.message).toContain("Retry in 40591 seconds");
  });

  it.each([
    ["ACCOUNT", "Requests per account", "account"],
    ["DEVELOPER", "Number of operations for basic access", "platform"],
    ["UNSPECIFIED", "", "platform"],
    [undefined, undefined, "platform"],
  ] as const)(
    "holds back for rateScope %s what it names: %s → %s",
    (rateScope, rateName, scope) => {
      // QuotaErrorDetails.QuotaRateScope: ACCOUNT "per customer account quota", DEVELOPER "per
      // project quota"; without a scope the wait is the project's.
      const body = {
        error: {
          code: 429,
          message: "Resource has been exhausted (e.g. check quota).",
          status: "RESOURCE_EXHAUSTED",
          details: [
            {
              errors: [
                {
                  errorCode: { quotaError: "RESOURCE_EXHAUSTED" },
                  message: "Too many requests. Retry in 600 seconds.",
                  details: { quotaErrorDetails: { rateScope, rateName, retryDelay: "600s" } },
                },
              ],
            },
          ],
        },
      };
      expect(classify(429, body)).toMatchObject({
        code: "rate_limited",
        retryAfterMs: 600_000,
        scope,
      });
    },
  );

  it("falls back to Retry-After, then to the default wait, when retryDelay is absent", () => {
    const body = adsFailure(
      429,
      "RESOURCE_EXHAUSTED",
      "Resource has been exhausted (e.g. check quota).",
      { quotaError: "RESOURCE_TEMPORARILY_EXHAUSTED" },
      "Too many requests.",
    );
    expect(classify(429, body, { "retry-after": "7" })?.retryAfterMs).toBe(7000);
    expect(classify(429, body)?.retryAfterMs).toBe(DEFAULT_RATE_LIMIT_WAIT_MS);
    expect(classify(429, body)?.reason).toBe("resource_temporarily_exhausted");
  });

  it("parses protobuf Duration JSON, rounding up", () => {
    expect(parseDuration("40591s")).toBe(40_591_000);
    expect(parseDuration("1.500s")).toBe(1500);
    expect(parseDuration("0.000000001s")).toBe(1);
    expect(parseDuration("3")).toBeUndefined();
    expect(parseDuration(undefined)).toBeUndefined();
  });

  it("classifies an invalid or expired access token as auth", () => {
    // Real body from googleads/googleads-php-lib#671.
    const body = {
      error: {
        code: 401,
        message:
          "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
        status: "UNAUTHENTICATED",
      },
    };
    expect(classify(401, body)).toMatchObject({ code: "auth", reason: "unauthenticated" });
  });

  // GoogleAdsFailure codes with their real messages: NOT_ADS_USER from cohnen/mcp-google-ads#7,
  // USER_PERMISSION_DENIED from googleads/google-ads-php#876, CUSTOMER_NOT_ENABLED from the
  // adwords-api forum (msg100682), the rest from the Google Ads API reference (v25 errors).
  it.each<[string, number, string, Record<string, string>, string, ProviderErrorCode]>([
    [
      "NOT_ADS_USER as auth: the user must connect another Google login",
      401,
      "UNAUTHENTICATED",
      { authenticationError: "NOT_ADS_USER" },
      "The Google account (@gmail.com user) that generated the OAuth access tokens is not associated with any Ads accounts.",
      "auth",
    ],
    [
      "CUSTOMER_NOT_FOUND as permanent: it is about the account, a refresh cannot fix it",
      401,
      "UNAUTHENTICATED",
      { authenticationError: "CUSTOMER_NOT_FOUND" },
      "No customer found for the provided customer ID.",
      "permanent",
    ],
    [
      "USER_PERMISSION_DENIED as permanent",
      403,
      "PERMISSION_DENIED",
      { authorizationError: "USER_PERMISSION_DENIED" },
      "User doesn't have permission to access customer. Note: If you're accessing a client customer, the manager's customer id must be set in the 'login-customer-id' header.",
      "permanent",
    ],
    [
      "CUSTOMER_NOT_ENABLED as permanent",
      403,
      "PERMISSION_DENIED",
      { authorizationError: "CUSTOMER_NOT_ENABLED" },
      "The customer can't be used because it isn't enabled.",
      "permanent",
    ],
    [
      "a GAQL error as permanent",
      400,
      "INVALID_ARGUMENT",
      { queryError: "UNRECOGNIZED_FIELD" },
      "Error in query: Unrecognized field in the query: 'metrics.nope'.",
      "permanent",
    ],
    [
      "ACCESS_PROHIBITED as permanent: waiting does not help",
      429,
      "RESOURCE_EXHAUSTED",
      { quotaError: "ACCESS_PROHIBITED" },
      "Access is prohibited.",
      "permanent",
    ],
    [
      "INTERNAL_ERROR as transient",
      500,
      "INTERNAL",
      { internalError: "INTERNAL_ERROR" },
      "An internal error has occurred.",
      "transient",
    ],
    [
      "TRANSIENT_ERROR as transient",
      503,
      "UNAVAILABLE",
      { internalError: "TRANSIENT_ERROR" },
      "The API encountered an unexpected transient error.",
      "transient",
    ],
  ])("classifies %s", (_, httpStatus, status, errorCode, message, expected) => {
    const error = classify(
      httpStatus,
      adsFailure(httpStatus, status, "Status message", errorCode, message),
    );
    expect(error).toMatchObject({
      code: expected,
      reason: Object.values(errorCode)[0]?.toLowerCase(),
    });
    expect(error?.message).toBe(`${status}: ${message}`);
  });

  it("classifies canonical statuses without a GoogleAdsFailure by the status", () => {
    const cases: Array<[number, string, ProviderErrorCode]> = [
      [404, "NOT_FOUND", "permanent"],
      [400, "FAILED_PRECONDITION", "permanent"],
      [500, "UNKNOWN", "transient"],
      [504, "DEADLINE_EXCEEDED", "transient"],
      [409, "ABORTED", "transient"],
    ];
    for (const [code, status, expected] of cases) {
      const error = classify(code, { error: { code, message: "x", status } });
      expect({ status, code: error?.code, reason: error?.reason }).toEqual({
        status,
        code: expected,
        reason: status.toLowerCase(),
      });
    }
  });

  it("classifies a Status without a known status name by its HTTP-equivalent code", () => {
    expect(classify(502, { error: { code: 502, message: "Bad gateway" } })?.code).toBe("transient");
    expect(classify(400, { error: { code: 400, message: "Bad request" } })?.code).toBe("permanent");
  });

  it("catches a stream that failed after it started (HTTP 200, Status as last element)", () => {
    // REST server streaming cannot change the status once sent (googleapis/gapic-showcase#1377).
    const body = [
      { results: [], fieldMask: "campaign.id", requestId: "a" },
      {
        error: {
          code: 503,
          message: "The service is currently unavailable.",
          status: "UNAVAILABLE",
        },
      },
    ];
    expect(classify(200, body)).toMatchObject({ code: "transient", reason: "unavailable" });
  });

  it("accepts a successful stream and leaves other failures to the HTTP-status fallback", () => {
    expect(classify(200, [{ results: [], fieldMask: "campaign.id" }])).toBeUndefined();
    expect(classify(200, [])).toBeUndefined();
    // An HTML error page from a proxy: not a Google body, so the runner classifies by status.
    expect(classify(502, undefined)).toBeUndefined();
  });

  it("classifies a refused refresh token (invalid_grant) as auth", () => {
    // Google Ads common-errors page and marois-archive/laravel-ads-sdk#17.
    for (const description of ["Token has been expired or revoked.", "Bad Request"]) {
      const error = classify(400, { error: "invalid_grant", error_description: description });
      expect(error).toMatchObject({ code: "auth", reason: "invalid_grant" });
      expect(error?.message).toContain(description);
    }
  });

  it("classifies other token-endpoint refusals as permanent configuration errors", () => {
    // Real body from googleads/googleads-php-lib#588.
    expect(
      classify(401, { error: "unauthorized_client", error_description: "Unauthorized" }),
    ).toMatchObject({ code: "permanent", reason: "oauth_unauthorized_client" });
    expect(
      classify(401, {
        error: "invalid_client",
        error_description: "The OAuth client was not found.",
      }),
    ).toMatchObject({ code: "permanent", reason: "oauth_invalid_client" });
    // A 5xx from the token endpoint is left to the status fallback (transient).
    expect(classify(503, { error: "server_error" })).toBeUndefined();
  });
});

describe("date slicing", () => {
  it("keeps a range of up to 90 days in one query", () => {
    expect(sliceRange({ since: "2026-01-01", until: "2026-01-01" }, MAX_SLICE_DAYS)).toEqual([
      { since: "2026-01-01", until: "2026-01-01" },
    ]);
    expect(sliceRange({ since: "2026-01-01", until: "2026-03-31" }, MAX_SLICE_DAYS)).toEqual([
      { since: "2026-01-01", until: "2026-03-31" },
    ]);
  });

  it("splits longer ranges into consecutive slices of at most 90 days, across leap days", () => {
    const slices = sliceRange({ since: "2023-12-01", until: "2024-12-31" }, MAX_SLICE_DAYS);
    expect(slices[0]).toEqual({ since: "2023-12-01", until: "2024-02-28" });
    expect(slices[1]?.since).toBe("2024-02-29");
    expect(slices.at(-1)?.until).toBe("2024-12-31");
    let days = 0;
    for (const [index, slice] of slices.entries()) {
      const length = (Date.parse(slice.until) - Date.parse(slice.since)) / 86_400_000 + 1;
      expect(length).toBeLessThanOrEqual(MAX_SLICE_DAYS);
      const next = slices[index + 1];
      if (next) {
        expect(Date.parse(next.since) - Date.parse(slice.until)).toBe(86_400_000);
      }
      days += length;
    }
    expect(days).toBe(397);
  });
});

describe("request building", () => {
  it("asks for the daily campaign metrics of exactly the slice", () => {
    expect(campaignDailyQuery({ since: "2026-01-01", until: "2026-01-31" })).toBe(
      "SELECT campaign.id, campaign.name, segments.date, customer.currency_code, customer.time_zone, metrics.impressions, metrics.clicks, metrics.cost_micros, metrics.conversions, metrics.conversions_value FROM campaign WHERE segments.date BETWEEN '2026-01-01' AND '2026-01-31'",
    );
  });

  it("accepts customer ids with the UI's dashes and refuses anything else", () => {
    expect(customerId("123-456-7890", "account id")).toBe("1234567890");
    expect(customerId(" 1234567890 ", "account id")).toBe("1234567890");
    for (const bad of ["12345", "123-456-789a", "act_1234567890", "12345678901"]) {
      let thrown: unknown;
      try {
        customerId(bad, "account id");
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toMatchObject({ code: "permanent", reason: "invalid_customer_id" });
    }
  });
});

describe("token expiry", () => {
  const tokens = googleAdapter.tokens;

  it("refreshes when the token expires within five minutes", () => {
    const base = { accessToken: "a", refreshToken: "r" };
    expect(tokens?.isExpiring({ ...base, expiresAt: NOW + EAGER_REFRESH_MS + 1 }, NOW)).toBe(false);
    expect(tokens?.isExpiring({ ...base, expiresAt: NOW + EAGER_REFRESH_MS }, NOW)).toBe(true);
    expect(tokens?.isExpiring({ ...base, expiresAt: NOW - 1 }, NOW)).toBe(true);
  });

  it("refreshes a token of unknown age only when it can", () => {
    expect(tokens?.isExpiring({ accessToken: "a", refreshToken: "r" }, NOW)).toBe(true);
    expect(tokens?.isExpiring({ accessToken: "a" }, NOW)).toBe(false);
  });
});
