/**
 * LinkedIn adapter, pure parts: Rest.li encoding, response parsing and mapping, error
 * classification, date slicing and token expiry. Bodies are shaped as LinkedIn documents them.
 */
import { ProviderError } from "../../../src/providers/errors";
import {
  classifyStatus,
  DEFAULT_RATE_LIMIT_WAIT_MS,
  type RawResponse,
} from "../../../src/providers/http";
import { linkedinAdapter, linkedinTokens } from "../../../src/providers/linkedin";
import { calendarDay, isoDay, toMetricRow } from "../../../src/providers/linkedin/map";
import { encodeRestli, restliQuery } from "../../../src/providers/linkedin/restli";
import {
  analyticsResponseSchema,
  campaignsPageSchema,
  tokenResponseSchema,
} from "../../../src/providers/linkedin/schema";
import { planSlices, refuseCapped } from "../../../src/providers/linkedin/slices";
import { dayCount, fetchSlices, QUERY_TOO_LARGE } from "../../../src/providers/ranges";
import type { DateRange } from "../../../src/providers/types";

describe("Rest.li 2.0 encoding", () => {
  it("builds the adAnalytics query of LinkedIn's documented example", () => {
    // https://learn.microsoft.com/en-us/linkedin/marketing/integrations/ads-reporting/ads-reporting
    // (Analytics Finder, protocol 2.0): structure literal, URN colons as %3A.
    const query = restliQuery(
      {
        q: "analytics",
        pivot: "CAMPAIGN",
        timeGranularity: "DAILY",
        dateRange: {
          start: calendarDay("2026-01-01"),
          end: calendarDay("2026-01-31"),
        },
        accounts: ["urn:li:sponsoredAccount:512345678"],
      },
      ["dateRange", "pivotValues", "impressions", "clicks", "costInLocalCurrency"],
    );
    expect(query).toBe(
      "q=analytics&pivot=CAMPAIGN&timeGranularity=DAILY" +
        "&dateRange=(start:(year:2026,month:1,day:1),end:(year:2026,month:1,day:31))" +
        "&accounts=List(urn%3Ali%3AsponsoredAccount%3A512345678)" +
        "&fields=dateRange,pivotValues,impressions,clicks,costInLocalCurrency",
    );
  });

  it("escapes the Rest.li reserved characters inside values, and spaces and slashes", () => {
    expect(encodeRestli("a(b)c,d:e'f g/h")).toBe("a%28b%29c%2Cd%3Ae%27f%20g%2Fh");
    expect(encodeRestli(["x,y", ["z"]])).toBe("List(x%2Cy,List(z))");
  });

  it("encodes the campaign finder's search criteria as Airbyte and LinkedIn's examples do", () => {
    expect(restliQuery({ q: "search", search: { status: { values: ["ACTIVE", "PAUSED"] } } })).toBe(
      "q=search&search=(status:(values:List(ACTIVE,PAUSED)))",
    );
  });

  it("keeps an opaque page token intact through encoding", () => {
    const token = "DgGerr1iVQreCJVjZDOW_grcp63nueBDipsS4DJpvJo=";
    const query = restliQuery({ pageToken: token });
    expect(decodeURIComponent(query.slice("pageToken=".length))).toBe(token);
  });
});

/** Provider notes §3.3, after the adAnalytics example in LinkedIn's ads-reporting doc. */
const documentedAnalytics = {
  paging: { start: 0, count: 10, links: [] },
  elements: [
    {
      dateRange: {
        start: { year: 2026, month: 1, day: 1 },
        end: { year: 2026, month: 1, day: 1 },
      },
      pivotValues: ["urn:li:sponsoredCampaign:612345001"],
      impressions: 12500,
      clicks: 185,
      costInLocalCurrency: "2312.50",
      costInUsd: "2312.50",
      externalWebsiteConversions: 3,
      oneClickLeads: 12,
    },
    {
      dateRange: {
        start: { year: 2026, month: 1, day: 2 },
        end: { year: 2026, month: 1, day: 2 },
      },
      pivotValues: ["urn:li:sponsoredCampaign:612345002"],
      impressions: 40,
      clicks: 1,
      // The ads-reporting schema's BigDecimal example, float noise included.
      costInLocalCurrency: "107.5300000000000335346",
      externalWebsiteConversions: 1,
      conversionValueInLocalCurrency: "49.9",
    },
  ],
};

