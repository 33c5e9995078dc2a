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

/** A run's failures of one platform (the sweep's window, or a batch's own). */
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

  it("keeps a platform that fails every other sweep one open incident: no flapping", () => {
    const sweep = (count: number) => failures(count, { threshold: 1, resolveRuns: 3 });
    const steps = Array.from({ length: 24 }, (_, i): [number, Observation] => [
      i * 5,
      sweep(i % 2 === 0 ? 2 : 0),
    ]);
    const { actions, state } = play(steps);
    // One opening, then a reminder after each hour of cooldown; never a recovery.
    expect(messages(actions)).toEqual(["alert", "reminder"]);
    expect(state?.status).toBe("firing");
  });

  it("writes nothing for repeated failures while open: an outage does not contend on the state", () => {
    const failing = failures(1, { threshold: 1 });
    expect(
      play([
        [0, failing],
        [5, failing],
        [10, failing],
      ]).actions,
    ).toEqual(["alert", "none", "none"]);
  });

  it("re-opens silently within the cooldown, alerts once after it, and resolves such an incident silently", () => {
    const one = { threshold: 1, resolveRuns: 1 };
    const { actions } = play([
      [0, failures(1, one)],
      [5, failures(0, one)],
      [10, failures(1, one)],
      [20, failures(1, one)],
      [61, failures(1, one)],
      [70, failures(0, one)],
      [80, failures(1, one)],
      [85, failures(0, one)],
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

  it("reads a document of the run-window code: the trigger runs it kept are dropped", () => {
    const state = parseAlertState({
      ...written,
      status: "firing",
      since: stamp(0),
      lastNotifiedAt: stamp(0),
      announced: true,
      cleanRuns: 1,
      runs: [
        { at: stamp(0), failed: true },
        { at: stamp(1), failed: true },
        { at: stamp(2), failed: false },
      ],
    });
    expect(state).toEqual({
      ...written,
      updatedAt: at(5),
      status: "firing",
      since: at(0),
      lastNotifiedAt: at(0),
      announced: true,
      cleanRuns: 1,
    });
    // Its incident carries on: two more clean sweeps reach the resolve count of 3.
    const clean = failures(0, { resolveRuns: 3 });
    expect(
      play(
        [
          [10, clean],
          [15, clean],
        ],
        state,
      ).actions,
    ).toEqual(["record", "recovery"]);
  });

  it("reads the oldest documents (a streak, no announced): the streak is dropped", () => {
    const state = parseAlertState({
      ...written,
      status: "ok",
      streak: 2,
      since: null,
      lastNotifiedAt: null,
    });
    expect(state).toMatchObject({ status: "ok", announced: false, cleanRuns: 0 });
    expect(state).not.toHaveProperty("streak");
    expect(play([[6, failures(2)]], state).actions).toEqual(["none"]);
    expect(play([[6, failures(3)]], state).actions).toEqual(["alert"]);
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
      addedLater: 1,
    });
    expect(state).not.toHaveProperty("addedLater");
  });
});
