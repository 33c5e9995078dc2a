import { DEFAULT_AUTOMATION } from "../../../src/integrations/model";
import { cadenceSlot } from "../../../src/jobs/schedule";
import { RESTATEMENT_LOOKBACK_DAYS, windowDays } from "../../../src/jobs/window";
import { rangeIn } from "../../../src/providers/ranges";

describe("cadenceSlot", () => {
  it("starts daily slots at 02:00 UTC", () => {
    expect(cadenceSlot(new Date("2026-11-28T01:59:59Z"), 24)).not.toBe(
      cadenceSlot(new Date("2026-11-28T02:00:00Z"), 24),
    );
    expect(cadenceSlot(new Date("2026-11-28T02:00:00Z"), 24)).toBe(
      cadenceSlot(new Date("2026-11-29T01:59:59Z"), 24),
    );
  });

  it("gives hourly cadences a new slot every hour and 6-hourly every six", () => {
    expect(cadenceSlot(new Date("2026-11-28T10:00:00Z"), 1)).not.toBe(
      cadenceSlot(new Date("2026-11-28T11:00:00Z"), 1),
    );
    expect(cadenceSlot(new Date("2026-11-28T02:00:00Z"), 6)).toBe(
      cadenceSlot(new Date("2026-11-28T07:59:00Z"), 6),
    );
    expect(cadenceSlot(new Date("2026-11-28T08:00:00Z"), 6)).not.toBe(
      cadenceSlot(new Date("2026-11-28T07:59:00Z"), 6),
    );
  });

  it("keeps cadences apart so a change of cadence schedules afresh", () => {
    const now = new Date("2026-11-28T02:00:00Z");
    expect(cadenceSlot(now, 12)).not.toBe(cadenceSlot(now, 24));
  });
});

describe("windowDays", () => {
  it("is the timeframe for manual syncs", () => {
    expect(windowDays({ type: "manual-sync", timeframeDays: 7 }, "meta", DEFAULT_AUTOMATION)).toBe(
      7,
    );
  });

  it("widens scheduled syncs to the platform's restatement window", () => {
    expect(RESTATEMENT_LOOKBACK_DAYS.meta).toBe(28);
    expect(
      windowDays({ type: "scheduled-sync", timeframeDays: 1 }, "meta", DEFAULT_AUTOMATION),
    ).toBe(28);
  });

  it("re-pulls the restatement window in a sub-daily cadence's 02:00 slot only", () => {
    const at = (iso: string, hours: number) => cadenceSlot(new Date(iso), hours);
    const scheduled = (slot: string) => ({
      type: "scheduled-sync" as const,
      timeframeDays: 1,
      slot,
    });
    // Hourly: the 02:00 UTC slot is the day's full window, 03:00 and 01:00 the short one.
    expect(windowDays(scheduled(at("2026-12-01T02:10:00Z", 1)), "meta", DEFAULT_AUTOMATION)).toBe(
      28,
    );
    expect(windowDays(scheduled(at("2026-12-01T03:10:00Z", 1)), "meta", DEFAULT_AUTOMATION)).toBe(
      1,
    );
    expect(windowDays(scheduled(at("2026-12-02T01:59:00Z", 1)), "meta", DEFAULT_AUTOMATION)).toBe(
      1,
    );
    // Every 6 h: 02:00 full, 08:00, 14:00 and 20:00 short.
    expect(windowDays(scheduled(at("2026-12-01T02:00:00Z", 6)), "meta", DEFAULT_AUTOMATION)).toBe(
      28,
    );
    expect(windowDays(scheduled(at("2026-12-01T08:00:00Z", 6)), "meta", DEFAULT_AUTOMATION)).toBe(
      1,
    );
    // Daily: always full; a scheduled job without a slot (older documents) too.
    expect(windowDays(scheduled(at("2026-12-01T02:00:00Z", 24)), "meta", DEFAULT_AUTOMATION)).toBe(
      28,
    );
    expect(
      windowDays({ type: "scheduled-sync", timeframeDays: 1 }, "meta", DEFAULT_AUTOMATION),
    ).toBe(28);
  });

  it("uses the integration's lookback preference instead of the platform default", () => {
    const automation = { ...DEFAULT_AUTOMATION, lookbackDays: 3 };
    expect(windowDays({ type: "scheduled-sync", timeframeDays: 1 }, "meta", automation)).toBe(3);
  });
});