describe("adAnalytics parsing and mapping", () => {
  const account = {
    accountId: "512345678",
    currency: "EUR",
    campaignNames: new Map([["612345001", "Spring launch"]]),
  };

  it("maps the documented elements to UTC rows in exact integer micros", () => {
    const { elements } = analyticsResponseSchema.parse(documentedAnalytics);
    expect(elements.map((element) => toMetricRow(element, account))).toEqual([
      {
        provider: "linkedin",
        accountId: "512345678",
        campaignId: "612345001",
        campaignName: "Spring launch",
        date: "2026-01-01",
        timeZone: "UTC",
        currency: "EUR",
        impressions: 12500,
        clicks: 185,
        spendMicros: 2_312_500_000n,
        conversions: 3,
        conversionValueMicros: 0n,
      },
      {
        provider: "linkedin",
        accountId: "512345678",
        campaignId: "612345002",
        campaignName: "",
        date: "2026-01-02",
        timeZone: "UTC",
        currency: "EUR",
        impressions: 40,
        clicks: 1,
        spendMicros: 107_530_000n,
        conversions: 1,
        conversionValueMicros: 49_900_000n,
      },
    ]);
  });

  /** One element of 2026-02-28 for campaign 7 with `fields`, as adAnalytics sends it. */
  const dayElement = (fields: Record<string, unknown> = {}) =>
    analyticsResponseSchema.parse({
      elements: [
        {
          dateRange: {
            start: { year: 2026, month: 2, day: 28 },
            end: { year: 2026, month: 2, day: 28 },
          },
          pivotValues: ["urn:li:sponsoredCampaign:7"],
          ...fields,
        },
      ],
    }).elements[0]!;

  it("counts metrics a quiet day leaves out as zero", () => {
    const row = toMetricRow(dayElement(), account);
    expect(row).toMatchObject({
      date: "2026-02-28",
      impressions: 0,
      clicks: 0,
      // No cost field is an unknown spend, never 0 (a stored spend is kept: metrics/store.ts).
      spendMicros: null,
      conversions: 0,
      conversionValueMicros: 0n,
    });
  });

  it("takes the USD cost when the local one is missing only for a USD account", () => {
    const element = dayElement({ clicks: 3, costInUsd: "12.50" });
    expect(toMetricRow(element, { ...account, currency: "USD" }).spendMicros).toBe(12_500_000n);
    expect(toMetricRow(element, account).spendMicros).toBeNull();
  });

  it("rejects elements that are not campaign-pivoted or carry non-numeric counts", () => {
    const element = documentedAnalytics.elements[0];
    expect(
      analyticsResponseSchema.safeParse({
        elements: [{ ...element, pivotValues: ["urn:li:sponsoredCreative:1"] }],
      }).success,
    ).toBe(false);
    expect(
      analyticsResponseSchema.safeParse({ elements: [{ ...element, impressions: "12500" }] })
        .success,
    ).toBe(false);
  });

  it("converts between ISO days and LinkedIn's date records", () => {
    expect(calendarDay("2026-03-09")).toEqual({ year: 2026, month: 3, day: 9 });
    expect(isoDay({ year: 2026, month: 3, day: 9 })).toBe("2026-03-09");
  });

  it("parses a campaign finder page and its cursor (cursor-based pagination doc)", () => {
    // https://learn.microsoft.com/en-us/linkedin/marketing/integrations/ads/cursor-based-pagination
    const page = campaignsPageSchema.parse({
      metadata: { nextPageToken: "DgGerr1iVQreCJVjZDOW_grcp63nueBDipsS4DJpvJo" },
      elements: [{ id: 612345001, name: "Spring launch", status: "ACTIVE" }],
    });
    expect(page.metadata?.nextPageToken).toBe("DgGerr1iVQreCJVjZDOW_grcp63nueBDipsS4DJpvJo");
    expect(campaignsPageSchema.parse({ elements: [] }).metadata).toBeUndefined();
  });

  it("parses the token endpoint's refresh answer (programmatic refresh tokens doc)", () => {
    const token = tokenResponseSchema.parse({
      access_token: "AQXNnd2kXITHELmWblJigOC-ozjzLP",
      expires_in: 5_184_000,
      refresh_token: "AQWAft_WjYZKwuWXLC5hQlghgTam-tu",
      refresh_token_expires_in: 525_600,
    });
    expect(token.expires_in).toBe(5_184_000);
  });
});

