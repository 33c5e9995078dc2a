/**
 * Meta insights rows → MetricRow, pure.
 *
 * Conversions: Meta has no single "conversions" metric at campaign level; it reports counts in
 * `actions` and values in `action_values`, keyed by `action_type`. Several purchase types overlap
 * (`omni_purchase` is the cross-channel, de-duplicated count Ads Manager shows as "Purchases";
 * `purchase` and `offsite_conversion.fb_pixel_purchase` are subsets or older names of the same
 * events), so summing them would count one purchase two or three times. A row's conversions are
 * therefore the count of the FIRST configured action type the row reports, and its conversion
 * value is that same type's value, so count and value always describe the same events.
 */
import { decimalToMicros, parseDecimal, parseInteger } from "../money";
import type { MetricRow } from "../types";
import type { ActionStat, InsightsRow } from "./schema";

/** Most preferred first; see the module comment. */
export const DEFAULT_CONVERSION_ACTION_TYPES: readonly string[] = [
  "omni_purchase",
  "purchase",
  "offsite_conversion.fb_pixel_purchase",
];

export interface AccountInfo {
  /** The canonical id (`ids.ts`): the number without `act_`, however the caller spelled it. */
  accountId: string;
  timeZone: string;
  currency: string;
}

function statOf(stats: readonly ActionStat[] | undefined, type: string | undefined) {
  return type === undefined ? undefined : stats?.find((stat) => stat.action_type === type)?.value;
}

/** The first of `preferred` that the row reports in `actions` or `action_values`. */
function conversionActionType(row: InsightsRow, preferred: readonly string[]): string | undefined {
  const reported = new Set(
    [...(row.actions ?? []), ...(row.action_values ?? [])].map((stat) => stat.action_type),
  );
  return preferred.find((type) => reported.has(type));
}

export function toMetricRow(
  row: InsightsRow,
  account: AccountInfo,
  conversionActionTypes: readonly string[],
): MetricRow {
  const type = conversionActionType(row, conversionActionTypes);
  // A metric Meta leaves out had nothing to report that day: 0, not null, so days stay summable.
  const conversions = statOf(row.actions, type);
  const conversionValue = statOf(row.action_values, type);
  return {
    provider: "meta",
    accountId: account.accountId,
    campaignId: row.campaign_id,
    campaignName: row.campaign_name,
    // A day of the ad account's time zone (date_start === date_stop at time_increment=1).
    date: row.date_start,
    timeZone: account.timeZone,
    currency: account.currency,
    impressions: row.impressions === undefined ? 0 : parseInteger(row.impressions),
    clicks: row.clicks === undefined ? 0 : parseInteger(row.clicks),
    spendMicros: row.spend === undefined ? 0n : decimalToMicros(row.spend),
    conversions: conversions === undefined ? 0 : parseDecimal(conversions),
    conversionValueMicros: conversionValue === undefined ? 0n : decimalToMicros(conversionValue),
  };
}
