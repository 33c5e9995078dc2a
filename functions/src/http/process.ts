/**
 * POST /api/integrations/process — run one user's due jobs now (x-cron-key).
 *
 * Request (strict): `{userId: string (a Firebase uid, 1..128 characters, no '/'),
 * maxJobs?: 1..100 = 10}`.
 *
 * Response: the operation shape (`context.ts`), operation `process_user_jobs`.
 */
import { z } from "zod";

import { processUserOperation } from "../scheduler/operations";
import { defineEndpoint, operationResponse, processDeps } from "./context";
import { maxJobsField, parseBody, userIdField } from "./validation";

const processRequestSchema = z.strictObject({
  userId: userIdField,
  maxJobs: maxJobsField.default(10),
});

export const handleProcess = defineEndpoint({
  name: "process",
  method: "POST",
  access: "cron",
  parse: (req) => parseBody(processRequestSchema, req.body),
  run: async (input, _caller, deps) => {
    const run = { operation: "process_user_jobs", source: "process-endpoint" } as const;
    return operationResponse(
      await processUserOperation(
        await processDeps(deps, run),
        run.source,
        input.userId,
        input.maxJobs,
      ),
    );
  },
});
