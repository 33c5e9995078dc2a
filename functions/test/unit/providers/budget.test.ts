import {
  BACKFILL_QUEUES,
  HEADROOM,
  type QueueKind,
  queuesOf,
  runLimits,
  TASK_QUEUES,
} from "../../../src/providers/budget";
import { PROVIDER_IDS } from "../../../src/providers/types";
import * as tasks from "../../../src/triggers/tasks";

const KINDS: readonly QueueKind[] = ["sync", "backfill"];

describe("the fleet-wide budget", () => {
  it("gives each run an equal share: every run of both queues at once stays under the budget", () => {
    for (const id of PROVIDER_IDS) {
      const budget = { requestsPerSecond: 10, concurrency: 20 };
      const share = runLimits(id, budget);
      const runs =
        TASK_QUEUES[id].maxConcurrentDispatches + BACKFILL_QUEUES[id].maxConcurrentDispatches;
      expect(share.requestsPerSecond * runs).toBeCloseTo(10 * HEADROOM, 10);
      expect(share.requestsPerSecond * runs).toBeLessThan(budget.requestsPerSecond);
      expect(share.concurrency * runs).toBeLessThanOrEqual(Math.max(runs, budget.concurrency));
      expect(share.concurrency).toBeGreaterThanOrEqual(1);
    }
  });

  it("keeps most shares for the syncs: a platform's backfills hold fewer slots than its syncs", () => {
    for (const id of PROVIDER_IDS) {
      expect(BACKFILL_QUEUES[id].maxConcurrentDispatches).toBeGreaterThanOrEqual(1);
      expect(BACKFILL_QUEUES[id].maxConcurrentDispatches).toBeLessThan(
        TASK_QUEUES[id].maxConcurrentDispatches,
      );
    }
  });

  it("names each queue after the task function that serves it, with its limits", () => {
    for (const kind of KINDS) {
      for (const id of PROVIDER_IDS) {
        const { functionName, maxConcurrentDispatches, maxDispatchesPerSecond } =
          queuesOf(kind)[id];
        const fn = (tasks as Record<string, unknown>)[functionName] as {
          __endpoint?: { taskQueueTrigger?: { rateLimits?: unknown } };
        };
        expect(fn?.__endpoint?.taskQueueTrigger?.rateLimits).toEqual({
          maxConcurrentDispatches,
          maxDispatchesPerSecond,
        });
      }
    }
    expect(Object.keys(tasks).sort()).toEqual(
      KINDS.flatMap((kind) => PROVIDER_IDS.map((id) => queuesOf(kind)[id].functionName)).sort(),
    );
  });
});