describe("error classification", () => {
  const now = Date.UTC(2026, 10, 28, 12);

  /** As PlatformHttp applies it: the adapter's classifier first, then the HTTP status. */
  function classify(status: number, body: unknown, headers: Record<string, string> = {}) {
    const raw: RawResponse = { status, headers, body };
    return (
      linkedinAdapter.classify(raw, { now, pause: () => undefined }) ??
      (status < 300 ? undefined : classifyStatus("linkedin", raw, now))
    );
  }

  it("accepts a 2xx body", () => {
    expect(classify(200, documentedAnalytics)).toBeUndefined();
  });

  it("treats expired, revoked, invalid and empty tokens as auth (error-handling doc, notes §3.6)", () => {
    expect(
      classify(401, {
        status: 401,
        serviceErrorCode: 65602,
        code: "EXPIRED_ACCESS_TOKEN",
        message: "The token used in the request has expired",
      }),
    ).toMatchObject({ code: "auth", reason: "expired_access_token" });
    // Body as reported in decioferreira/omniauth-linkedin-oauth2#81.
    expect(
      classify(401, {
        status: 401,
        serviceErrorCode: 65601,
        code: "REVOKED_ACCESS_TOKEN",
        message: "The token used in the request has been revoked by the user",
      }),
    ).toMatchObject({ code: "auth", reason: "revoked_access_token" });
    expect(
      classify(401, {
        status: 401,
        serviceErrorCode: 65600,
        code: "INVALID_ACCESS_TOKEN",
        message: "Invalid access token",
      }),
    ).toMatchObject({ code: "auth", reason: "invalid_access_token" });
    // The error-handling doc's sample response.
    expect(
      classify(401, { message: "Empty oauth2_access_token", serviceErrorCode: 401, status: 401 }),
    ).toMatchObject({ code: "auth", reason: "http_401" });
  });

  it("treats missing permission, unknown entities, bad parameters and sunset versions as permanent", () => {
    const denied = classify(403, {
      status: 403,
      serviceErrorCode: 100,
      code: "ACCESS_DENIED",
      message: "Not enough permissions to access: adAccounts.GET.20260301",
    });
    expect(denied).toMatchObject({ code: "permanent", reason: "access_denied" });
    expect(denied?.message).toContain("Not enough permissions to access");
    // Rest.li parameter errors carry no code (linkedin-developers/linkedin-api-python-client#23).
    expect(
      classify(400, { message: "Parameter 'timeIntervals' is invalid", status: 400 }),
    ).toMatchObject({
      code: "permanent",
      reason: "http_400",
    });
    // n8n-io/n8n#14737: a sunset LinkedIn-Version.
    const sunset = classify(426, {
      status: 426,
      code: "NONEXISTENT_VERSION",
      message: "Requested version 20240401 is not active",
    });
    expect(sunset).toMatchObject({ code: "permanent", reason: "nonexistent_version" });
    expect(sunset?.message).toContain("apiVersion");
    expect(classify(404, { status: 404, message: "No virtual resource found" })).toMatchObject({
      code: "permanent",
    });
  });

  it("waits the default on LinkedIn's header-less 429, and honours a Retry-After when one is sent", () => {
    // Body as returned by LinkedIn (Automattic/wp-calypso#32007): no Retry-After, no usage headers.
    const body = {
      serviceErrorCode: 101,
      message: "Resource level throttle limit for calls to this resource is reached.",
      status: 429,
    };
    expect(classify(429, body)).toMatchObject({
      code: "rate_limited",
      retryAfterMs: DEFAULT_RATE_LIMIT_WAIT_MS,
    });
    expect(classify(429, body, { "retry-after": "2" })).toMatchObject({
      code: "rate_limited",
      retryAfterMs: 2000,
    });
    // LinkedIn's limits are per application and per member, and a 429 does not say which was
    // reached: only the member's requests wait.
    expect(classify(429, body)?.scope).toBe("member");
  });

  it("retries server errors whatever their body says", () => {
    expect(classify(500, { message: "Internal Server Error", status: 500 })).toMatchObject({
      code: "transient",
      reason: "http_500",
    });
    expect(classify(504, undefined)).toMatchObject({ code: "transient", reason: "http_504" });
  });

  it("treats a refused refresh as auth and a client misconfiguration as permanent", () => {
    // nango.dev: LinkedIn's answer to an expired or revoked refresh token.
    expect(
      classify(400, {
        error: "invalid_grant",
        error_description: "Token has been expired or revoked.",
      }),
    ).toMatchObject({ code: "auth", reason: "oauth_invalid_grant" });
    expect(
      classify(401, { error: "invalid_client", error_description: "Client authentication failed" }),
    ).toMatchObject({ code: "permanent", reason: "oauth_invalid_client" });
  });
});

