/**
 * The backfill plan's pure logic (`src/backfill/plan.ts`): how a request becomes an account's
 * plan (retention, the syncs' window), how the plan is cut into slices counted back from `until`,
 * which slice comes next (newest first, across accounts), how an extension keeps what is done,
 * and what progress (and ETA) the status endpoint shows.
 */
import { Timestamp } from "firebase-admin/firestore";

import {
  type AccountPlan,
  extendAccountPlan,
  isComplete,
  newAccountPlan,
  nextSlice,
  oldestComplete,
  type Plan,
  type PlanContext,
  progressOf,
  retentionStart,
  sliceCount,
  sliceRange,
} from "../../../src/backfill/plan";
import { addDays, dayCount } from "../../../src/providers/ranges";
import type { DateRange } from "../../../src/providers/types";

const NOW = new Date("2026-11-20T10:00:00Z");
/** Google's limits: 37 months, 90-day slices. */
const HISTORY = { retentionMonths: 37, source: "test", backfillSliceDays: 90 };
const ctx = (overrides: Partial<PlanContext> = {}): PlanContext => ({
  now: NOW,
  history: HISTORY,
  // Google's restatement window: the daily sync re-pulls 2026-11-06..2026-11-20.
  syncWindowDays: 14,
  timeZones: {},
  ...overrides,
});
/** 730 days back from 2026-11-20, the day itself counted. */
const TWO_YEARS = "2024-11-21";

const show = (ranges: readonly DateRange[]) => ranges.map((r) => `${r.since}..${r.until}`);
const slicesOf = (account: AccountPlan): DateRange[] =>
  Array.from({ length: sliceCount(account) }, (_, index) => sliceRange(account, index));

describe("retentionStart", () => {
  it("is the day after the same day retentionMonths back", () => {
    expect(retentionStart("2026-11-20", HISTORY)).toBe("2023-10-21");
    expect(retentionStart("2026-11-20", { ...HISTORY, retentionMonths: 36 })).toBe("2023-11-21");
    expect(retentionStart("2026-01-15", { ...HISTORY, retentionMonths: 13 })).toBe("2024-12-16");
  });

  it("counts a shorter month back to its last day, then the day after", () => {
    // 37 months before 2026-03-31 is 2023-02-28 (the month's last day, as the platforms count
    // it, not an overflow into March): the plan starts the day after.
    expect(retentionStart("2026-03-31", HISTORY)).toBe("2023-03-01");
    expect(retentionStart("2024-05-31", { ...HISTORY, retentionMonths: 3 })).toBe("2024-03-01");
  });
});

describe("newAccountPlan", () => {
  it("stops before the syncs' window and a day for the zones, and keeps the request", () => {
    const account = newAccountPlan(ctx(), "123-456-7890", "1234567890", TWO_YEARS);
    expect(account).toEqual({
      accountId: "123-456-7890",
      since: TWO_YEARS,
      // 2026-11-20 less the 14-day window, its first day and the zone day.
      until: "2026-11-04",
      clampedFrom: null,
      clampedBy: null,
      sliceDays: 90,
      done: [],
      status: "pending",
      error: null,
      rowsWritten: 0,
    });
  });

  it("clamps a start older than the platform's retention, recording what was asked", () => {
    const account = newAccountPlan(ctx(), "1", "1", "2016-11-23");
    expect(account).toMatchObject({
      since: "2023-10-21",
      clampedFrom: "2016-11-23",
      clampedBy: "retention",
      status: "pending",
    });
  });

  it("counts the days in the account's known zone", () => {
    // 10:00 UTC is already 2026-11-21 at UTC+14.
    const account = newAccountPlan(
      ctx({ timeZones: { "1": "Pacific/Kiritimati" } }),
      "1",
      "1",
      TWO_YEARS,
    );
    expect(account.until).toBe("2026-11-05");
  });

  it("has nothing to fetch when the request ends inside the syncs' window", () => {
    const account = newAccountPlan(ctx(), "1", "1", "2026-11-10");
    expect(account.status).toBe("complete");
    expect(sliceCount(account)).toBe(0);
    expect(nextSlice({ "1": account })).toBeUndefined();
  });
});

