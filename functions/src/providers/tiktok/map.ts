/**
 * TikTok report rows → MetricRow, pure.
 *
 * Metric choice: `conversion` is TikTok's count of the campaign's optimization events; TikTok has
 * no value for that generic count, so `conversionValueMicros` comes from
 * `total_complete_payment_rate`, which despite its name is the total value of the Complete
 * Payment (purchase) events — the purchase value Ads Manager reports for web campaigns
 * (https://ads.tiktok.com/help/article/page-events). App purchase value (`total_purchase_value`)
 * and TikTok Shop revenue are separate metrics and are not summed in.
 */
import { ProviderError } from "../errors";
import { decimalToMicros, parseDecimal, parseInteger } from "../money";
import type { MetricRow } from "../types";
import type { AdvertiserInfo, ReportRow } from "./schema";

/**
 * `"-"` is TikTok's "no data" marker (Airbyte maps it to null). For the counts and sums we read
 * it means no such event was recorded that day, so it is stored as 0: a null would make daily
 * totals unsummable and the row still exists because the campaign delivered that day.
 */
const metric = <T>(value: string, parse: (text: string) => T, zero: T): T =>
  value === "-" ? zero : parse(value);

export function toMetricRow(row: ReportRow, advertiser: AdvertiserInfo): MetricRow {
  const { dimensions, metrics } = row;
  return {
    provider: "tiktok",
    accountId: advertiser.advertiser_id,
    campaignId: dimensions.campaign_id,
    campaignName: metrics.campaign_name,
    // "YYYY-MM-DD 00:00:00", a day of the advertiser's time zone.
    date: dimensions.stat_time_day.slice(0, 10),
    timeZone: advertiser.timezone,
    currency: advertiser.currency,
    impressions: metric(metrics.impressions, parseInteger, 0),
    clicks: metric(metrics.clicks, parseInteger, 0),
    spendMicros: metric(metrics.spend, decimalToMicros, 0n),
    conversions: metric(metrics.conversion, parseDecimal, 0),
    conversionValueMicros: metric(metrics.total_complete_payment_rate, decimalToMicros, 0n),
  };
}

/**
 * The report is not a snapshot: rows can move between pages while we page through it (SeaTunnel
 * TikTokAds docs). A campaign-day seen twice, or a row count other than `total_number`, means the
 * pages we hold are not one consistent report, so the slice is retried rather than stored.
 */
export function assertCompleteReport(
  rows: readonly MetricRow[],
  totalNumber: number,
  label: string,
): void {
  const keys = new Set(rows.map((row) => `${row.campaignId}|${row.date}`));
  if (keys.size !== rows.length || rows.length !== totalNumber) {
    throw new ProviderError(
      "tiktok",
      "transient",
      "report_changed",
      `${label}: the report changed while paging (${rows.length} rows, ${keys.size} distinct, ${totalNumber} announced)`,
    );
  }
}
