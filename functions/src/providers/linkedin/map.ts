/** LinkedIn adAnalytics elements → normalised rows. Pure. */
import { canonicalCampaignId } from "../ids";
import { decimalToMicros, parseDecimal } from "../money";
import type { MetricRow } from "../types";
import type { AnalyticsElement, CalendarDay } from "./schema";

/**
 * LinkedIn reports its days in UTC whatever the ad account's own time zone is (provider notes §3,
 * after the Fivetran ad-reporting decision log), so every row says so.
 */
export const LINKEDIN_REPORT_TIME_ZONE = "UTC";

export interface AccountContext {
  /** The canonical (numeric) id, however the caller spelled it. */
  accountId: string;
  currency: string;
  /** Campaign id → name, from the campaign finder (adAnalytics carries only URNs). */
  campaignNames: ReadonlyMap<string, string>;
}

export function isoDay({ year, month, day }: CalendarDay): string {
  return `${String(year).padStart(4, "0")}-${String(month).padStart(2, "0")}-${String(day).padStart(2, "0")}`;
}

export function calendarDay(isoDate: string): CalendarDay {
  const [year = 0, month = 0, day = 0] = isoDate.split("-").map(Number);
  return { year, month, day };
}

/**
 * The element's cost in the account currency. LinkedIn may leave `costInLocalCurrency` out; the
 * USD cost stands in only when the account's currency is USD (converting at some rate would
 * invent a number), otherwise the cost is unknown — `null`, never 0, so a spend stored earlier
 * is not overwritten (`metrics/store.ts`).
 */
function spendOf(element: AnalyticsElement, currency: string): bigint | null {
  const cost = element.costInLocalCurrency ?? (currency === "USD" ? element.costInUsd : undefined);
  return cost === undefined ? null : decimalToMicros(cost);
}

export function toMetricRow(element: AnalyticsElement, account: AccountContext): MetricRow {
  // The schema guarantees pivotValues[0] is a sponsoredCampaign URN; rows carry its number.
  const campaignId = canonicalCampaignId("linkedin", element.pivotValues[0] ?? "");
  return {
    provider: "linkedin",
    accountId: account.accountId,
    campaignId,
    // A campaign the finder did not return has no name we could know; empty says "unknown".
    campaignName: account.campaignNames.get(campaignId) ?? "",
    // DAILY granularity: start and end are the same day.
    date: isoDay(element.dateRange.start),
    timeZone: LINKEDIN_REPORT_TIME_ZONE,
    currency: account.currency,
    impressions: element.impressions ?? 0,
    clicks: element.clicks ?? 0,
    spendMicros: spendOf(element, account.currency),
    conversions: parseDecimal(element.externalWebsiteConversions ?? 0),
    conversionValueMicros: decimalToMicros(element.conversionValueInLocalCurrency ?? "0"),
  };
}
