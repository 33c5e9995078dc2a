import { parseCron } from "../../../dev/cron";

const at = (iso: string) => new Date(iso);

describe("parseCron", () => {
  it("matches the guide's schedules", () => {
    expect(parseCron("0 2 * * *")(at("2026-11-28T02:00:00Z"))).toBe(true);
    expect(parseCron("0 2 * * *")(at("2026-11-28T03:00:00Z"))).toBe(false);
    expect(parseCron("*/5 * * * *")(at("2026-11-28T10:35:00Z"))).toBe(true);
    expect(parseCron("*/5 * * * *")(at("2026-11-28T10:36:00Z"))).toBe(false);
    // 2026-11-29 is a Sunday.
    expect(parseCron("0 3 * * 0")(at("2026-11-29T03:00:00Z"))).toBe(true);
    expect(parseCron("0 3 * * 0")(at("2026-11-28T03:00:00Z"))).toBe(false);
    expect(parseCron("0 * * * *")(at("2026-11-28T17:00:00Z"))).toBe(true);
  });

  it("supports lists, ranges and stepped ranges", () => {
    const matcher = parseCron("0,30 9-17/4 * * 1-5");
    expect(matcher(at("2026-11-27T13:30:00Z"))).toBe(true); // Friday 13:30
    expect(matcher(at("2026-11-27T14:30:00Z"))).toBe(false);
    expect(matcher(at("2026-11-28T13:30:00Z"))).toBe(false); // Saturday
  });

  it.each(["* * *", "60 * * * *", "*/0 * * * *", "a * * * *"])("rejects %p", (expression) => {
    expect(() => parseCron(expression)).toThrow(/cron/);
  });
});
