/**
 * Meta Ads (Marketing API, Ads Insights): https://developers.facebook.com/docs/marketing-api/insights
 *
 * Per ad account: `GET /{v}/act_{id}?fields=timezone_name,currency` (the zone insights days are
 * counted in and the money's currency, neither of which insights rows carry), then
 * `GET /{v}/act_{id}/insights?level=campaign&time_increment=1&time_range=…&filtering=…` paged by
 * cursor, the range halved while Meta asks for less data. A backfill slice (`bulk`) asks the same
 * query of an asynchronous report run instead, halved while a run does not complete.
 *
 * Tokens are long-lived and cannot be refreshed (no refresh token exists), so `tokens` is absent:
 * code 190 is `auth` and the user reconnects. Which accounts a token reaches, and what Meta says of
 * the token, is `discovery.ts`.
 */
import { createHmac } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";

import type { AdapterContext, ProviderAdapter } from "../adapter";
import { ProviderError } from "../errors";
import { canonicalAccountId } from "../ids";
import { dayCount, fetchSlices, queryTooLarge } from "../ranges";
import type { DateRange } from "../types";
import { classifyMeta, describeError } from "./classify";
import { createMetaDiscovery, type GraphAuth, type GraphEdge } from "./discovery";
import { type AccountInfo, DEFAULT_CONVERSION_ACTION_TYPES, toMetricRow } from "./map";
import {
  adAccountSchema,
  type AdReportRun,
  adReportRunSchema,
  insightsPageSchema,
  type InsightsRow,
  reportRunCreatedSchema,
} from "./schema";

export interface MetaAdapterOptions {
  /** Objects per page (`limit`) of the insights edge and of the account listings. */
  pageSize: number;
  /** Action types counted as conversions, most preferred first (see `map.ts`). */
  conversionActionTypes: readonly string[];
}

const DEFAULT_META_OPTIONS: MetaAdapterOptions = {
  pageSize: 500,
  conversionActionTypes: DEFAULT_CONVERSION_ACTION_TYPES,
};

/**
 * campaign_id/campaign_name identify the row; date_start/date_stop come with every insights row.
 * Currency is not asked per row (`account_currency`): the account node gives it once, with the
 * time zone that insights do not report at all.
 */
const INSIGHTS_FIELDS = "campaign_id,campaign_name,impressions,clicks,spend,actions,action_values";

/**
 * Every effective status an ad can have (the Marketing API's `Ad.EffectiveStatus`, as the
 * facebook-business SDK lists it). Without a status filter the ad account's insights edge leaves
 * out ARCHIVED and DELETED objects, so a campaign archived or deleted since it spent would lose
 * its days (documented by airbytehq/airbyte#77765; airbytehq/airbyte#39439 made Airbyte's insights
 * streams send every ad status, as here). Meta's guide
 * names `ad.effective_status` as the filter that returns DELETED objects' insights
 * (https://developers.facebook.com/docs/marketing-api/best-practices/storing_adobjects); ads
 * inherit an archived or deleted campaign's status, so all of a campaign's ads are counted.
 */
const AD_EFFECTIVE_STATUSES = [
  "ACTIVE",
  "ADSET_PAUSED",
  "ARCHIVED",
  "CAMPAIGN_PAUSED",
  "DELETED",
  "DISAPPROVED",
  "IN_PROCESS",
  "PAUSED",
  "PENDING_BILLING_INFO",
  "PENDING_REVIEW",
  "PREAPPROVED",
  "WITH_ISSUES",
] as const;

const STATUS_FILTERING = JSON.stringify([
  { field: "ad.effective_status", operator: "IN", value: AD_EFFECTIVE_STATUSES },
]);

/**
 * Why a report run over `slice` gave no rows: it ended `Job Failed` or `Job Skipped` ("Review
 * your query and try again", "Please resubmit your job"), or did not complete within
 * `asyncMaxWaitMs`. Meta's remedy for an insights query that fails or times out is a smaller one
 * ("break down the query into smaller queries by using filters like date range":
 * https://developers.facebook.com/docs/marketing-api/insights/best-practices), so a run over
 * several days is a `QUERY_TOO_LARGE` error, which `fetchSlices` answers with its halves; it
 * never reaches the caller. A single day cannot be made smaller, and Meta's answer to a failed
 * run is "Generating the report failed. Try again later." (-2/2490547,
 * https://developers.facebook.com/docs/marketing-api/insights/error-codes): `transient`.
 */
function unfinishedRun(slice: DateRange, message: string, run?: AdReportRun): ProviderError {
  // Since v25.0 a failed run says why; its code and message go into ours.
  const metaError =
    run?.error_code === undefined
      ? undefined
      : describeError({
          code: run.error_code,
          error_subcode: run.error_subcode,
          message: run.error_message ?? run.error_user_msg ?? run.async_status,
        });
  const text = metaError ? `${message}: ${metaError.message}` : message;
  if (dayCount(slice) > 1) {
    return queryTooLarge("meta", text);
  }
  const reason = metaError?.reason ?? (run ? "async_report_failed" : "async_report_timeout");
  return new ProviderError("meta", "transient", reason, text);
}

