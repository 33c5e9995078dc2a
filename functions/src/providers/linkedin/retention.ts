/**
 * How far back adAnalytics reports. LinkedIn's "Retention" section: "The retention period for
 * data depends on the type of request": 10 years for performance metrics (what pivot=CAMPAIGN
 * asks for), 2 years for professional demographic pivots, which we never ask for
 * (https://learn.microsoft.com/en-us/linkedin/marketing/integrations/ads-reporting/ads-reporting).
 *
 * LinkedIn documents no error for older days. Its one documented answer when there is nothing to
 * report is "An empty response is returned if there's no activity to report or if you don't have
 * read access to the requested advertising data" (same page). Days past the retention would come
 * back looking like days when no campaign ran. A backfill would then record them as fetched and
 * never ask for them again. So the adapter refuses those days itself, before any request, with
 * the `beyond_retention` error that Google and Meta get from the platform.
 */
import { beyondRetention, dayIn, monthsBefore } from "../ranges";
import type { DateRange } from "../types";
import { LINKEDIN_REPORT_TIME_ZONE } from "./map";

/** 10 years of performance metrics. */
export const RETENTION_MONTHS = 120;

/**
 * The oldest day adAnalytics still reports at `now`: the same calendar day ten years before
 * today in UTC (LinkedIn's report days), or Feb 28 for a Feb 29. LinkedIn does not say where
 * in that day its window starts, so the whole day is asked for and no earlier one.
 */
export function oldestReportedDay(now: number): string {
  return monthsBefore(dayIn(now, LINKEDIN_REPORT_TIME_ZONE), RETENTION_MONTHS);
}

/** Throws `beyond_retention` when `range` reaches before the oldest day LinkedIn still reports. */
export function refuseBeyondRetention(range: DateRange, now: number): void {
  const oldest = oldestReportedDay(now);
  if (range.since < oldest) {
    throw beyondRetention(
      "linkedin",
      `adAnalytics keeps performance metrics for 10 years: ${range.since} is before ${oldest}, ` +
        "the oldest UTC day it still reports (older days would come back empty, as if nothing ran)",
    );
  }
}