describe("slices", () => {
  const account = newAccountPlan(ctx(), "1", "1", TWO_YEARS);

  it("cut the range back from until, slice 0 the newest, the oldest cut at since", () => {
    const slices = slicesOf(account);
    // 714 days: seven slices of 90 and one of 84.
    expect(dayCount({ since: account.since, until: account.until })).toBe(714);
    expect(slices).toHaveLength(8);
    expect(show([slices[0]!, slices[1]!, slices[7]!])).toEqual([
      "2026-08-07..2026-11-04",
      "2026-05-09..2026-08-06",
      "2024-11-21..2025-02-12",
    ]);
  });

  it("cover every day of the range exactly once, none longer than sliceDays", () => {
    const slices = slicesOf(account);
    expect(slices[0]!.until).toBe(account.until);
    expect(slices.at(-1)!.since).toBe(account.since);
    for (let i = 1; i < slices.length; i += 1) {
      expect(addDays(slices[i]!.until, 1)).toBe(slices[i - 1]!.since);
    }
    for (const slice of slices) {
      expect(dayCount(slice)).toBeGreaterThan(0);
      expect(dayCount(slice)).toBeLessThanOrEqual(90);
    }
  });

  it("of a range of whole slices end exactly at since", () => {
    const whole = { ...account, since: addDays(account.until, -179) };
    expect(show(slicesOf(whole))).toEqual(["2026-08-07..2026-11-04", "2026-05-09..2026-08-06"]);
  });
});

describe("nextSlice", () => {
  // B counts its days at UTC+14: its slices end a day after A's.
  const a = newAccountPlan(ctx(), "A", "A", "2026-01-01");
  const b = newAccountPlan(ctx({ timeZones: { B: "Pacific/Kiritimati" } }), "B", "B", "2026-01-01");

  it("takes the newest undone slice across the accounts, every account together", () => {
    let accounts: Record<string, AccountPlan> = { A: a, B: b };
    const order: string[] = [];
    for (let next = nextSlice(accounts); next; next = nextSlice(accounts)) {
      order.push(`${next.canonicalId}${next.index} ${next.range.since}..${next.range.until}`);
      const done = [...next.account.done, next.index];
      accounts = {
        ...accounts,
        [next.canonicalId]: { ...next.account, done },
      };
      accounts[next.canonicalId] = {
        ...accounts[next.canonicalId]!,
        status: isComplete(accounts[next.canonicalId]!) ? "complete" : "pending",
      };
    }
    expect(order).toEqual([
      "B0 2026-08-08..2026-11-05",
      "A0 2026-08-07..2026-11-04",
      "B1 2026-05-10..2026-08-07",
      "A1 2026-05-09..2026-08-06",
      "B2 2026-02-09..2026-05-09",
      "A2 2026-02-08..2026-05-08",
      "B3 2026-01-01..2026-02-08",
      "A3 2026-01-01..2026-02-07",
    ]);
    expect(Object.values(accounts).map((account) => account.status)).toEqual([
      "complete",
      "complete",
    ]);
  });

  it("breaks a tie by account id, fills a gap left by a redo first, skips ended accounts", () => {
    const twin = { ...a, accountId: "C" };
    expect(nextSlice({ C: twin, A: a })?.canonicalId).toBe("A");
    // Slice 1 was not recorded (its worker died) while 0 and 2 were: 1 is the newest left.
    expect(nextSlice({ A: { ...a, done: [0, 2] } })).toMatchObject({ index: 1 });
    expect(nextSlice({ A: { ...a, status: "failed" }, B: { ...b, status: "complete" } })).toBe(
      undefined,
    );
  });
});

describe("extendAccountPlan", () => {
  const base = newAccountPlan(ctx(), "1", "1", "2026-05-01");
  // 2026-05-01..2026-11-04: 188 days, slices 0 and 1 whole, slice 2 (8 days) cut at since.
  const finished: AccountPlan = { ...base, done: [0, 1, 2], status: "complete", rowsWritten: 9 };

  it("moves since back and keeps the whole slices done, reopening the one cut at since", () => {
    const extended = extendAccountPlan(ctx(), finished, "1", "2025-11-01");
    expect(extended).toMatchObject({
      since: "2025-11-01",
      until: base.until,
      done: [0, 1],
      status: "pending",
      rowsWritten: 9,
    });
    // Slice 2 is whole now: its days before the old since were never fetched.
    expect(sliceRange(extended, 2)).toEqual({ since: "2026-02-08", until: "2026-05-08" });
    expect(sliceRange(finished, 2)).toEqual({ since: "2026-05-01", until: "2026-05-08" });
    expect(nextSlice({ "1": extended })).toMatchObject({ index: 2 });
  });

  it("keeps every slice done when the range was whole slices", () => {
    const whole: AccountPlan = {
      ...base,
      since: addDays(base.until, -179),
      done: [0, 1],
      status: "complete",
    };
    const extended = extendAccountPlan(ctx(), whole, "1", "2025-11-01");
    expect(extended.done).toEqual([0, 1]);
    expect(nextSlice({ "1": extended })).toMatchObject({ index: 2 });
  });

  it("never shrinks: a newer since keeps the plan as it is", () => {
    expect(extendAccountPlan(ctx(), finished, "1", "2026-09-01")).toEqual({
      ...finished,
      status: "complete",
    });
    const pending: AccountPlan = { ...base, done: [0] };
    expect(extendAccountPlan(ctx(), pending, "1", "2026-10-01")).toEqual(pending);
  });

  it("clamps the extension to the retention and records it", () => {
    const extended = extendAccountPlan(ctx(), finished, "1", "2010-01-01");
    expect(extended).toMatchObject({
      since: "2023-10-21",
      clampedFrom: "2010-01-01",
      clampedBy: "retention",
    });
  });

  it("never reaches behind a platform's refusal, and tries a failed account again", () => {
    const refused: AccountPlan = { ...finished, clampedBy: "platform", clampedFrom: "2026-01-01" };
    expect(extendAccountPlan(ctx(), refused, "1", "2025-01-01").since).toBe(base.since);
    const failed: AccountPlan = {
      ...base,
      done: [0],
      status: "failed",
      error: { code: "permanent", reason: "http_403", message: "forbidden" },
    };
    expect(extendAccountPlan(ctx(), failed, "1", base.since)).toMatchObject({
      status: "pending",
      error: null,
      done: [0],
    });
  });
});

