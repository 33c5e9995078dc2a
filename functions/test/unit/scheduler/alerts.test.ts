/** The alert state machine, one condition at a time (no Firestore, no webhook). */
import { Timestamp } from "firebase-admin/firestore";

import {
  type AlertState,
  decide,
  type Observation,
  parseAlertState,
} from "../../../src/scheduler/alerts";

const COOLDOWN = 60 * 60_000;
const T0 = new Date("2026-11-28T03:00:00Z");
const at = (minutes: number) => new Date(T0.getTime() + minutes * 60_000);

/** A run of many jobs (the sweep): its own failures count. */
const failures = (
  count: number,
  options: { threshold?: number; resolveRuns?: number } = {},
): Observation => ({
  kind: "failures",
  key: "failures.meta",
  title: "Meta Ads sync failures",
  failures: count,
  clean: count === 0,
  threshold: options.threshold ?? 3,
  resolveRuns: options.resolveRuns ?? 1,
  detail: (n) => `${n} failures`,
  resolution: "A run reached Meta Ads without a failure",
});

/** A trigger run (one job), judged over the window: 20 runs, 60 min, 50 %. */
const run = (
  failed: boolean,
  options: { threshold?: number; resolveRuns?: number; runs?: number } = {},
): Observation => ({
  kind: "runs",
  key: "failures.meta",
  title: "Meta Ads sync failures",
  failed,
  threshold: options.threshold ?? 3,
  window: { runs: options.runs ?? 20, maxAgeMs: 60 * 60_000, failurePercent: 50 },
  resolveRuns: options.resolveRuns ?? 3,
  detail: (tally) =>
    tally ? `${tally.failed}/${tally.runs}, ${tally.inARow} in a row` : "still failing",
  resolution: "3 runs in a row reached Meta Ads without a failure",
});
const F = (options?: Parameters<typeof run>[1]) => run(true, options);
const S = (options?: Parameters<typeof run>[1]) => run(false, options);

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

/** `count` runs, 30 s apart from `from` minutes, whose outcome `pattern(i)` gives. */
const series = (
  count: number,
  pattern: (i: number) => Observation,
  from = 0,
): Array<[number, Observation]> =>
  Array.from({ length: count }, (_, i) => [from + i / 2, pattern(i)]);