describe("date slicing", () => {
  it("sizes slices so that days × campaigns stays below the cap, covering the range exactly", () => {
    const range = { since: "2026-10-01", until: "2026-10-30" };
    const slices = planSlices(range, 1100, 15_000);
    expect(slices).toEqual([
      { since: "2026-10-01", until: "2026-10-13" },
      { since: "2026-10-14", until: "2026-10-26" },
      { since: "2026-10-27", until: "2026-10-30" },
    ]);
    for (const slice of slices) {
      expect(dayCount(slice) * 1100).toBeLessThan(15_000);
    }
  });

  it("falls back to single days when one day of campaigns fills the cap, and crosses month ends", () => {
    expect(planSlices({ since: "2026-02-27", until: "2026-03-01" }, 20_000, 15_000)).toEqual([
      { since: "2026-02-27", until: "2026-02-27" },
      { since: "2026-02-28", until: "2026-02-28" },
      { since: "2026-03-01", until: "2026-03-01" },
    ]);
    expect(planSlices({ since: "2026-01-01", until: "2026-12-31" }, 1, 15_000)).toEqual([
      { since: "2026-01-01", until: "2026-12-31" },
    ]);
  });

  /** A stand-in for adAnalytics: `perDay` rows a day, cut off silently at `cap`. */
  function truncatingSource(perDay: number, cap: number, requested: DateRange[]) {
    return (slice: DateRange) => {
      requested.push(slice);
      const rows = Array.from({ length: dayCount(slice) * perDay }, (_, index) => ({
        day: Math.floor(index / perDay),
        since: slice.since,
      }));
      return Promise.resolve(rows.slice(0, cap));
    };
  }

  it("re-fetches a response of exactly the cap as two halves until nothing is truncated", async () => {
    const requested: DateRange[] = [];
    const rows = await fetchSlices(
      [{ since: "2026-01-01", until: "2026-01-08" }],
      refuseCapped(10, truncatingSource(3, 10, requested)),
    );
    expect(rows).toHaveLength(8 * 3);
    expect(requested.map((slice) => `${slice.since}..${slice.until}`)).toEqual([
      "2026-01-01..2026-01-08",
      "2026-01-01..2026-01-04",
      "2026-01-01..2026-01-02",
      "2026-01-03..2026-01-04",
      "2026-01-05..2026-01-08",
      "2026-01-05..2026-01-06",
      "2026-01-07..2026-01-08",
    ]);
  });

  it("fails permanently as too large when a single day already fills the cap", async () => {
    const failure = fetchSlices(
      [{ since: "2026-01-01", until: "2026-01-01" }],
      refuseCapped(10, truncatingSource(12, 10, [])),
    );
    await expect(failure).rejects.toBeInstanceOf(ProviderError);
    await expect(failure).rejects.toMatchObject({
      provider: "linkedin",
      code: "permanent",
      reason: QUERY_TOO_LARGE,
      message: expect.stringContaining("2026-01-01") as unknown,
    });
  });
});

describe("token expiry", () => {
  const now = Date.UTC(2026, 10, 28);
  const day = 86_400_000;

  it("refreshes with a day or less left, not before, and never without an expiry", () => {
    expect(linkedinTokens.isExpiring({ accessToken: "a" }, now)).toBe(false);
    expect(linkedinTokens.isExpiring({ accessToken: "a", expiresAt: now + 2 * day }, now)).toBe(
      false,
    );
    expect(linkedinTokens.isExpiring({ accessToken: "a", expiresAt: now + day }, now)).toBe(true);
    expect(linkedinTokens.isExpiring({ accessToken: "a", expiresAt: now - 1 }, now)).toBe(true);
  });
});
