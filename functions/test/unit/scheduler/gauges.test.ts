import { assessQueue, type QueueGauges } from "../../../src/scheduler/gauges";

const thresholds = { stuckMinutes: 30, unhealthyMinutes: 120, failedWarning: 25 };

const gauges = (overrides: Partial<QueueGauges> = {}): QueueGauges => ({
  queued: 4,
  running: 1,
  stale: 0,
  failedLast24h: 0,
  oldestDueAgeSeconds: 120,
  oldestDueJobId: "job-1",
  ...overrides,
});

describe("assessQueue", () => {
  it("is ok for a queue that drains", () => {
    expect(assessQueue(gauges(), thresholds)).toEqual({ status: "ok", reasons: [] });
    expect(assessQueue(gauges({ oldestDueAgeSeconds: null }), thresholds).status).toBe("ok");
  });

  it("warns from the stuck age, and is an error from the unhealthy age", () => {
    expect(assessQueue(gauges({ oldestDueAgeSeconds: 29 * 60 + 59 }), thresholds).status).toBe(
      "ok",
    );
    expect(assessQueue(gauges({ oldestDueAgeSeconds: 30 * 60 }), thresholds)).toEqual({
      status: "warning",
      reasons: ["the oldest due job has waited 30 min (warning at 30)"],
    });
    expect(assessQueue(gauges({ oldestDueAgeSeconds: 120 * 60 }), thresholds)).toEqual({
      status: "error",
      reasons: ["the oldest due job has waited 120 min (unhealthy at 120)"],
    });
  });

  it("warns on stale running jobs and on many recent failures", () => {
    expect(assessQueue(gauges({ stale: 2, failedLast24h: 25 }), thresholds)).toEqual({
      status: "warning",
      reasons: [
        "2 running job(s) have an expired lease",
        "25 jobs failed in the last 24 h (warning at 25)",
      ],
    });
    expect(assessQueue(gauges({ failedLast24h: 24 }), thresholds).status).toBe("ok");
  });
});
