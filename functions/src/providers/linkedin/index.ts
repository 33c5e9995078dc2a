/**
 * LinkedIn Ads adapter (Marketing API, versioned `/rest`). Per ad account:
 * 1. `GET /adAccounts/{id}` — the account currency, and an explicit 403/404 for an account the
 *    user cannot read (adAnalytics itself answers such an account with an empty, "successful" list);
 * 2. `GET /adAccounts/{id}/adCampaigns?q=search` — campaign names (adAnalytics carries only URNs)
 *    and the campaign count the date slices are sized by, paged with `pageToken`;
 * 3. `GET /adAnalytics?q=analytics&pivot=CAMPAIGN&timeGranularity=DAILY` per date slice.
 * Every call carries `LinkedIn-Version` (no default exists) and `X-Restli-Protocol-Version: 2.0.0`.
 * Which accounts a member can use, and what introspection says of a token: `discovery.ts`.
 */
import type {
  AccountQuery,
  AccountRows,
  AdapterContext,
  ProviderAdapter,
  TokenRefresher,
} from "../adapter";
import { ProviderError } from "../errors";
import { canonicalAccountId } from "../ids";
import { fetchSlices } from "../ranges";
import type { Credentials, DateRange } from "../types";
import { clientCredentials, linkedinDiscovery, restGet, searchAll } from "./discovery";
import { classifyLinkedin } from "./errors";
import { calendarDay, LINKEDIN_REPORT_TIME_ZONE, toMetricRow } from "./map";
import { restliQuery } from "./restli";
import { refuseBeyondRetention, RETENTION_MONTHS } from "./retention";
import {
  adAccountSchema,
  analyticsResponseSchema,
  type Campaign,
  campaignsPageSchema,
  tokenResponseSchema,
} from "./schema";
import { planSlices, refuseCapped } from "./slices";

type Context = AdapterContext<"linkedin">;

/** adAnalytics' silent truncation point. */
export const LINKEDIN_MAX_ELEMENTS = 15_000;

/** Every status a campaign can have once it has served; DRAFT campaigns never have data. */
const SERVED_STATUSES = [
  "ACTIVE",
  "PAUSED",
  "ARCHIVED",
  "COMPLETED",
  "CANCELED",
  "PENDING_DELETION",
  "REMOVED",
];
/** LinkedIn's default page is 100; 500 (as Airbyte uses) keeps big accounts to a few calls. */
const CAMPAIGN_PAGE_SIZE = 500;

/**
 * The metrics we project (LinkedIn allows up to 20 per call) plus the two keys. Conversions are
 * `externalWebsiteConversions` — conversion-rule conversions (Insight Tag and Conversions API,
 * post-click plus post-view), Campaign Manager's "Conversions" — and their value in the account
 * currency; lead-gen form leads (`oneClickLeads`) are a different measure and are not mixed in.
 */
const ANALYTICS_FIELDS = [
  "dateRange",
  "pivotValues",
  "impressions",
  "clicks",
  "costInLocalCurrency",
  // The fallback when LinkedIn leaves the local-currency cost out of an element (`map.ts`).
  "costInUsd",
  "externalWebsiteConversions",
  "conversionValueInLocalCurrency",
];

/**
 * Refresh when the 60-day access token has a day or less left, so a nightly job never starts on
 * a token that dies mid-run (singer-io/tap-linkedin-ads uses the same margin).
 */
const REFRESH_MARGIN_MS = 86_400_000;

function listCampaigns(
  ctx: Context,
  credentials: Credentials,
  accountId: string,
): Promise<Campaign[]> {
  return searchAll(
    ctx,
    credentials,
    `/adAccounts/${accountId}/adCampaigns`,
    { search: { status: { values: SERVED_STATUSES } } },
    CAMPAIGN_PAGE_SIZE,
    campaignsPageSchema,
    `adCampaigns ${accountId}`,
  );
}

function analyticsPath(accountId: string, slice: DateRange): string {
  const query = restliQuery(
    {
      q: "analytics",
      pivot: "CAMPAIGN",
      timeGranularity: "DAILY",
      dateRange: { start: calendarDay(slice.since), end: calendarDay(slice.until) },
      accounts: [`urn:li:sponsoredAccount:${accountId}`],
    },
    ANALYTICS_FIELDS,
  );
  return `/adAnalytics?${query}`;
}

