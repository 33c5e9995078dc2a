/**
 * adAnalytics has no pagination and silently truncates a response at 15,000 elements
 * (https://learn.microsoft.com/en-us/linkedin/marketing/integrations/ads-reporting/ads-reporting;
 * OWOX/owox-data-marts#1569). With pivot=CAMPAIGN and DAILY granularity a response holds at most
 * one element per campaign per day, so date slices of `days × campaigns < cap` are complete.
 * A response that still reaches the cap is taken as truncated and its slice is split in two.
 */
import { ProviderError } from "../errors";
import type { DateRange } from "../types";

const DAY_MS = 86_400_000;

function epochDay(day: string): number {
  return Date.parse(`${day}T00:00:00Z`) / DAY_MS;
}

function dayOf(epoch: number): string {
  return new Date(epoch * DAY_MS).toISOString().slice(0, 10);
}

export function dayCount(range: DateRange): number {
  return epochDay(range.until) - epochDay(range.since) + 1;
}

/** Consecutive slices covering `range`, each small enough to stay under `maxElements`. */
export function planSlices(range: DateRange, campaigns: number, maxElements: number): DateRange[] {
  // One element below the cap, so that a complete response never has exactly `maxElements`.
  const daysPerSlice = Math.max(1, Math.floor((maxElements - 1) / Math.max(1, campaigns)));
  const slices: DateRange[] = [];
  const last = epochDay(range.until);
  for (let start = epochDay(range.since); start <= last; start += daysPerSlice) {
    slices.push({ since: dayOf(start), until: dayOf(Math.min(last, start + daysPerSlice - 1)) });
  }
  return slices;
}

/** The two halves of a multi-day range, or `undefined` for a single day. */
export function halve(range: DateRange): [DateRange, DateRange] | undefined {
  const days = dayCount(range);
  if (days < 2) {
    return undefined;
  }
  const firstLast = epochDay(range.since) + Math.floor(days / 2) - 1;
  return [
    { since: range.since, until: dayOf(firstLast) },
    { since: dayOf(firstLast + 1), until: range.until },
  ];
}

/**
 * Fetches every slice in order; a response of `maxElements` or more is discarded as truncated and
 * its slice fetched again as two halves. A single day cannot be split further: LinkedIn caps an
 * ad account at 5,000 campaigns, so this means the cap is not what we were told.
 */
export async function fetchSlices<T>(
  slices: readonly DateRange[],
  maxElements: number,
  fetchSlice: (slice: DateRange) => Promise<T[]>,
): Promise<T[]> {
  const out: T[] = [];
  for (const slice of slices) {
    const elements = await fetchSlice(slice);
    if (elements.length < maxElements) {
      out.push(...elements);
      continue;
    }
    const halves = halve(slice);
    if (!halves) {
      throw new ProviderError(
        "linkedin",
        "permanent",
        "truncated_response",
        `adAnalytics returned ${elements.length} elements for the single day ${slice.since}, ` +
          `the response cap of ${maxElements}: the day cannot be split further without losing rows`,
      );
    }
    out.push(...(await fetchSlices(halves, maxElements, fetchSlice)));
  }
  return out;
}
