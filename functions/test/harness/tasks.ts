/**
 * A stand-in for Cloud Tasks in the tests that run on the Firestore emulator alone: it keeps
 * the tasks enqueued, and refuses a name already used, as Cloud Tasks does
 * (`functions/task-already-exists` → `exists`). The end-to-end tests use the real Cloud Tasks
 * emulator instead (`test/e2e`).
 */
import type { JobTask, TaskQueues } from "../../src/jobs/dispatch";
import type { QueueKind } from "../../src/providers/budget";
import type { ProviderId } from "../../src/providers/types";

export interface EnqueuedTask {
  providerId: ProviderId;
  task: JobTask;
  id: string;
  scheduleTime: Date;
  /** The platform's sync queue, or its backfill queue. */
  queue: QueueKind;
}

export interface RecordingQueues {
  queues: TaskQueues;
  tasks: EnqueuedTask[];
  /** Makes the next `count` enqueues throw, as an unavailable Cloud Tasks would. */
  failNext(count: number): void;
}

export function recordingQueues(): RecordingQueues {
  const tasks: EnqueuedTask[] = [];
  let failures = 0;
  const queues: TaskQueues = (providerId, task, options) => {
    if (failures > 0) {
      failures -= 1;
      return Promise.reject(new Error("Cloud Tasks is unavailable"));
    }
    if (tasks.some((enqueued) => enqueued.id === options.id)) {
      return Promise.resolve("exists");
    }
    tasks.push({ providerId, task, ...options });
    return Promise.resolve("enqueued");
  };
  return {
    queues,
    tasks,
    failNext: (count) => {
      failures = count;
    },
  };
}