describe("rangeIn: each account's own days", () => {
  const at = (iso: string) => Date.parse(iso);
  // The guide's 02:00 UTC run, `timeframeDays: 1`.
  const nightly = { days: 1, at: at("2026-12-01T02:00:00Z") };

  it.each([
    ["UTC", "2026-11-30", "2026-12-01"],
    // UTC+14: already Dec 1, 16:00.
    ["Pacific/Kiritimati", "2026-11-30", "2026-12-01"],
    // UTC−11: still Nov 30, 15:00 — Dec 1 has not started and is not asked for.
    ["Pacific/Pago_Pago", "2026-11-29", "2026-11-30"],
    // UTC−8: Nov 30, 18:00.
    ["America/Los_Angeles", "2026-11-29", "2026-11-30"],
  ])("%s: the last complete day and the current one", (zone, since, until) => {
    expect(rangeIn(nightly, zone)).toEqual({ since, until });
  });

  it("turns the day at the account's midnight, across UTC+14 and UTC−11", () => {
    // Kiritimati's midnight is 10:00 UTC the day before.
    expect(rangeIn({ days: 0, at: at("2026-11-30T09:59:59Z") }, "Pacific/Kiritimati")).toEqual({
      since: "2026-11-30",
      until: "2026-11-30",
    });
    expect(rangeIn({ days: 0, at: at("2026-11-30T10:00:00Z") }, "Pacific/Kiritimati").until).toBe(
      "2026-12-01",
    );
    // Pago Pago's midnight is 11:00 UTC.
    expect(rangeIn({ days: 0, at: at("2026-12-01T10:59:59Z") }, "Pacific/Pago_Pago").until).toBe(
      "2026-11-30",
    );
    expect(rangeIn({ days: 0, at: at("2026-12-01T11:00:00Z") }, "Pacific/Pago_Pago").until).toBe(
      "2026-12-01",
    );
  });

  it("follows daylight-saving changes", () => {
    const la = "America/Los_Angeles";
    // 2026-11-01: PDT (UTC−7) ends at 09:00 UTC; midnight of Nov 1 was 07:00 UTC, of Nov 2 08:00.
    expect(rangeIn({ days: 0, at: at("2026-11-01T06:59:00Z") }, la).until).toBe("2026-10-31");
    expect(rangeIn({ days: 0, at: at("2026-11-01T07:00:00Z") }, la).until).toBe("2026-11-01");
    expect(rangeIn({ days: 0, at: at("2026-11-02T07:59:00Z") }, la).until).toBe("2026-11-01");
    expect(rangeIn({ days: 0, at: at("2026-11-02T08:00:00Z") }, la).until).toBe("2026-11-02");
    // 2026-03-08: PST → PDT; midnight of Mar 9 is 07:00 UTC.
    expect(rangeIn({ days: 2, at: at("2026-03-09T06:59:00Z") }, la)).toEqual({
      since: "2026-03-06",
      until: "2026-03-08",
    });
    expect(rangeIn({ days: 2, at: at("2026-03-09T07:00:00Z") }, la).until).toBe("2026-03-09");
    // Europe/Paris: CEST ends 2026-10-25 at 01:00 UTC; midnight of Oct 26 is 23:00 UTC.
    const paris = "Europe/Paris";
    expect(rangeIn({ days: 0, at: at("2026-10-25T22:59:00Z") }, paris).until).toBe("2026-10-25");
    expect(rangeIn({ days: 0, at: at("2026-10-25T23:00:00Z") }, paris).until).toBe("2026-10-26");
  });
});