async function fetchAccount(
  ctx: Context,
  credentials: Credentials,
  query: AccountQuery,
  maxElements: number,
): Promise<AccountRows> {
  // LinkedIn reports days in UTC whatever the account's zone (notes §3.7).
  const range = query.rangeIn(LINKEDIN_REPORT_TIME_ZONE);
  const timeZone = LINKEDIN_REPORT_TIME_ZONE;
  // "urn:li:sponsoredAccount:123" or "123" → "123". Ids go into the path and into URNs: only
  // LinkedIn's numeric ids are sent.
  const accountId = canonicalAccountId("linkedin", query.accountId);
  if (!/^\d+$/.test(accountId)) {
    throw new ProviderError(
      "linkedin",
      "permanent",
      "invalid_account_id",
      `LinkedIn ad account ids are numeric, optionally as a sponsoredAccount URN; "${query.accountId}" is not one`,
    );
  }
  // Before any request: LinkedIn would answer days past its retention as days without activity.
  refuseBeyondRetention(range, ctx.now());
  const account = await restGet(
    ctx,
    credentials,
    `/adAccounts/${accountId}`,
    adAccountSchema,
    `adAccount ${accountId}`,
  );
  const campaigns = await listCampaigns(ctx, credentials, accountId);
  if (campaigns.length === 0) {
    return { rows: [], range, timeZone };
  }
  const fetchSlice = refuseCapped(
    maxElements,
    async (slice: DateRange) =>
      (
        await restGet(
          ctx,
          credentials,
          analyticsPath(accountId, slice),
          analyticsResponseSchema,
          `adAnalytics ${accountId} ${slice.since}..${slice.until}`,
        )
      ).elements,
  );
  // Slices run one after another; one that still comes back capped is fetched again in halves.
  const elements = await fetchSlices(planSlices(range, campaigns.length, maxElements), fetchSlice);
  const context = {
    accountId,
    currency: account.currency,
    campaignNames: new Map(campaigns.map((campaign) => [String(campaign.id), campaign.name])),
  };
  return { rows: elements.map((element) => toMetricRow(element, context)), range, timeZone };
}

/**
 * Programmatic refresh (approved Marketing Developer Platform partners): the access token lives 60
 * days, the refresh token 365 days from the original consent, not extended by refreshing.
 * https://learn.microsoft.com/en-us/linkedin/shared/authentication/programmatic-refresh-tokens
 */
export const linkedinTokens: TokenRefresher<"linkedin"> = {
  isExpiring: (credentials, now) =>
    credentials.expiresAt !== undefined && credentials.expiresAt - now <= REFRESH_MARGIN_MS,

  async refresh(ctx, credentials) {
    if (credentials.refreshToken === undefined) {
      throw new ProviderError(
        "linkedin",
        "auth",
        "reconnect_required",
        "no LinkedIn refresh token: the user must reconnect",
      );
    }
    const { clientId, clientSecret } = clientCredentials(ctx, "refresh tokens");
    const token = await ctx.http.request({
      method: "POST",
      url: ctx.settings.tokenUrl,
      data: new URLSearchParams({
        grant_type: "refresh_token",
        refresh_token: credentials.refreshToken,
        client_id: clientId,
        client_secret: clientSecret,
      }),
      schema: tokenResponseSchema,
      label: "LinkedIn token refresh",
    });
    return {
      accessToken: token.access_token,
      refreshToken: token.refresh_token ?? credentials.refreshToken,
      expiresAt: ctx.now() + token.expires_in * 1000,
    };
  },
};

export interface LinkedinAdapterOptions {
  /** adAnalytics' truncation point; only a test against a smaller sandbox cap changes it. */
  maxElements?: number;
}

export function createLinkedinAdapter(
  options: LinkedinAdapterOptions = {},
): ProviderAdapter<"linkedin"> {
  const maxElements = options.maxElements ?? LINKEDIN_MAX_ELEMENTS;
  return {
    id: "linkedin",
    classify: classifyLinkedin,
    tokens: linkedinTokens,
    discovery: linkedinDiscovery,
    history: {
      retentionMonths: RETENTION_MONTHS,
      source:
        "https://learn.microsoft.com/en-us/linkedin/marketing/integrations/ads-reporting/ads-reporting " +
        "(Retention: performance metrics 10 years, professional demographics 2 years)",
      // The element cap needs no say here: `planSlices` cuts any slice under it. What a slice
      // costs besides its adAnalytics calls is the adAccount and campaign-finder requests made
      // for each one, against daily limits LinkedIn does not publish: at 30 days they would be
      // two thirds of a small account's requests over 10 years (366, where 90 days need 123,
      // up to 166 campaigns). A failed slice re-pulls at most a quarter.
      backfillSliceDays: 90,
    },
    fetchAccount: (ctx, credentials, query) => fetchAccount(ctx, credentials, query, maxElements),
  };
}

export const linkedinAdapter: ProviderAdapter<"linkedin"> = createLinkedinAdapter();
