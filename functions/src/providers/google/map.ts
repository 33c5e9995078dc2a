/**
 * searchStream rows → normalised `MetricRow`s. Pure: no I/O, no clock.
 */
import { decimalToMicros, parseDecimal, parseInteger, parseMicros } from "../money";
import type { MetricRow } from "../types";
import type { SearchStreamResponse, SearchStreamRow } from "./schema";

export function toMetricRow(accountId: string, row: SearchStreamRow): MetricRow {
  const { customer, campaign, segments, metrics } = row;
  return {
    provider: "google",
    accountId,
    // An identifier, not a quantity: kept as the int64 string, never rounded through a double.
    campaignId: String(campaign.id),
    campaignName: campaign.name,
    // segments.date is the day in the account's time zone (customer.time_zone), not UTC.
    date: segments.date,
    timeZone: customer.timeZone,
    currency: customer.currencyCode,
    // proto3 JSON omits zero values, so an absent metric is 0, not "unknown".
    impressions: parseInteger(metrics.impressions ?? 0),
    clicks: parseInteger(metrics.clicks ?? 0),
    // cost_micros is already in micros of the account currency.
    spendMicros: parseMicros(metrics.costMicros ?? 0),
    conversions: parseDecimal(metrics.conversions ?? 0),
    // conversions_value is a double in currency units.
    conversionValueMicros: decimalToMicros(metrics.conversionsValue ?? 0),
  };
}

/** Every row of every batch of one searchStream response. */
export function toMetricRows(accountId: string, batches: SearchStreamResponse): MetricRow[] {
  return batches.flatMap((batch) => batch.results.map((row) => toMetricRow(accountId, row)));
}
