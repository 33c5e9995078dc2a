import { HEADROOM, runLimits, TASK_QUEUES } from "../../../src/providers/budget";
import { PROVIDER_IDS } from "../../../src/providers/types";
import * as tasks from "../../../src/triggers/tasks";

describe("the fleet-wide budget", () => {
  it("gives each run an equal share: at most maxConcurrentDispatches runs stay under the budget", () => {
    for (const id of PROVIDER_IDS) {
      const budget = { requestsPerSecond: 10, concurrency: 20 };
      const share = runLimits(id, budget);
      const runs = TASK_QUEUES[id].maxConcurrentDispatches;
      expect(share.requestsPerSecond * runs).toBeCloseTo(10 * HEADROOM, 10);
      expect(share.requestsPerSecond * runs).toBeLessThan(budget.requestsPerSecond);
      expect(share.concurrency * runs).toBeLessThanOrEqual(Math.max(runs, budget.concurrency));
      expect(share.concurrency).toBeGreaterThanOrEqual(1);
    }
  });

  it("names each queue after the task function that serves it, with its limits", () => {
    for (const id of PROVIDER_IDS) {
      const { functionName, maxConcurrentDispatches, maxDispatchesPerSecond } = TASK_QUEUES[id];
      const fn = (tasks as Record<string, unknown>)[functionName] as {
        __endpoint?: { taskQueueTrigger?: { rateLimits?: unknown } };
      };
      expect(fn?.__endpoint?.taskQueueTrigger?.rateLimits).toEqual({
        maxConcurrentDispatches,
        maxDispatchesPerSecond,
      });
    }
    expect(Object.keys(tasks).sort()).toEqual(
      PROVIDER_IDS.map((id) => TASK_QUEUES[id].functionName).sort(),
    );
  });
});
