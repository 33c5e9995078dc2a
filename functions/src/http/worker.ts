/**
 * POST /api/integrations/worker — batch processing of due jobs (x-cron-key).
 *
 * Request (strict): `{maxJobs?: 1..100 = 10, maxUsers?: 1..500 = 50}` — runs up to `maxJobs`
 * due queued jobs, oldest first, of at most `maxUsers` distinct users (jobs of further users are
 * counted as skipped and left for the next call).
 *
 * Response: the operation shape (`context.ts`), operation `process_queued_jobs`.
 */
import { z } from "zod";

import { sweepOperation } from "../scheduler/operations";
import { defineEndpoint, operationResponse, processDeps } from "./context";
import { maxJobsField, maxUsersField, parseBody } from "./validation";

const workerRequestSchema = z.strictObject({
  maxJobs: maxJobsField.default(10),
  maxUsers: maxUsersField.default(50),
});

export const handleWorker = defineEndpoint({
  name: "worker",
  method: "POST",
  access: "cron",
  parse: (req) => parseBody(workerRequestSchema, req.body),
  run: async (input, _caller, deps) => {
    const run = { operation: "process_queued_jobs", source: "worker-endpoint" } as const;
    return operationResponse(await sweepOperation(await processDeps(deps, run), run.source, input));
  },
});
