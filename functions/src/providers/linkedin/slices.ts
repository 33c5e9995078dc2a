/**
 * adAnalytics has no pagination and silently truncates a response at 15,000 elements
 * (https://learn.microsoft.com/en-us/linkedin/marketing/integrations/ads-reporting/ads-reporting;
 * OWOX/owox-data-marts#1569): LinkedIn's answer to a query that is too large is a full response,
 * not an error. With pivot=CAMPAIGN and DAILY granularity a response holds at most one element per
 * campaign per day, so date slices are planned ahead to `days × campaigns < cap`; a response that
 * still reaches the cap is taken as truncated, i.e. as the query being too large.
 */
import { queryTooLarge, sliceRange } from "../ranges";
import type { DateRange } from "../types";

/** Consecutive slices covering `range`, each small enough to stay under `maxElements`. */
export function planSlices(range: DateRange, campaigns: number, maxElements: number): DateRange[] {
  // One element below the cap, so that a complete response never has exactly `maxElements`.
  return sliceRange(range, Math.max(1, Math.floor((maxElements - 1) / Math.max(1, campaigns))));
}

/**
 * `fetchSlice`, with a response of `maxElements` or more turned into the query-too-large error:
 * `fetchSlices` then asks for its halves. A single day cannot reach the real cap (LinkedIn
 * allows an ad account 5,000 campaigns), so failing on one means the cap is not what we were told.
 */
export function refuseCapped<T>(
  maxElements: number,
  fetchSlice: (slice: DateRange) => Promise<T[]>,
): (slice: DateRange) => Promise<T[]> {
  return async (slice) => {
    const elements = await fetchSlice(slice);
    if (elements.length >= maxElements) {
      throw queryTooLarge(
        "linkedin",
        `adAnalytics returned ${elements.length} elements for ${slice.since}..${slice.until}, ` +
          `its silent cap of ${maxElements}: the response is taken as truncated`,
      );
    }
    return elements;
  };
}