/** "act_123" or "123" → "123"; anything else never reaches a URL path. */
function adAccountNumber(accountId: string): string {
  const number = canonicalAccountId("meta", accountId);
  if (!/^\d+$/.test(number)) {
    throw new ProviderError(
      "meta",
      "permanent",
      "invalid_account_id",
      `"${accountId}" is not a Meta ad account id (digits, optionally prefixed with act_)`,
    );
  }
  return number;
}

/** `endpoint` with `params` as its query string. */
function withQuery(endpoint: string, params: Readonly<Record<string, string>>): string {
  const url = new URL(endpoint);
  for (const [name, value] of Object.entries(params)) {
    url.searchParams.set(name, value);
  }
  return url.toString();
}

/**
 * The URL of the page after one whose `paging` has a `next`: the first page's query with the
 * `after` cursor, or — Meta may send `next` without `cursors` — `next` itself (Graph's documented
 * way to page), but only when it names our configured endpoint, so a URL from a response body
 * never receives the token; our auth parameters replace whatever `next` carries for them.
 * `undefined` when neither can be followed.
 */
export function nextPageUrl(
  paging: { next: string; cursors?: { after?: string } },
  endpoint: string,
  firstPage: Readonly<Record<string, string>>,
  auth: Readonly<Record<string, string>>,
): string | undefined {
  const after = paging.cursors?.after;
  if (after !== undefined) {
    return withQuery(endpoint, { ...firstPage, after });
  }
  let next: URL;
  try {
    next = new URL(paging.next);
  } catch {
    return undefined;
  }
  const expected = new URL(endpoint);
  if (next.origin !== expected.origin || next.pathname !== expected.pathname) {
    return undefined;
  }
  return withQuery(next.toString(), auth);
}

/**
 * The token travels in the `Authorization` header, never in the query string, so it cannot end
 * up in a URL that an error, a log line or Meta's own `paging.next` repeats. `appsecret_proof`
 * (HMAC-SHA256 of the token keyed with the app secret) is sent whenever the app secret is
 * configured: https://developers.facebook.com/docs/graph-api/securing-requests
 */
function authOf(ctx: AdapterContext<"meta">, accessToken: string): GraphAuth {
  const { appSecret } = ctx.settings;
  return {
    headers: { Authorization: `Bearer ${accessToken}` },
    params: appSecret
      ? { appsecret_proof: createHmac("sha256", appSecret).update(accessToken).digest("hex") }
      : {},
  };
}

/**
 * Every item of a cursor-paged edge, its first page asked with `edge.firstPage`; the items of an
 * edge that fails midway are dropped with it.
 */
async function readEdge<Item>(
  ctx: AdapterContext<"meta">,
  auth: GraphAuth,
  { endpoint, firstPage, what, schema }: GraphEdge<Item>,
): Promise<Item[]> {
  const items: Item[] = [];
  const seen = new Set<string>();
  for (let page = 1, url = withQuery(endpoint, firstPage); ; page += 1) {
    const label = `${what} page ${page}`;
    seen.add(url);
    const body = await ctx.http.request({
      method: "GET",
      url,
      headers: auth.headers,
      schema,
      label,
    });
    items.push(...body.data);
    // `next` is absent on the last page.
    const next = body.paging?.next;
    if (next === undefined) {
      return items;
    }
    const following = nextPageUrl({ ...body.paging, next }, endpoint, firstPage, auth.params);
    if (following === undefined || seen.has(following)) {
      throw new ProviderError(
        "meta",
        "transient",
        "malformed_response",
        `${label}: a next page that is not a new page of this edge`,
      );
    }
    url = following;
  }
}

