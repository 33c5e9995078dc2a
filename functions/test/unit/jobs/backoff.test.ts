/** The retry policy (`jobs/backoff.ts`) as plain arithmetic. */
import { DEFAULT_RETRY_POLICY, nextRetry, type RetryState } from "../../../src/jobs/backoff";

const MINUTE = 60_000;
const now = 1_000 * MINUTE;
const state = (overrides: Partial<RetryState> = {}): RetryState => ({
  attempts: 1,
  maxAttempts: 10,
  deferrals: 0,
  createdAtMs: now,
  ...overrides,
});
const transient = { code: "transient" as const };
const delay = (decision: ReturnType<typeof nextRetry>) =>
  decision.kind === "retry" ? (decision.atMs - now) / MINUTE : decision.why;

describe("nextRetry", () => {
  it("grows exponentially from 2 minutes, with jitter over the upper half", () => {
    expect(delay(nextRetry(state({ attempts: 1 }), transient, now, () => 0))).toBe(1);
    expect(delay(nextRetry(state({ attempts: 1 }), transient, now, () => 1))).toBe(2);
    expect(delay(nextRetry(state({ attempts: 3 }), transient, now, () => 1))).toBe(8);
    expect(delay(nextRetry(state({ attempts: 3 }), transient, now, () => 0.5))).toBe(6);
  });

  it("is capped at an hour", () => {
    expect(delay(nextRetry(state({ attempts: 9 }), transient, now, () => 1))).toBe(60);
  });

  it("is never sooner than the platform's requested wait", () => {
    const failure = { code: "transient" as const, retryAfterMs: 90 * MINUTE };
    expect(delay(nextRetry(state(), failure, now, () => 0))).toBe(90);
  });

  it("gives up when the attempts are spent", () => {
    expect(nextRetry(state({ attempts: 10 }), transient, now)).toEqual({
      kind: "give_up",
      why: "attempts",
    });
  });

  it("defers a rate limit whatever the attempts, to the platform's wait plus at most 10 %", () => {
    const limited = { code: "rate_limited" as const, retryAfterMs: 30 * MINUTE };
    const spent = state({ attempts: 10 });
    expect(nextRetry(spent, limited, now, () => 0)).toEqual({
      kind: "retry",
      atMs: now + 30 * MINUTE,
      deferral: true,
    });
    expect(delay(nextRetry(spent, limited, now, () => 1))).toBe(33);
  });

  it("backs a rate limit without a named wait off by its deferral count", () => {
    const limited = { code: "rate_limited" as const };
    expect(delay(nextRetry(state({ deferrals: 0 }), limited, now, () => 0))).toBe(2);
    expect(delay(nextRetry(state({ deferrals: 4 }), limited, now, () => 0))).toBe(32);
  });

  it("gives up on a retry or deferral that would start past the wait bound", () => {
    const created = now - DEFAULT_RETRY_POLICY.maxWaitMs + 10 * MINUTE;
    const limited = { code: "rate_limited" as const, retryAfterMs: 11 * MINUTE };
    expect(nextRetry(state({ createdAtMs: created }), limited, now, () => 0)).toEqual({
      kind: "give_up",
      why: "wait_bound",
    });
    const shorter = { code: "rate_limited" as const, retryAfterMs: 10 * MINUTE };
    expect(nextRetry(state({ createdAtMs: created }), shorter, now, () => 0).kind).toBe("retry");
  });
});