describe("oldestComplete", () => {
  const account = newAccountPlan(ctx(), "1", "1", TWO_YEARS);

  it("is the start of the newest unbroken run of done slices", () => {
    expect(oldestComplete(account)).toBeNull();
    // Slice 0 missing: nothing is complete up to until, whatever is done behind it.
    expect(oldestComplete({ ...account, done: [1, 2] })).toBeNull();
    expect(oldestComplete({ ...account, done: [0, 1, 3] })).toBe("2026-05-09");
    expect(oldestComplete({ ...account, done: [0, 1, 2, 3, 4, 5, 6, 7] })).toBe(TWO_YEARS);
  });
});

describe("progressOf", () => {
  const at = (iso: string) => Timestamp.fromDate(new Date(iso));
  const plan = (accounts: Record<string, AccountPlan>, overrides: Partial<Plan> = {}): Plan => ({
    userId: "u",
    providerId: "google",
    status: "active",
    jobId: "job",
    requestedSince: TWO_YEARS,
    accounts,
    source: "test",
    runs: 0,
    requests: 0,
    createdAt: at("2026-11-20T09:00:00Z"),
    updatedAt: at("2026-11-20T10:00:00Z"),
    startedAt: at("2026-11-20T09:50:00Z"),
    slicesDoneAtStart: 0,
    completedAt: null,
    ...overrides,
  });
  const a = newAccountPlan(ctx(), "A", "A", TWO_YEARS);
  const b = newAccountPlan(ctx(), "B", "B", "2026-05-01");

  it("sums the accounts' slices and estimates the rest at the pace so far", () => {
    // 600 s for 4 slices: 150 s a slice, 7 left.
    const progress = progressOf(
      plan({ A: { ...a, done: [0, 1, 2] }, B: { ...b, done: [0] } }),
      NOW,
    );
    expect(progress).toMatchObject({
      status: "active",
      since: TWO_YEARS,
      until: "2026-11-04",
      oldestCompleteDate: "2026-08-07",
      slicesDone: 4,
      slicesTotal: 11,
      estimatedSecondsLeft: 1050,
    });
    expect(progress.accounts.map((account) => [account.slicesDone, account.slicesTotal])).toEqual([
      [3, 8],
      [1, 3],
    ]);
  });

  it("times a resumed plan by the slices of its own stretch", () => {
    // Extended after 8 slices were done: 1 more in 600 s, 2 left.
    const resumed = plan(
      { A: { ...a, done: [0, 1, 2, 3, 4, 5, 6] }, B: { ...b, done: [0, 1] } },
      { slicesDoneAtStart: 8 },
    );
    expect(progressOf(resumed, NOW)).toMatchObject({
      slicesDone: 9,
      slicesTotal: 11,
      estimatedSecondsLeft: 1200,
    });
    expect(progressOf(plan({ A: a }, { slicesDoneAtStart: 0 }), NOW).estimatedSecondsLeft).toBe(
      null,
    );
  });

  it("waits for no failed account's slices, and gives no ETA once complete", () => {
    const failed = progressOf(
      plan({ A: { ...a, done: [0], status: "failed" }, B: { ...b, done: [0, 1, 2] } }),
      NOW,
    );
    expect(failed).toMatchObject({ slicesDone: 4, slicesTotal: 4, estimatedSecondsLeft: null });
    const done = progressOf(
      plan({ B: { ...b, done: [0, 1, 2], status: "complete" } }, { status: "complete" }),
      NOW,
    );
    expect(done).toMatchObject({
      oldestCompleteDate: "2026-05-01",
      slicesDone: 3,
      slicesTotal: 3,
      estimatedSecondsLeft: null,
    });
  });
});