export function createMetaAdapter(
  overrides: Partial<MetaAdapterOptions> = {},
): ProviderAdapter<"meta"> {
  const options = { ...DEFAULT_META_OPTIONS, ...overrides };

  return {
    id: "meta",
    classify: classifyMeta,
    discovery: createMetaDiscovery({ authOf, readEdge }, { pageSize: options.pageSize }),
    history: {
      retentionMonths: 37,
      source:
        "Marketing API error 3018: The start date of the time range cannot be beyond 37 months " +
        "from the current date (https://developers.facebook.com/docs/marketing-api/reference/ad-account/campaigns/, error codes)",
      // One report run per slice. Meta publishes no size at which an insights query fails ("There
      // is no explicit limit"), says an asynchronous one can take up to an hour, and answers
      // failures and timeouts with "smaller queries by using filters like date range"
      // (https://developers.facebook.com/docs/marketing-api/insights/best-practices). 30 days of
      // daily campaign rows is a small report that completes well within asyncMaxWaitMs, and the
      // rare run that does not is halved; larger slices would only make each retry costlier.
      backfillSliceDays: 30,
    },
    async fetchAccount(ctx, credentials, query) {
      const { accountId, rangeIn } = query;
      const number = adAccountNumber(accountId);
      const auth = authOf(ctx, credentials.accessToken);
      const nodeUrl = `${ctx.settings.baseUrl}/${ctx.settings.apiVersion}/act_${number}`;

      const account = await ctx.http.request({
        method: "GET",
        url: nodeUrl,
        params: { fields: "timezone_name,currency", ...auth.params },
        headers: auth.headers,
        schema: adAccountSchema,
        label: `account act_${number}`,
      });
      const info: AccountInfo = {
        accountId: number,
        timeZone: account.timezone_name,
        currency: account.currency,
      };

      /** What one range asks for, of the insights edge or of a report run alike. */
      const queryOf = (slice: DateRange) => ({
        level: "campaign",
        time_increment: "1",
        time_range: JSON.stringify({ since: slice.since, until: slice.until }),
        fields: INSIGHTS_FIELDS,
        filtering: STATUS_FILTERING,
      });

      /** Every row of one insights edge (the synchronous one, or a report run's results). */
      const readPages = (
        endpoint: string,
        firstPage: Readonly<Record<string, string>>,
        what: string,
      ): Promise<InsightsRow[]> =>
        readEdge(ctx, auth, { endpoint, firstPage, what, schema: insightsPageSchema });

      const page = { limit: String(options.pageSize), ...auth.params };

      /** One range of the synchronous insights edge. */
      const fetchRange = (slice: DateRange): Promise<InsightsRow[]> =>
        readPages(
          `${nodeUrl}/insights`,
          { ...queryOf(slice), ...page },
          `insights act_${number} ${slice.since}..${slice.until}`,
        );

      /**
       * One range through an asynchronous report run: created with the synchronous query, its
       * status checked every `asyncPollMs` (each check a request) until it completes, then every
       * page of its results, which page as the synchronous edge does
       * (https://developers.facebook.com/docs/marketing-api/insights/best-practices#asynchronous).
       */
      const fetchReportRun = async (slice: DateRange): Promise<InsightsRow[]> => {
        const report = `insights report run act_${number} ${slice.since}..${slice.until}`;
        const created = await ctx.http.request({
          method: "POST",
          url: `${nodeUrl}/insights`,
          headers: auth.headers,
          // Form-encoded, as Graph's examples (`curl -F`) and SDKs send a POST's parameters.
          data: new URLSearchParams({ ...queryOf(slice), ...auth.params }),
          schema: reportRunCreatedSchema,
          label: `${report}: create`,
        });
        const runUrl = `${ctx.settings.baseUrl}/${ctx.settings.apiVersion}/${created.report_run_id}`;
        const run = `${report} (${created.report_run_id})`;
        const { asyncPollMs, asyncMaxWaitMs } = ctx.settings;
        const createdAt = ctx.now();
        for (let check = 1; ; check += 1) {
          await sleep(asyncPollMs);
          const status = await ctx.http.request({
            method: "GET",
            url: runUrl,
            params: auth.params,
            headers: auth.headers,
            schema: adReportRunSchema,
            label: `${run}: status check ${check}`,
          });
          // Done only when both say so: "Poll this field until async_status is Job Completed and
          // async_percent_completion is 100".
          if (status.async_status === "Job Completed" && status.async_percent_completion === 100) {
            break;
          }
          if (status.async_status === "Job Failed" || status.async_status === "Job Skipped") {
            throw unfinishedRun(slice, `${run} ended "${status.async_status}"`, status);
          }
          if (ctx.now() - createdAt >= asyncMaxWaitMs) {
            throw unfinishedRun(
              slice,
              `${run} still "${status.async_status}" (${status.async_percent_completion} %) after ${asyncMaxWaitMs} ms`,
            );
          }
        }
        return readPages(`${runUrl}/insights`, page, `${run} results`);
      };

      // Meta answers a query too large for a synchronous call with "Please reduce the amount of
      // data…" or a sync timeout, whose documented remedy is a smaller date range
      // (https://developers.facebook.com/docs/marketing-api/insights/error-codes); a report run
      // that does not complete is asked again the same way (`unfinishedRun`).
      // Insights days are the ad account's: its zone decides which days have started.
      const range = rangeIn(info.timeZone);
      const rows = await fetchSlices([range], query.bulk ? fetchReportRun : fetchRange);
      return {
        rows: rows.map((row) => toMetricRow(row, info, options.conversionActionTypes)),
        range,
        timeZone: info.timeZone,
      };
    },
  };
}

/** The adapter with the default page size and purchase-type conversions. */
export const metaAdapter = createMetaAdapter();
