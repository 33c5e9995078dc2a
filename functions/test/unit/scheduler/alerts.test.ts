/** The alert state machine, one condition at a time (no Firestore, no webhook). */
import { type AlertState, decide, type Observation } from "../../../src/scheduler/alerts";

const COOLDOWN = 60 * 60_000;
const T0 = new Date("2026-11-28T03:00:00Z");
const at = (minutes: number) => new Date(T0.getTime() + minutes * 60_000);

const failures = (
  count: number,
  options: { threshold?: number; consecutive?: boolean } = {},
): Observation => ({
  kind: "failures",
  key: "failures.meta",
  title: "Meta Ads sync failures",
  failures: count,
  clean: count === 0,
  consecutive: options.consecutive ?? false,
  threshold: options.threshold ?? 3,
  detail: (n) => `${n} failures`,
  resolution: "A run reached Meta Ads without a failure",
});

const level = (value: number): Observation => ({
  kind: "level",
  key: "queue.backlog",
  title: "Sync queue stuck",
  value,
  threshold: 30,
  detail: (minutes) => `waited ${minutes} min`,
  resolution: "No due job waits",
});

const report: Observation = {
  kind: "report",
  key: "auth.failure_spike",
  title: "Failed authentication spike",
  detail: () => "20 failed attempts from 203.0.113.9",
};

const quiet: Observation = {
  kind: "quiet",
  key: "auth.failure_spike",
  title: "Failed authentication spike",
  resolution: "No source blocked for 60 min",
};

/** Applies observations in order, each at its minute; returns every decision's action. */
function play(steps: Array<[number, Observation]>, start?: AlertState) {
  let state = start;
  const decisions = steps.map(([minute, observation]) => {
    const decision = decide(state, observation, at(minute), COOLDOWN);
    if (decision.action !== "none") {
      state = decision.next;
    }
    return decision;
  });
  return { decisions, actions: decisions.map((d) => d.action), state };
}

describe("decide", () => {
  it("alerts on the first breach, suppresses repeats within the cooldown, reminds after it", () => {
    const { actions, decisions } = play([
      [0, failures(3)],
      [10, failures(5)],
      [59, failures(3)],
      [60, failures(4)],
    ]);
    expect(actions).toEqual(["alert", "none", "none", "reminder"]);
    const [first, , , reminder] = decisions;
    expect(first?.action === "alert" && first.text).toBe(
      "[Cohorts sync] ALERT: Meta Ads sync failures. 3 failures",
    );
    expect(reminder?.action === "reminder" && reminder.text).toBe(
      "[Cohorts sync] STILL FIRING since 2026-11-28T03:00:00.000Z: Meta Ads sync failures. 4 failures",
    );
  });

  it("sends one recovery on the first clean run, then nothing", () => {
    const { actions, decisions, state } = play([
      [0, failures(3)],
      [25, failures(0)],
      [30, failures(0)],
    ]);
    expect(actions).toEqual(["alert", "recovery", "none"]);
    expect(decisions[1]?.action === "recovery" && decisions[1].text).toBe(
      "[Cohorts sync] RESOLVED: Meta Ads sync failures. A run reached Meta Ads without a failure (firing since 2026-11-28T03:00:00.000Z, 25 min).",
    );
    expect(state?.status).toBe("ok");
  });

  it("leaves a firing incident alone when a run fails below the threshold", () => {
    expect(
      play([
        [0, failures(3)],
        [5, failures(1)],
      ]).actions,
    ).toEqual(["alert", "none"]);
    expect(play([[0, failures(2)]]).actions).toEqual(["none"]);
  });

  it("counts consecutive single-job runs until a clean one resets them", () => {
    const run = (count: number) => failures(count, { consecutive: true });
    const { actions, state } = play([
      [0, run(1)],
      [1, run(1)],
      [2, run(0)],
      [3, run(1)],
      [4, run(1)],
      [5, run(1)],
    ]);
    expect(actions).toEqual(["record", "record", "record", "record", "record", "alert"]);
    expect(state?.streak).toBe(3);
  });

  it("re-arms an alert whose delivery failed: the next breach alerts again, within the cooldown", () => {
    const first = decide(undefined, failures(3), at(0), COOLDOWN);
    expect(first.action).toBe("alert");
    if (first.action !== "alert") {
      return;
    }
    expect(first.restoreNotifiedAt).toBeNull();
    const undelivered = { ...first.next, lastNotifiedAt: first.restoreNotifiedAt };
    expect(play([[5, failures(3)]], undelivered).actions).toEqual(["alert"]);
    // Cleared before any message got through: it ends silently.
    expect(play([[5, failures(0)]], undelivered).actions).toEqual(["record"]);
  });

  it("raises and clears a level with the value", () => {
    expect(play([[0, level(29)]]).actions).toEqual(["none"]);
    expect(
      play([
        [0, level(31)],
        [5, level(40)],
        [10, level(2)],
      ]).actions,
    ).toEqual(["alert", "none", "recovery"]);
  });

  it("keeps a reported incident open while reports come, and resolves it after a quiet cooldown", () => {
    const { actions, state } = play([
      [0, report],
      [20, report],
      [30, quiet],
      [79, quiet],
      [80, quiet],
      [85, quiet],
    ]);
    expect(actions).toEqual(["alert", "record", "none", "none", "recovery", "none"]);
    expect(state?.status).toBe("ok");
  });

  it("does nothing for a quiet check without an incident", () => {
    expect(play([[0, quiet]]).actions).toEqual(["none"]);
  });
});
