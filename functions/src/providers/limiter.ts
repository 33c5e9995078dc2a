/**
 * Client-side rate limiting per platform and per function instance: at most `requestsPerSecond`
 * request starts in any one-second window and at most `concurrency` requests in flight, shared by
 * every job the instance runs. A wait the platform asked for (`pauseFor`) holds back every
 * request of that platform until it has passed.
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

export class RateLimiter {
  private inFlight = 0;
  private readonly waiting: Array<() => void> = [];
  /** Start times of the requests of the last second, oldest first. */
  private readonly starts: number[] = [];
  private pausedUntil = 0;

  constructor(
    readonly settings: LimiterSettings,
    private readonly clock: LimiterClock = realClock,
  ) {
    if (settings.requestsPerSecond <= 0 || settings.concurrency < 1) {
      throw new RangeError("requestsPerSecond must be > 0 and concurrency >= 1");
    }
  }

  /** Holds back every request until `ms` from now (a platform's Retry-After). */
  pauseFor(ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, this.clock.now() + ms);
  }

  /** How long every request is still held back by a platform-requested pause. */
  remainingPauseMs(): number {
    return Math.max(0, this.pausedUntil - this.clock.now());
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    await this.acquireSlot();
    try {
      await this.awaitRate();
      return await task();
    } finally {
      this.release();
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

  /** Sliding one-second window; loops because a pause may be extended while we sleep. */
  private async awaitRate(): Promise<void> {
    const windowMs = 1000;
    const perWindow = Math.max(1, Math.floor(this.settings.requestsPerSecond));
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
      let waitMs = Math.max(0, this.pausedUntil - now);
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