const messages = (actions: readonly string[]) =>
  actions.filter((action) => action === "alert" || action === "reminder" || action === "recovery");

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

  it("sends one recovery when the clean runs reach the resolve count, then nothing", () => {
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

  it("leaves a firing incident open when a run fails below the threshold", () => {
    expect(
      play([
        [0, failures(3)],
        [5, failures(1)],
      ]).actions,
    ).toEqual(["alert", "none"]);
    expect(play([[0, failures(2)]]).actions).toEqual(["none"]);
  });

  it("resolves a many-job incident only after K clean runs in a row; a failed run starts over", () => {
    const sweep = (count: number) => failures(count, { resolveRuns: 3 });
    const { actions } = play([
      [0, sweep(3)],
      [5, sweep(0)],
      [10, sweep(0)],
      [15, sweep(1)],
      [20, sweep(0)],
      [25, sweep(0)],
      [30, sweep(0)],
    ]);
    expect(actions).toEqual([
      "alert",
      "record",
      "record",
      "record",
      "record",
      "record",
      "recovery",
    ]);
  });

  it("re-arms an alert whose delivery failed: the next breach alerts again, within the cooldown", () => {
    const first = decide(undefined, failures(3), at(0), COOLDOWN);
    expect(first.action).toBe("alert");
    if (first.action !== "alert") {
      return;
    }
    expect(first.restoreNotifiedAt).toBeNull();
    const undelivered = {
      ...first.next,
      lastNotifiedAt: first.restoreNotifiedAt,
      announced: false,
    };
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

describe("decide, trigger runs over the run window", () => {
  it("alternating fail/success for 10 minutes opens once and never flaps, even at threshold 1", () => {
    for (const threshold of [1, 3]) {
      const { actions, state } = play(series(20, (i) => run(i % 2 === 0, { threshold })));
      expect(messages(actions)).toEqual(["alert"]);
      expect(state?.status).toBe("firing");
    }
  });

  it("opens at a 67 % failure rate (fail, fail, success, repeated) with threshold 3", () => {
    const { actions, decisions } = play(series(12, (i) => run(i % 3 !== 2)));
    // F F S F: 3 failed of 4, at 75 % ≥ 50 %.
    expect(actions.slice(0, 4)).toEqual(["record", "record", "record", "alert"]);
    expect(messages(actions)).toEqual(["alert"]);
    expect(decisions[3]?.action === "alert" && decisions[3].text).toBe(
      "[Cohorts sync] ALERT: Meta Ads sync failures. 3/4, 1 in a row",
    );
  });

  it("opens on `threshold` failures in a row although the window's rate is low", () => {
    const steps = series(13, (i) => run(i === 0 || i >= 10));
    // F, 9 × S, F F F: 4 of 13 (31 %), the last 3 in a row.
    const { actions } = play(steps);
    expect(actions.at(-1)).toBe("alert");
    expect(messages(actions)).toEqual(["alert"]);
  });

  it("stays quiet below the rate, and costs no write while the platform is healthy", () => {
    expect(play(series(10, () => S())).actions).toEqual(Array(10).fill("none"));
    // F S S S F S S S F: 3 failed of 9 (33 %), never 3 in a row.
    const { actions, state } = play(series(9, (i) => run(i % 4 === 0)));
    expect(messages(actions)).toEqual([]);
    expect(state?.runs).toHaveLength(9);
  });

  it("keeps at most the window's runs, none older than its age, from the oldest failure on", () => {
    const { state } = play(series(30, (i) => run(i % 5 === 0, { runs: 10 })));
    expect(state?.runs).toHaveLength(10);
    // Two failures over an hour ago do not add up with one now.
    const { actions, state: later } = play([
      [0, F()],
      [1, F()],
      [62, F()],
    ]);
    expect(actions).toEqual(["record", "record", "record"]);
    expect(later?.runs.map((entry) => entry.at)).toEqual([at(62)]);
  });

  it("takes K clean runs in a row to resolve, with one message", () => {
    const { actions, decisions, state } = play([
      [0, F()],
      [1, F()],
      [2, F()],
      [3, S()],
      [4, S()],
      [5, F()],
      [6, S()],
      [7, S()],
      [8, S()],
      [9, S()],
    ]);
    expect(actions).toEqual([
      "record",
      "record",
      "alert",
      "record",
      "record",
      "record",
      "record",
      "record",
      "recovery",
      "none",
    ]);
    expect(decisions[8]?.action === "recovery" && decisions[8].text).toBe(
      "[Cohorts sync] RESOLVED: Meta Ads sync failures. 3 runs in a row reached Meta Ads without a failure (firing since 2026-11-28T03:02:00.000Z, 6 min).",
    );
    expect(state).toMatchObject({ status: "ok", cleanRuns: 0, runs: [] });
  });

  it("writes nothing for repeated failures while open: an outage does not contend on the state", () => {
    const { actions } = play([
      [0, F({ threshold: 1 })],
      [1, F({ threshold: 1 })],
      [2, F({ threshold: 1 })],
    ]);
    expect(actions).toEqual(["alert", "none", "none"]);
  });

  it("re-opens silently within the cooldown, alerts once after it, and resolves such an incident silently", () => {
    const one = { threshold: 1, resolveRuns: 1 };
    const { actions } = play([
      [0, F(one)],
      [5, S(one)],
      [10, F(one)],
      [20, F(one)],
      [61, F(one)],
      [70, S(one)],
      [80, F(one)],
      [85, S(one)],
    ]);
    expect(actions).toEqual([
      "alert",
      "recovery",
      // Re-opened 10 min after the alert: recorded, no message.
      "record",
      "none",
      // Still firing after the cooldown: its alert goes out now, as an opening.
      "alert",
      "recovery",
      "record",
      // Never announced: no lone "resolved".
      "record",
    ]);
  });
});

describe("parseAlertState", () => {
  const stamp = (minutes: number) => Timestamp.fromDate(at(minutes));
  const written = {
    title: "Meta Ads sync failures",
    lastBreachAt: null,
    lastDetail: "",
    updatedAt: stamp(5),
  };

  it("migrates an earlier document: its streak becomes failed runs", () => {
    const state = parseAlertState({
      ...written,
      status: "ok",
      streak: 2,
      since: null,
      lastNotifiedAt: null,
    });
    expect(state).toMatchObject({ status: "ok", announced: false, cleanRuns: 0 });
    expect(state?.runs).toEqual([
      { at: at(5), failed: true },
      { at: at(5), failed: true },
    ]);
    expect(play([[6, F()]], state).actions).toEqual(["alert"]);
  });

  it("migrates an earlier firing document as announced when its alert was claimed", () => {
    const firing = { ...written, status: "firing", streak: 0, since: stamp(0) };
    expect(parseAlertState({ ...firing, lastNotifiedAt: stamp(0) })?.announced).toBe(true);
    expect(parseAlertState({ ...firing, lastNotifiedAt: null })?.announced).toBe(false);
  });

  it("ignores fields it does not know", () => {
    const state = parseAlertState({
      ...written,
      status: "ok",
      since: null,
      lastNotifiedAt: null,
      announced: false,
      cleanRuns: 0,
      runs: [],
      addedLater: 1,
    });
    expect(state).not.toHaveProperty("addedLater");
  });
});
