/**
 * The retry policy of a sync job, in one place (the README's "Retries" table is this file):
 *
 * - A `transient` failure spends an attempt and is retried after an exponential delay —
 *   2, 4, 8, 16, 32, then 60 minutes per attempt — with "full jitter" over the upper half, so
 *   that jobs failing together (a platform outage) do not come back together, and never sooner
 *   than a wait the platform asked for. With the default 10 attempts the nine waits add up to
 *   2.5–5 hours: a platform outage of a couple of hours costs a night's sync nothing.
 * - A `rate_limited` failure is a deferral, not a failed attempt: the platform said "later", so
 *   the job waits what the platform asked (or the same exponential delay, by deferral count,
 *   when it named no wait), plus up to 10 % of it so that deferred jobs do not return in one
 *   burst — and its attempts are left as they were.
 * - No job waits more than `maxWaitMs` (12 hours) from its creation: a retry or deferral that
 *   would start later fails the job, naming the bound, so a job stuck behind a long throttle
 *   frees its integration for the next slot instead of holding it for a day.
 */
import type { ProviderErrorCode } from "../providers/types";

export interface RetryPolicy {
  baseMs: number;
  maxMs: number;
  maxWaitMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  baseMs: 2 * 60_000,
  maxMs: 60 * 60_000,
  maxWaitMs: 12 * 60 * 60_000,
};

export const DEFAULT_MAX_ATTEMPTS = 10;

/** Share of a deferral's wait added at random on top of it (never taken off). */
const DEFERRAL_SPREAD = 0.1;

/** The `n`-th delay (1-based) of the exponential schedule, before jitter. */
const exponentialMs = (n: number, policy: RetryPolicy): number =>
  Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, n - 1));

export interface RetryState {
  /** Attempts spent, including the one that just failed. */
  attempts: number;
  maxAttempts: number;
  /** Rate-limit deferrals so far, not including this one. */
  deferrals: number;
  createdAtMs: number;
}

export type RetryDecision =
  | { kind: "retry"; atMs: number; deferral: boolean }
  | { kind: "give_up"; why: "attempts" | "wait_bound" };

/** What to do after a failed run of a job: retry when, or give up and why. */
export function nextRetry(
  state: RetryState,
  failure: { code: ProviderErrorCode; retryAfterMs?: number },
  nowMs: number,
  random: () => number = Math.random,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
): RetryDecision {
  const deferral = failure.code === "rate_limited";
  if (!deferral && state.attempts >= state.maxAttempts) {
    return { kind: "give_up", why: "attempts" };
  }
  const platformWaitMs = failure.retryAfterMs ?? 0;
  let delayMs: number;
  if (deferral) {
    const waitMs = platformWaitMs > 0 ? platformWaitMs : exponentialMs(state.deferrals + 1, policy);
    delayMs = Math.round(waitMs * (1 + random() * DEFERRAL_SPREAD));
  } else {
    const exponential = exponentialMs(state.attempts, policy);
    const jittered = Math.round(exponential / 2 + random() * (exponential / 2));
    delayMs = Math.max(jittered, platformWaitMs);
  }
  const atMs = nowMs + delayMs;
  if (atMs > state.createdAtMs + policy.maxWaitMs) {
    return { kind: "give_up", why: "wait_bound" };
  }
  return { kind: "retry", atMs, deferral };
}
