/**
 * Google Ads adapter: daily campaign metrics through REST `googleAds:searchStream` (GAQL),
 * one query per customer per date slice of at most 90 days.
 * https://developers.google.com/google-ads/api/rest/common/search
 */
import type { ProviderAdapter } from "../adapter";
import { ProviderError } from "../errors";
import { sliceRange } from "../ranges";
import type { MetricRow } from "../types";
import { googleDiscovery } from "./discovery";
import { classifyGoogle } from "./errors";
import { toMetricRows } from "./map";
import {
  adsHeaders,
  campaignDailyQuery,
  CUSTOMER_ZONE_QUERY,
  customerId,
  MAX_SLICE_DAYS,
  searchStreamUrl,
} from "./query";
import { customerZoneResponseSchema, searchStreamResponseSchema } from "./schema";
import { googleTokens } from "./tokens";

export const googleAdapter: ProviderAdapter<"google"> = {
  id: "google",
  classify: classifyGoogle,
  tokens: googleTokens,
  discovery: googleDiscovery,
  history: {
    // Counted in the customer's zone, as every GAQL date range is; older days fail the query
    // with the DateRangeError that `errors.ts` turns into `beyond_retention`.
    retentionMonths: 37,
    source:
      "https://developers.google.com/google-ads/api/reference/rpc/v26/DateRangeErrorEnum.DateRangeError " +
      '(REQUESTED_DATE_GRANULARITY_NOT_SUPPORTED: "Metrics with daily, hourly, or weekly ' +
      'segmentation are only available for the last 37 months")',
    // One searchStream is one operation of the daily quota whatever its rows (notes §1.4), so a
    // slice is as long as one query may be: MAX_SLICE_DAYS, which already bounds what a failed
    // stream re-pulls and the trailing window runs at. 37 months are then 13 operations per
    // customer, not 38 at 30 days or 81 at Airbyte's 14 (its slices are checkpoints, which the
    // plan's done slices already are).
    backfillSliceDays: MAX_SLICE_DAYS,
  },

  async fetchAccount(ctx, credentials, query) {
    const customer = customerId(query.accountId, "account id");
    const loginCustomer =
      query.loginCustomerId === undefined
        ? undefined
        : customerId(query.loginCustomerId, "login customer id");
    const headers = adsHeaders(ctx.settings, credentials.accessToken, loginCustomer);
    const url = searchStreamUrl(ctx.settings, customer);
    const lookUpZone = async (): Promise<string> => {
      const answer = await ctx.http.request({
        method: "POST",
        url,
        headers,
        data: { query: CUSTOMER_ZONE_QUERY },
        schema: customerZoneResponseSchema,
        label: `customer time zone ${customer}`,
      });
      const zone = answer[0]?.results[0]?.customer.timeZone;
      if (zone === undefined) {
        throw new ProviderError(
          "google",
          "transient",
          "malformed_response",
          `customer time zone ${customer}: no customer row in the answer`,
        );
      }
      return zone;
    };
    // Report days are the customer's (`segments.date` in `customer.time_zone`): a window needs
    // the zone first; fixed days do not, and their rows name it.
    const knownZone = query.knownTimeZone ?? (query.fixedRange ? undefined : await lookUpZone());
    const range = knownZone === undefined ? query.fixedRange! : query.rangeIn(knownZone);
    const rows: MetricRow[] = [];
    // Slices run one after another: a failed slice fails the account without pulling the rest.
    // searchStream has no query-size refusal to split on: it streams any number of rows in
    // batches of 10,000 as one operation (notes §1.4), so slices only bound the rework.
    for (const slice of sliceRange(range, MAX_SLICE_DAYS)) {
      const batches = await ctx.http.request({
        method: "POST",
        url,
        headers,
        data: { query: campaignDailyQuery(slice) },
        schema: searchStreamResponseSchema,
        label: `searchStream ${customer} ${slice.since}..${slice.until}`,
      });
      // Rows carry the canonical id, so "123-456-7890" and "1234567890" upsert the same keys.
      rows.push(...toMetricRows(customer, batches));
    }
    return { rows, range, timeZone: knownZone ?? rows[0]?.timeZone ?? (await lookUpZone()) };
  },
};
