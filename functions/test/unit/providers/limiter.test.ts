import { type LimiterClock, RateLimiter } from "../../../src/providers/limiter";

/** A virtual clock: sleeping advances time instantly, so the test measures schedule, not speed. */
function virtualClock(): LimiterClock & { starts: number[]; record: () => Promise<void> } {
  let now = 0;
  const starts: number[] = [];
  return {
    starts,
    record: () => {
      starts.push(now);
      return Promise.resolve();
    },
    now: () => now,
    sleep: async (ms) => {
      now += ms;
      await Promise.resolve();
    },
  };
}

describe("RateLimiter", () => {
  it("never starts more than requestsPerSecond requests in any one-second window", async () => {
    const clock = virtualClock();
    const limiter = new RateLimiter({ requestsPerSecond: 3, concurrency: 10 }, clock);
    for (let i = 0; i < 10; i += 1) {
      await limiter.run(clock.record);
    }
    for (const start of clock.starts) {
      const inWindow = clock.starts.filter((t) => t >= start && t < start + 1000).length;
      expect(inWindow).toBeLessThanOrEqual(3);
    }
    expect(clock.starts).toHaveLength(10);
  });

  it("starting full, waits a window before its first request as well", async () => {
    const clock = virtualClock();
    const spaced = new RateLimiter({ requestsPerSecond: 0.5, concurrency: 1 }, clock, {
      startFull: true,
    });
    await spaced.run(clock.record);
    const windowed = new RateLimiter({ requestsPerSecond: 3, concurrency: 3 }, clock, {
      startFull: true,
    });
    const before = clock.now();
    await Promise.all([1, 2, 3].map(() => windowed.run(clock.record)));
    expect(clock.starts).toEqual([2000, before + 1000, before + 1000, before + 1000]);
  });

  it("spaces requests when the rate is below one per second", async () => {
    const clock = virtualClock();
    const limiter = new RateLimiter({ requestsPerSecond: 0.5, concurrency: 1 }, clock);
    for (let i = 0; i < 3; i += 1) {
      await limiter.run(clock.record);
    }
    expect(clock.starts[1]! - clock.starts[0]!).toBeGreaterThanOrEqual(2000);
    expect(clock.starts[2]! - clock.starts[1]!).toBeGreaterThanOrEqual(2000);
  });

  it("holds every request back while paused", async () => {
    const clock = virtualClock();
    const limiter = new RateLimiter({ requestsPerSecond: 100, concurrency: 5 }, clock);
    limiter.pauseFor(5000);
    await limiter.run(clock.record);
    expect(clock.starts[0]).toBeGreaterThanOrEqual(5000);
  });

  it("holds back only the requests of a paused key", async () => {
    const clock = virtualClock();
    const limiter = new RateLimiter({ requestsPerSecond: 100, concurrency: 5 }, clock);
    limiter.pauseFor(5000, "account:1");
    const starts: Record<string, number> = {};
    const record = (name: string) => () => {
      starts[name] = clock.now();
      return Promise.resolve();
    };
    await limiter.run(record("other account"), ["account:2"]);
    await limiter.run(record("no key"));
    await limiter.run(record("paused account"), ["account:1", "member:a"]);
    expect(starts).toEqual({ "other account": 0, "no key": 0, "paused account": 5000 });
  });

  it("holds keyed requests back while the whole platform is paused", async () => {
    const clock = virtualClock();
    const limiter = new RateLimiter({ requestsPerSecond: 100, concurrency: 5 }, clock);
    limiter.pauseFor(5000);
    await limiter.run(clock.record, ["account:1"]);
    expect(clock.starts[0]).toBeGreaterThanOrEqual(5000);
  });

  it("reports each key's pause apart from the platform's, never shortened by a later one", () => {
    const clock = virtualClock();
    const limiter = new RateLimiter({ requestsPerSecond: 100, concurrency: 5 }, clock);
    limiter.pauseFor(5000, "account:1");
    limiter.pauseFor(1000, "account:1");
    limiter.pauseFor(2000, "member:a");
    expect(limiter.remainingPauseMs("account:1")).toBe(5000);
    expect(limiter.remainingPauseMs("member:a")).toBe(2000);
    expect(limiter.remainingPauseMs("account:2")).toBe(0);
    expect(limiter.remainingPauseMs()).toBe(0);
  });

  it("lets other keys' requests take the slots while a paused key waits", async () => {
    // Real time: the virtual clock would move every waiter's time at once.
    const limiter = new RateLimiter({ requestsPerSecond: 1000, concurrency: 1 });
    const started = Date.now();
    limiter.pauseFor(300, "account:1");
    const order: string[] = [];
    const task = (name: string) => () => {
      order.push(`${name} ${Date.now() - started < 300 ? "during" : "after"} the pause`);
      return Promise.resolve();
    };
    await Promise.all([
      limiter.run(task("paused"), ["account:1"]),
      limiter.run(task("other"), ["account:2"]),
    ]);
    expect(order).toEqual(["other during the pause", "paused after the pause"]);
  });

  it("never runs more than `concurrency` tasks at once", async () => {
    const limiter = new RateLimiter({ requestsPerSecond: 1000, concurrency: 2 });
    let running = 0;
    let peak = 0;
    const task = async () => {
      running += 1;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setTimeout(resolve, 5));
      running -= 1;
    };
    await Promise.all(Array.from({ length: 8 }, () => limiter.run(task)));
    expect(peak).toBe(2);
  });

  it("releases its slot when a task fails", async () => {
    const limiter = new RateLimiter({ requestsPerSecond: 1000, concurrency: 1 });
    await expect(limiter.run(() => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    await expect(limiter.run(() => Promise.resolve("next"))).resolves.toBe("next");
  });

  it("refuses nonsensical settings", () => {
    expect(() => new RateLimiter({ requestsPerSecond: 0, concurrency: 1 })).toThrow(RangeError);
    expect(() => new RateLimiter({ requestsPerSecond: 1, concurrency: 0 })).toThrow(RangeError);
  });
});
