/**
 * POST /api/integrations/schedule — manual scheduling (an administrator's ID token, or
 * x-cron-key).
 *
 * Request (strict): `{userId?: string, providerId?: "google" | "meta" | "linkedin" | "tiktok",
 * jobType?: "scheduled-sync" | "manual-sync" | "initial-backfill" = "manual-sync",
 * timeframeDays?: 1..90 = 7, allUsers?: boolean = false, maxUsers?: 1..500 = 50,
 * cursor?: string}`, with exactly one of `userId` or `allUsers: true`:
 * - `userId` + `providerId`: that integration; `userId` alone: every integration of the user
 *   (404 `not_found` when there is none, before anything is written). An integration that
 *   already has an active job gets no second one: the response names the existing job
 *   (`jobIds`, `details.skipped.active_job_exists`);
 * - `allUsers: true`: every active integration of up to `maxUsers` users with `jobType`
 *   (scheduled syncs honour `autoSync`), within a 45 s budget; continue with `cursor` = the
 *   returned `details.nextCursor` (without `cursor`, `scheduled-sync` continues the shared pass,
 *   as `process_all_users` does: `cron.ts`). `providerId` does not combine with it; `maxUsers`
 *   and `cursor` only combine with it.
 * - Contention that outlasts the store's retries answers 503 `unavailable` with `Retry-After`.
 *
 * Response: the operation shape (`context.ts`): operation `schedule`, or `process_all_users`
 * for `allUsers`.
 */
import { z } from "zod";

import { integrationsPath, isProviderId } from "../integrations/model";
import type { EnqueueRequest } from "../jobs/store";
import { enqueueAllOperation, enqueueOperation } from "../scheduler/operations";
import { AppError } from "../shared/errors";
import { defineEndpoint, operationResponse } from "./context";
import {
  cursorField,
  jobTypeField,
  maxUsersField,
  parseBody,
  providerIdField,
  timeframeDaysField,
  userIdField,
} from "./validation";

const SOURCE = "schedule-endpoint";
const DEFAULT_MAX_USERS = 50;

const scheduleRequestSchema = z
  .strictObject({
    userId: userIdField.optional(),
    providerId: providerIdField.optional(),
    jobType: jobTypeField.default("manual-sync"),
    timeframeDays: timeframeDaysField.default(7),
    allUsers: z.boolean().default(false),
    maxUsers: maxUsersField.optional(),
    cursor: cursorField.optional(),
  })
  .superRefine((body, ctx) => {
    if (body.allUsers === (body.userId !== undefined)) {
      ctx.addIssue({
        code: "custom",
        path: ["userId"],
        message: "give exactly one of userId or allUsers: true",
      });
    }
    if (body.allUsers && body.providerId !== undefined) {
      ctx.addIssue({ code: "custom", path: ["providerId"], message: "requires userId" });
    }
    for (const field of ["maxUsers", "cursor"] as const) {
      if (!body.allUsers && body[field] !== undefined) {
        ctx.addIssue({ code: "custom", path: [field], message: "requires allUsers: true" });
      }
    }
  });

export const handleSchedule = defineEndpoint({
  name: "schedule",
  method: "POST",
  access: "admin_or_cron",
  parse: (req) => parseBody(scheduleRequestSchema, req.body),
  run: async (input, caller, deps) => {
    deps.logger.info("manual scheduling requested", {
      requestedBy: caller.kind === "user" ? caller.uid : "cron-key",
      userId: input.userId,
      providerId: input.providerId,
      allUsers: input.allUsers,
      jobType: input.jobType,
    });
    if (input.userId === undefined) {
      return operationResponse(
        await enqueueAllOperation(deps, SOURCE, {
          jobType: input.jobType,
          timeframeDays: input.timeframeDays,
          maxUsers: input.maxUsers ?? DEFAULT_MAX_USERS,
          ...(input.cursor !== undefined ? { cursor: input.cursor } : {}),
        }),
      );
    }
    const userId = input.userId;
    const integrations = await deps.db.collection(integrationsPath(userId)).get();
    const providerIds = integrations.docs
      .map((doc) => doc.id)
      .filter(isProviderId)
      .filter((id) => input.providerId === undefined || id === input.providerId);
    if (providerIds.length === 0) {
      throw new AppError(
        "not_found",
        input.providerId === undefined
          ? `User ${userId} has no integrations`
          : `User ${userId} has no ${input.providerId} integration`,
      );
    }
    const requests: EnqueueRequest[] = providerIds.map((providerId) => ({
      userId,
      providerId,
      type: input.jobType,
      timeframeDays: input.timeframeDays,
      source: SOURCE,
    }));
    return operationResponse(await enqueueOperation(deps, SOURCE, requests));
  },
});
