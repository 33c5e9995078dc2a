import { DEFAULT_AUTOMATION } from "../../../src/integrations/model";
import { cadenceSlot } from "../../../src/jobs/schedule";
import { RESTATEMENT_LOOKBACK_DAYS, syncWindow } from "../../../src/jobs/window";

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

describe("syncWindow", () => {
  const now = new Date("2026-11-28T02:00:00Z");

  it("covers the last N complete days plus today for manual syncs", () => {
    expect(
      syncWindow({ type: "manual-sync", timeframeDays: 1 }, "google", DEFAULT_AUTOMATION, now),
    ).toEqual({ since: "2026-11-27", until: "2026-11-28" });
    expect(
      syncWindow({ type: "manual-sync", timeframeDays: 7 }, "meta", DEFAULT_AUTOMATION, now),
    ).toEqual({
      since: "2026-11-21",
      until: "2026-11-28",
    });
  });

  it("widens scheduled syncs to the platform's restatement window", () => {
    const window = syncWindow(
      { type: "scheduled-sync", timeframeDays: 1 },
      "meta",
      DEFAULT_AUTOMATION,
      now,
    );
    expect(RESTATEMENT_LOOKBACK_DAYS.meta).toBe(28);
    expect(window).toEqual({ since: "2026-10-31", until: "2026-11-28" });
  });

  it("uses the integration's lookback preference instead of the platform default", () => {
    const window = syncWindow(
      { type: "scheduled-sync", timeframeDays: 1 },
      "meta",
      { ...DEFAULT_AUTOMATION, lookbackDays: 3 },
      now,
    );
    expect(window).toEqual({ since: "2026-11-25", until: "2026-11-28" });
  });
});
