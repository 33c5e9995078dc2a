/**
 * The report date ranges every adapter shares: fixed-size slices, halving, and the
 * split-and-retry of a query the platform finds too large.
 */
import { ProviderError } from "../../../src/providers/errors";
import {
  dayCount,
  fetchSlices,
  halveRange,
  QUERY_TOO_LARGE,
  queryTooLarge,
  sliceRange,
  spanOf,
} from "../../../src/providers/ranges";
import type { DateRange } from "../../../src/providers/types";

const show = (ranges: readonly DateRange[]) =>
  ranges.map(({ since, until }) => `${since}..${until}`);

describe("sliceRange", () => {
  it.each([
    [{ since: "2026-01-01", until: "2026-01-01" }, ["2026-01-01..2026-01-01"]],
    [{ since: "2026-01-01", until: "2026-01-30" }, ["2026-01-01..2026-01-30"]],
    [
      { since: "2026-01-01", until: "2026-01-31" },
      ["2026-01-01..2026-01-30", "2026-01-31..2026-01-31"],
    ],
    [
      { since: "2028-02-01", until: "2028-04-10" },
      ["2028-02-01..2028-03-01", "2028-03-02..2028-03-31", "2028-04-01..2028-04-10"],
    ],
  ])("cuts %o into consecutive inclusive slices of at most 30 days", (range, expected) => {
    expect(show(sliceRange(range, 30))).toEqual(expected);
  });
});

describe("halveRange", () => {
  it("halves a range, the first half the longer, across month ends", () => {
    expect(show(halveRange({ since: "2026-01-20", until: "2026-02-03" }) ?? [])).toEqual([
      "2026-01-20..2026-01-27",
      "2026-01-28..2026-02-03",
    ]);
    expect(show(halveRange({ since: "2026-03-01", until: "2026-03-02" }) ?? [])).toEqual([
      "2026-03-01..2026-03-01",
      "2026-03-02..2026-03-02",
    ]);
  });

  it("cannot halve a single day", () => {
    expect(halveRange({ since: "2026-03-01", until: "2026-03-01" })).toBeUndefined();
  });
});

describe("fetchSlices", () => {
  const campaignDays = (range: DateRange, perDay: number) =>
    sliceRange(range, 1).flatMap(({ since }) =>
      Array.from({ length: perDay }, (_, campaign) => `${since}#${campaign}`),
    );

  /** A platform answering at most `maxRows` rows (`perDay` a day) and refusing larger queries. */
  function refusingSource(perDay: number, maxRows: number, requested: string[]) {
    return (slice: DateRange) => {
      requested.push(...show([slice]));
      const rows = dayCount(slice) * perDay;
      if (rows > maxRows) {
        return Promise.reject(queryTooLarge("meta", `${rows} rows is too many`));
      }
      // One row per day and campaign: "2026-01-01#0".
      return Promise.resolve(campaignDays(slice, perDay));
    };
  }

  it("fetches every slice in order, as it is when the platform accepts it", async () => {
    const requested: string[] = [];
    const slices = sliceRange({ since: "2026-01-01", until: "2026-01-04" }, 2);
    const rows = await fetchSlices(slices, refusingSource(2, 10, requested));
    expect(requested).toEqual(["2026-01-01..2026-01-02", "2026-01-03..2026-01-04"]);
    expect(rows).toHaveLength(8);
  });

  it("splits a refused slice into halves until each half is accepted, rows adding up", async () => {
    const requested: string[] = [];
    const rows = await fetchSlices(
      [{ since: "2026-01-01", until: "2026-01-12" }],
      refusingSource(3, 10, requested),
    );
    expect(requested).toEqual([
      "2026-01-01..2026-01-12",
      "2026-01-01..2026-01-06",
      "2026-01-01..2026-01-03",
      "2026-01-04..2026-01-06",
      "2026-01-07..2026-01-12",
      "2026-01-07..2026-01-09",
      "2026-01-10..2026-01-12",
    ]);
    // Every campaign-day once, in date order.
    expect(rows).toEqual(campaignDays({ since: "2026-01-01", until: "2026-01-12" }, 3));
  });

  it("fails as permanent query_too_large, naming the day, when a single day is refused", async () => {
    const requested: string[] = [];
    const failure = fetchSlices(
      [{ since: "2026-01-01", until: "2026-01-03" }],
      refusingSource(11, 10, requested),
    );
    await expect(failure).rejects.toBeInstanceOf(ProviderError);
    await expect(failure).rejects.toMatchObject({
      provider: "meta",
      code: "permanent",
      reason: QUERY_TOO_LARGE,
      message: "too much data even for the single day 2026-01-01: 11 rows is too many",
    });
    // 3 days, then 2, then the first day: nothing after the day that cannot be split.
    expect(requested).toEqual([
      "2026-01-01..2026-01-03",
      "2026-01-01..2026-01-02",
      "2026-01-01..2026-01-01",
    ]);
  });

  it("passes every other error through without splitting", async () => {
    const unavailable = new ProviderError("tiktok", "transient", "http_503", "unavailable");
    let calls = 0;
    const failure = fetchSlices([{ since: "2026-01-01", until: "2026-01-08" }], () => {
      calls += 1;
      return Promise.reject(unavailable);
    });
    await expect(failure).rejects.toBe(unavailable);
    expect(calls).toBe(1);
  });
});

describe("spanOf", () => {
  it("covers every range, and is undefined for none", () => {
    expect(
      spanOf([
        { since: "2026-11-30", until: "2026-12-01" },
        { since: "2026-11-29", until: "2026-11-30" },
      ]),
    ).toEqual({ since: "2026-11-29", until: "2026-12-01" });
    expect(spanOf([])).toBeUndefined();
  });
});
