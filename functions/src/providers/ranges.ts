/**
 * Report date ranges, shared by the adapters: fixed-size slices for a platform's documented
 * per-query day limit, and halving for the one remedy every platform gives a query that asks for
 * too much in one synchronous call — ask again for less ("Try a smaller date range", Meta's
 * insights error codes; LinkedIn's silent 15,000-element cap; TikTok code 40067).
 */
import { ProviderError } from "./errors";
import type { DateRange, ProviderId, ReportWindow } from "./types";

/**
 * Reason of a query the platform refuses, or cuts off, because it covers too much data. The error
 * is `permanent` so the HTTP layer does not repeat the same request inline; `fetchSlices`
 * answers it with smaller ranges and lets it reach the caller only once a single day is refused.
 */
export const QUERY_TOO_LARGE = "query_too_large";

/**
 * Reason of a query for days older than the platform keeps daily metrics for (Google's
 * `DateRangeError`, Meta's 37-month limit, …). `permanent`: the backfill records the account's
 * history as starting there, and never asks for those days again.
 */
export const BEYOND_RETENTION = "beyond_retention";

/** The error an adapter throws for its platform's "these days are too old" signal. */
export function beyondRetention(provider: ProviderId, message: string): ProviderError {
  return new ProviderError(provider, "permanent", BEYOND_RETENTION, message);
}

const DAY_MS = 86_400_000;

const epochDay = (day: string): number => Date.parse(`${day}T00:00:00Z`) / DAY_MS;
const isoDay = (epoch: number): string => new Date(epoch * DAY_MS).toISOString().slice(0, 10);

/** The day `days` after `day` (before it, for a negative count). */
export const addDays = (day: string, days: number): string => isoDay(epochDay(day) + days);

/**
 * The same calendar day `months` months before `day`, or that month's last day when it is
 * shorter (a retention of N months counted from Mar 31 starts on Feb 28 or 29, not Mar 3).
 */
export function monthsBefore(day: string, months: number): string {
  const [year = 0, month = 1, date = 1] = day.split("-").map(Number);
  // Day 0 of the next month is the last day of the month sought.
  const start = new Date(Date.UTC(year, month - months, 0));
  start.setUTCDate(Math.min(date, start.getUTCDate()));
  return start.toISOString().slice(0, 10);
}

/** The calendar day (`YYYY-MM-DD`) instant `at` falls on in `timeZone` (DST included). */
export function dayIn(at: number, timeZone: string): string {
  // en-CA formats as YYYY-MM-DD; Intl applies the zone's offset at that instant.
  return new Intl.DateTimeFormat("en-CA", {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
  }).format(at);
}

/** The window's days in `timeZone`: its last `days` complete days and the current one. */
export function rangeIn(window: ReportWindow, timeZone: string): DateRange {
  const today = dayIn(window.at, timeZone);
  return { since: isoDay(epochDay(today) - window.days), until: today };
}

/** A request's days for an account reported in `timeZone`: its fixed range, or its window. */
export function requestedRange(
  request: { range?: DateRange; window?: ReportWindow },
  timeZone: string,
): DateRange {
  if (request.range) {
    return request.range;
  }
  if (!request.window) {
    throw new RangeError("a fetch request needs a range or a window");
  }
  return rangeIn(request.window, timeZone);
}

/** The smallest range covering every one of `ranges`; `undefined` for none. */
export function spanOf(ranges: readonly DateRange[]): DateRange | undefined {
  if (ranges.length === 0) {
    return undefined;
  }
  const since = ranges.reduce((min, range) => (range.since < min ? range.since : min), "9999");
  const until = ranges.reduce((max, range) => (range.until > max ? range.until : max), "");
  return { since, until };
}

export function dayCount(range: DateRange): number {
  return epochDay(range.until) - epochDay(range.since) + 1;
}

/** Consecutive, non-overlapping slices of at most `maxDays` days covering `range`. */
export function sliceRange(range: DateRange, maxDays: number): DateRange[] {
  const slices: DateRange[] = [];
  const last = epochDay(range.until);
  for (let start = epochDay(range.since); start <= last; start += maxDays) {
    slices.push({ since: isoDay(start), until: isoDay(Math.min(last, start + maxDays - 1)) });
  }
  return slices;
}

/** The two halves of a multi-day range, the first one the longer; `undefined` for a single day. */
export function halveRange(range: DateRange): [DateRange, DateRange] | undefined {
  const days = dayCount(range);
  if (days < 2) {
    return undefined;
  }
  const firstLast = epochDay(range.since) + Math.ceil(days / 2) - 1;
  return [
    { since: range.since, until: isoDay(firstLast) },
    { since: isoDay(firstLast + 1), until: range.until },
  ];
}

/** The error an adapter throws for its platform's "this query is too large" signal. */
export function queryTooLarge(provider: ProviderId, message: string): ProviderError {
  return new ProviderError(provider, "permanent", QUERY_TOO_LARGE, message);
}

/**
 * Every row of `slices`, fetched one after another in date order. A slice the platform finds too
 * large (`fetchSlice` throws a `QUERY_TOO_LARGE` error) is fetched again as its two halves, down
 * to single days; a slice's rows count only once the whole slice has succeeded, so the rows add
 * up without duplicates. A single day that is still too large fails with `permanent`
 * `query_too_large`: within a synchronous report no smaller query exists, and repeating the same
 * one cannot succeed.
 */
export async function fetchSlices<T>(
  slices: readonly DateRange[],
  fetchSlice: (slice: DateRange) => Promise<T[]>,
): Promise<T[]> {
  const rows: T[] = [];
  // Slices still to fetch, in date order: a refused one is replaced by its halves.
  const pending = [...slices];
  for (let slice = pending.shift(); slice; slice = pending.shift()) {
    try {
      rows.push(...(await fetchSlice(slice)));
    } catch (error) {
      if (!(error instanceof ProviderError) || error.reason !== QUERY_TOO_LARGE) {
        throw error;
      }
      const halves = halveRange(slice);
      if (!halves) {
        throw queryTooLarge(
          error.provider,
          `too much data even for the single day ${slice.since}: ${error.message}`,
        );
      }
      pending.unshift(...halves);
    }
  }
  return rows;
}
