/**
 * Client-side rate limiting per platform and per function instance: at most `requestsPerSecond`
 * request starts in any one-second window and at most `concurrency` requests in flight, shared by
 * every job the instance runs. A wait the platform asked for (`pauseFor`) holds back the requests
 * it covers until it has passed: every request of the platform, or — for a limit the platform
 * scopes to one ad account or one user — only the requests run under that key.
 */
export interface LimiterSettings {
  requestsPerSecond: number;
  concurrency: number;
}

export interface LimiterClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: LimiterClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/**
 * What a platform's rate-limit signal says is limited, relative to the request that got it:
 * - `platform`: a quota of our app (Google's project, Meta's app, TikTok's developer app), so
 *   every request of the platform waits;
 * - `account`: the ad account the request was for (Google `rateScope: ACCOUNT`, Meta's ad-account
 *   and Business Use Case throttles, TikTok 40133), so only that account's requests wait;
 * - `member`: the user whose token made the request (LinkedIn's per-member limit);
 * - `{ account }`: another ad account, named by the platform (Meta's usage headers are keyed by
 *   the business object they count).
 */
export type PauseScope = "platform" | "account" | "member" | { account: string };

export class RateLimiter {
  private inFlight = 0;
  private readonly waiting: Array<() => void> = [];
  /** Start times of the requests of the last second, oldest first. */
  private readonly starts: number[] = [];
  private pausedUntil = 0;
  /** Pauses of single keys (an account, a member): end times, dropped once passed. */
  private readonly keyPausedUntil = new Map<string, number>();

  /**
   * `startFull`: the first window counts as used, so the first request waits one window too.
   * A job run's limiter takes over a queue slot whose previous run may have just spent that
   * slot's share (`budget.ts`); counting its window as spent keeps the slot's rate continuous.
   */
  constructor(
    readonly settings: LimiterSettings,
    private readonly clock: LimiterClock = realClock,
    options: { startFull?: boolean } = {},
  ) {
    if (settings.requestsPerSecond <= 0 || settings.concurrency < 1) {
      throw new RangeError("requestsPerSecond must be > 0 and concurrency >= 1");
    }
    if (options.startFull) {
      const now = clock.now();
      this.starts.push(...Array.from({ length: this.perWindow() }, () => now));
    }
  }

  /** Request starts allowed per window (at least one: a rate under 1/s spaces them instead). */
  private perWindow(): number {
    return Math.max(1, Math.floor(this.settings.requestsPerSecond));
  }

  /**
   * Holds back, until `ms` from now, every request (no `key`: a platform's Retry-After) or only
   * the requests run under `key`. A pause is never shortened by a later, shorter one.
   */
  pauseFor(ms: number, key?: string): void {
    const now = this.clock.now();
    const until = now + ms;
    if (key === undefined) {
      this.pausedUntil = Math.max(this.pausedUntil, until);
      return;
    }
    for (const [other, otherUntil] of this.keyPausedUntil) {
      if (otherUntil <= now) {
        this.keyPausedUntil.delete(other);
      }
    }
    this.keyPausedUntil.set(key, Math.max(this.keyPausedUntil.get(key) ?? 0, until));
  }

  /** How long requests are still held back: every request's pause, or `key`'s alone. */
  remainingPauseMs(key?: string): number {
    const until = key === undefined ? this.pausedUntil : (this.keyPausedUntil.get(key) ?? 0);
    return Math.max(0, until - this.clock.now());
  }

  /** Runs `task` within the rate and concurrency limits, after every pause covering `keys`. */
  async run<T>(task: () => Promise<T>, keys: readonly string[] = []): Promise<T> {
    // A paused key waits before it takes a slot: the slot stays free for the requests of the
    // accounts that are not paused.
    await this.awaitPause(keys);
    await this.acquireSlot();
    try {
      await this.awaitRate(keys);
      return await task();
    } finally {
      this.release();
    }
  }

  /** The longest remaining pause among `keys`' own pauses. */
  private keysPausedMs(keys: readonly string[]): number {
    return Math.max(0, ...keys.map((key) => this.remainingPauseMs(key)));
  }

  /** Loops because a pause may be extended while we sleep. */
  private async awaitPause(keys: readonly string[]): Promise<void> {
    for (let waitMs = this.keysPausedMs(keys); waitMs > 0; waitMs = this.keysPausedMs(keys)) {
      await this.clock.sleep(waitMs);
    }
  }

  private async acquireSlot(): Promise<void> {
    if (this.inFlight < this.settings.concurrency) {
      this.inFlight += 1;
      return;
    }
    // The releasing task hands its slot over directly, so inFlight stays unchanged.
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) {
      next();
    } else {
      this.inFlight -= 1;
    }
  }

  /**
   * Sliding one-second window; loops because a pause may be extended while we sleep. The keys'
   * pauses are checked again here: one may have begun while this request waited for its slot.
   */
  private async awaitRate(keys: readonly string[]): Promise<void> {
    const windowMs = 1000;
    const perWindow = this.perWindow();
    const spacingMs =
      this.settings.requestsPerSecond < 1 ? 1000 / this.settings.requestsPerSecond : 0;
    for (;;) {
      const now = this.clock.now();
      while (
        this.starts.length > 0 &&
        now - (this.starts[0] ?? 0) >= Math.max(windowMs, spacingMs)
      ) {
        this.starts.shift();
      }
      let waitMs = Math.max(0, this.pausedUntil - now, this.keysPausedMs(keys));
      if (waitMs === 0 && this.starts.length >= perWindow) {
        waitMs = (this.starts[0] ?? now) + Math.max(windowMs, spacingMs) - now;
      }
      if (waitMs <= 0) {
        this.starts.push(now);
        return;
      }
      await this.clock.sleep(waitMs);
    }
  }
}
