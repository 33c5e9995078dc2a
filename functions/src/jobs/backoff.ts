/**
 * Retry delay after the `attempt`-th failed attempt (1-based): exponential from `baseMs`, capped
 * at `maxMs`, with "full jitter" over the upper half so that jobs failing together (a platform
 * outage) do not come back together. Never sooner than the wait the platform asked for.
 */
export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 60_000, maxMs: 6 * 60 * 60_000 };

export function retryDelayMs(
  attempt: number,
  platformWaitMs: number | undefined,
  random: () => number = Math.random,
  policy: BackoffPolicy = DEFAULT_BACKOFF,
): number {
  const exponential = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  const jittered = Math.round(exponential / 2 + random() * (exponential / 2));
  return Math.max(jittered, platformWaitMs ?? 0);
}
