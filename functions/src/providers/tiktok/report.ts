/**
 * The TikTok requests behind one account: the advertiser's currency and time zone
 * (`GET /advertiser/info/`), then the campaign-day report (`GET /report/integrated/get/`) in
 * 30-day slices, each followed through every page (a backfill slice asks an asynchronous report
 * task instead: `task.ts`). Paths keep their trailing slash: TikTok answers 404 without it.
 */
import type { AdapterContext } from "../adapter";
import { ProviderError } from "../errors";
import type { DateRange, MetricRow } from "../types";
import { assertCompleteReport, toMetricRow } from "./map";
import {
  type AdvertiserInfo,
  advertiserInfoResponseSchema,
  REPORT_DIMENSIONS,
  REPORT_METRICS,
  reportResponseSchema,
} from "./schema";

/** With `stat_time_day` a synchronous report covers at most 30 days (Airbyte steps 30 days). */
export const MAX_DAYS_PER_REQUEST = 30;
/** `page_size` maximum (default 10). */
export const PAGE_SIZE = 1000;

/** The `Access-Token` header carries the bare token: a "Bearer " prefix is rejected (40105). */
export function authHeaders(accessToken: string): Record<string, string> {
  return { "Access-Token": accessToken };
}

/**
 * What every report of ours asks for, synchronous or asynchronous: the BASIC report of the
 * advertiser's campaigns by day, with the metrics the row schema reads.
 */
export function reportQuery(advertiserId: string, slice: DateRange) {
  return {
    advertiser_id: advertiserId,
    report_type: "BASIC",
    data_level: "AUCTION_CAMPAIGN",
    dimensions: REPORT_DIMENSIONS,
    metrics: REPORT_METRICS,
    start_date: slice.since,
    end_date: slice.until,
  };
}

export async function fetchAdvertiser(
  ctx: AdapterContext<"tiktok">,
  accessToken: string,
  advertiserId: string,
): Promise<AdvertiserInfo> {
  const response = await ctx.http.request({
    method: "GET",
    url: `${ctx.settings.baseUrl}/advertiser/info/`,
    headers: authHeaders(accessToken),
    // `timezone`, not `display_timezone`: report days follow the account's zone code, and TikTok
    // Ads Manager applies no daylight-saving shifts (https://ads.tiktok.com/help/article/time-zone).
    params: {
      advertiser_ids: JSON.stringify([advertiserId]),
      fields: JSON.stringify(["advertiser_id", "currency", "timezone"]),
    },
    schema: advertiserInfoResponseSchema,
    label: `advertiser info ${advertiserId}`,
  });
  const advertiser = response.data.list.find((entry) => entry.advertiser_id === advertiserId);
  if (!advertiser) {
    throw new ProviderError(
      "tiktok",
      "permanent",
      "advertiser_not_found",
      `advertiser info ${advertiserId}: TikTok returned no such advertiser`,
    );
  }
  return advertiser;
}

/** Every campaign-day of one slice, all pages, as one consistent report. */
export async function fetchReportSlice(
  ctx: AdapterContext<"tiktok">,
  accessToken: string,
  advertiser: AdvertiserInfo,
  slice: DateRange,
): Promise<MetricRow[]> {
  const label = `report ${advertiser.advertiser_id} ${slice.since}..${slice.until}`;
  const query = reportQuery(advertiser.advertiser_id, slice);
  const rows: MetricRow[] = [];
  let totalNumber = 0;
  for (let page = 1, totalPages = 1; page <= totalPages; page += 1) {
    const response = await ctx.http.request({
      method: "GET",
      url: `${ctx.settings.baseUrl}/report/integrated/get/`,
      headers: authHeaders(accessToken),
      // A GET takes the array parameters as JSON strings.
      params: {
        ...query,
        dimensions: JSON.stringify(query.dimensions),
        metrics: JSON.stringify(query.metrics),
        page: String(page),
        page_size: String(PAGE_SIZE),
      },
      schema: reportResponseSchema,
      label: `${label} page ${page}`,
    });
    const { page_info: pageInfo, list } = response.data;
    totalPages = pageInfo.total_page;
    totalNumber = pageInfo.total_number;
    rows.push(...list.map((row) => toMetricRow(row, advertiser)));
  }
  assertCompleteReport(rows, totalNumber, label);
  return rows;
}
