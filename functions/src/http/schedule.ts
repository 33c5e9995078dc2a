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
 * - `jobType: "initial-backfill"` with `userId`: the integration's history (`backfill/`): from
 *   `startDate` (`YYYY-MM-DD`, at most 3,650 days back, not in the future) or `timeframeDays`
 *   days back (1..3,650, default 730), each account clamped to its platform's retention and
 *   recorded. An existing plan is extended to older days, never shortened or restarted; a plan
 *   at work keeps its job (`active_job_exists`). `details.backfills` gives each plan's progress.
 *   With `allUsers`, `timeframeDays` stays 1..90 and each integration's job makes its plan.
 * - Contention that outlasts the store's retries answers 503 `unavailable` with `Retry-After`.
 *
 * Response: the operation shape (`context.ts`): operation `schedule`, or `process_all_users`
 * for `allUsers`.
 */
import { z } from "zod";

import { DEFAULT_BACKFILL_DAYS, MAX_BACKFILL_DAYS } from "../backfill/plan";
import { sinceDaysBack } from "../backfill/store";
import { integrationsPath, isProviderId, MAX_LOOKBACK_DAYS } from "../integrations/model";
import type { EnqueueRequest } from "../jobs/store";
import { backfillOperation, enqueueAllOperation, enqueueOperation } from "../scheduler/operations";
import { AppError } from "../shared/errors";
import { defineEndpoint, operationResponse } from "./context";
import {
  cursorField,
  invalidBodyField,
  jobTypeField,
  maxUsersField,
  parseBody,
  providerIdField,
  timeframeDaysField,
  userIdField,
} from "./validation";

const SOURCE = "schedule-endpoint";
const DEFAULT_MAX_USERS = 50;

const DEFAULT_TIMEFRAME_DAYS = 7;

const scheduleRequestSchema = z
  .strictObject({
    userId: userIdField.optional(),
    providerId: providerIdField.optional(),
    jobType: jobTypeField.default("manual-sync"),
    // A backfill reaches years back; every other job at most the deepest restatement window.
    timeframeDays: z.number().int().min(1).max(MAX_BACKFILL_DAYS).optional(),
    startDate: z.iso.date().optional(),
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
    const backfill = body.jobType === "initial-backfill" && !body.allUsers;
    const daysBound = timeframeDaysField.safeParse(body.timeframeDays ?? 1);
    if (!backfill && !daysBound.success) {
      ctx.addIssue({
        code: "custom",
        path: ["timeframeDays"],
        message: `must be at most ${MAX_LOOKBACK_DAYS} (up to ${MAX_BACKFILL_DAYS} for an initial-backfill of a userId)`,
      });
    }
    if (body.startDate !== undefined && !backfill) {
      ctx.addIssue({
        code: "custom",
        path: ["startDate"],
        message: 'requires jobType "initial-backfill" and a userId',
      });
    }
    if (body.startDate !== undefined && body.timeframeDays !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["startDate"],
        message: "give startDate or timeframeDays, not both",
      });
    }
  });

/** A backfill's start: checked against today here, where the clock is. */
function backfillSince(input: { startDate?: string; timeframeDays?: number }, now: Date): string {
  const oldest = sinceDaysBack(now, MAX_BACKFILL_DAYS);
  const today = sinceDaysBack(now, 1);
  if (input.startDate === undefined) {
    return sinceDaysBack(now, input.timeframeDays ?? DEFAULT_BACKFILL_DAYS);
  }
  if (input.startDate > today || input.startDate < oldest) {
    throw invalidBodyField(
      "startDate",
      `must be between ${oldest} and ${today} (at most ${MAX_BACKFILL_DAYS} days back, not in the future)`,
    );
  }
  return input.startDate;
}

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
          timeframeDays: input.timeframeDays ?? DEFAULT_TIMEFRAME_DAYS,
          maxUsers: input.maxUsers ?? DEFAULT_MAX_USERS,
          ...(input.cursor !== undefined ? { cursor: input.cursor } : {}),
        }),
      );
    }
    const userId = input.userId;
    // Checked before anything is read or written.
    const since =
      input.jobType === "initial-backfill" ? backfillSince(input, deps.clock()) : undefined;
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
    if (since !== undefined) {
      return operationResponse(
        await backfillOperation(
          deps,
          SOURCE,
          providerIds.map((providerId) => ({ userId, providerId, since, source: SOURCE })),
        ),
      );
    }
    const requests: EnqueueRequest[] = providerIds.map((providerId) => ({
      userId,
      providerId,
      type: input.jobType,
      timeframeDays: input.timeframeDays ?? DEFAULT_TIMEFRAME_DAYS,
      source: SOURCE,
    }));
    return operationResponse(await enqueueOperation(deps, SOURCE, requests));
  },
});
