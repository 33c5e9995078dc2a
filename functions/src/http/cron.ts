/**
 * POST /api/integrations/cron — job management for external schedulers (x-cron-key).
 *
 * Request (strict; one shape per operation):
 * - `{operation: "process_all_users", maxUsers?: 1..500 = 50, jobType?: "scheduled-sync" |
 *   "manual-sync" | "initial-backfill" = "scheduled-sync", timeframeDays?: 1..90 = 1,
 *   cursor?: string}` — enqueue a job for every active integration of up to `maxUsers` users,
 *   within a 45 s budget (Hosting's 60 s); scheduled syncs honour each integration's `autoSync`
 *   and cadence, and the same cadence slot enqueues once however many schedulers fire. Without
 *   `cursor`, a scheduled-sync run continues the shared pass where the last one stopped (the
 *   hourly function's, `admin/scheduler/state/enqueue`) and advances it, so repeated calls cover
 *   every user; other job types start at the first user. `details.nextCursor` (and `stoppedBy`:
 *   `end`, `max_users` or `deadline`) say where it stopped; pass it as `cursor` to page yourself
 *   (an explicit cursor leaves the shared one alone).
 * - `{operation: "cleanup_old_jobs"}` — terminal jobs and scheduler events older than 7 days,
 *   until none is left or the 45 s budget is spent (`details.stoppedBy`: `done` or `deadline`).
 * - `{operation: "reset_stale_jobs"}` — running jobs whose lease expired go back to queued (or
 *   fail when their attempts are spent), until none is left or the 45 s budget is spent.
 *
 * Response: the operation shape (`context.ts`).
 */
import { z } from "zod";

import {
  cleanupOperation,
  enqueueAllOperation,
  resetStaleOperation,
} from "../scheduler/operations";
import { defineEndpoint, operationResponse } from "./context";
import {
  cursorField,
  jobTypeField,
  maxUsersField,
  parseBody,
  timeframeDaysField,
} from "./validation";

const SOURCE = "cron-endpoint";

const cronRequestSchema = z.discriminatedUnion("operation", [
  z.strictObject({
    operation: z.literal("process_all_users"),
    maxUsers: maxUsersField.default(50),
    jobType: jobTypeField.default("scheduled-sync"),
    timeframeDays: timeframeDaysField.default(1),
    cursor: cursorField.optional(),
  }),
  z.strictObject({ operation: z.literal("cleanup_old_jobs") }),
  z.strictObject({ operation: z.literal("reset_stale_jobs") }),
]);

export const handleCron = defineEndpoint({
  name: "cron",
  method: "POST",
  access: "cron",
  parse: (req) => parseBody(cronRequestSchema, req.body),
  run: async (input, _caller, deps) => {
    switch (input.operation) {
      case "process_all_users":
        return operationResponse(
          await enqueueAllOperation(deps, SOURCE, {
            jobType: input.jobType,
            timeframeDays: input.timeframeDays,
            maxUsers: input.maxUsers,
            ...(input.cursor !== undefined ? { cursor: input.cursor } : {}),
          }),
        );
      case "cleanup_old_jobs":
        return operationResponse(await cleanupOperation(deps, SOURCE));
      case "reset_stale_jobs":
        return operationResponse(await resetStaleOperation(deps, SOURCE));
    }
  },
});
