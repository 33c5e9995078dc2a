/**
 * GET /api/integrations/status — the signed-in caller's own integrations (any user's ID token).
 *
 * Query (strict): `limit?: 1..50 = 10`, the number of recent jobs returned.
 *
 * Response: `{success: true, userId, integrations: [{providerId, status, accountCount,
 * lastSyncRequestedAt, lastSyncedAt, automation: {autoSync, cadenceHours, lookbackDays},
 * lastError: {code, reason, message, at} | null, consecutiveFailures, activeJobId,
 * backfill: null | {status, jobId, requestedSince, since, until, oldestCompleteDate, slicesDone,
 * slicesTotal, estimatedSecondsLeft, runs, requests, startedAt, completedAt, accounts: [{accountId,
 * status, since, until, clampedFrom, clampedBy, oldestCompleteDate, slicesDone, slicesTotal,
 * rowsWritten, error}]}, accountSelection: "all" | "selected", accounts: [{accountId, name,
 * currency, timeZone, status: "active" | "inactive" | "lost_access", platformStatus, hierarchy,
 * selected, firstSeenAt, lastSeenAt, lostAccessAt}], discoveredAt, credentialHealth: null |
 * {state: "ok" | "expiring" | "expired" | "revoked", reconnectBy, basis, checkedAt,
 * lastVerifiedAt}}],
 * recentJobs: [{jobId, providerId, type, status, timeframeDays, attempts, maxAttempts, source,
 * createdAt, startedAt, finishedAt, nextAttemptAt, result: {since, until, rowsFetched,
 * rowsWritten, rowsUnchanged, rowsZeroed} | null, lastError: {code, reason, message, at} | null}]}`, times
 * as ISO strings or null. Fields are picked one by one: tokens live in the `private/credentials`
 * documents, which this endpoint never reads. A document that fails validation is left out of
 * the lists (and logged) rather than failing the caller's whole view.
 */
import type { QueryDocumentSnapshot, Timestamp } from "firebase-admin/firestore";
import { z } from "zod";

import { type Plan, planSchema, progressOf } from "../backfill/plan";
import { BACKFILLS_COLLECTION } from "../backfill/store";
import { syncedAccountIds } from "../integrations/accounts";
import { integrationSchema, integrationsPath, isProviderId } from "../integrations/model";
import { jobSchema } from "../jobs/model";
import { describeIssues, jobQueries } from "../jobs/store";
import type { Logger } from "../shared/logger";
import { defineEndpoint } from "./context";
import { parseQuery, queryIntField } from "./validation";
import { accountView, credentialHealthView, iso } from "./views";

const statusQuerySchema = z.strictObject({ limit: queryIntField(1, 50).default(10) });

const errorView = (
  error: { code: string; reason: string; message: string; at: Timestamp } | null,
) =>
  error
    ? { code: error.code, reason: error.reason, message: error.message, at: iso(error.at) }
    : null;

/** The document's validated data, or undefined (logged) when it fails its schema. */
function parsedOrLeftOut<T>(
  schema: z.ZodType<T>,
  doc: QueryDocumentSnapshot,
  logger: Logger,
): T | undefined {
  const parsed = schema.safeParse(doc.data());
  if (parsed.success) {
    return parsed.data;
  }
  logger.error("invalid document left out", {
    path: doc.ref.path,
    issues: describeIssues(parsed.error),
  });
  return undefined;
}

/** A plan's progress (`backfill/plan.ts` `progressOf`), with its lock and times. */
const backfillView = (plan: Plan | undefined, now: Date) =>
  plan
    ? {
        ...progressOf(plan, now),
        jobId: plan.jobId,
        runs: plan.runs,
        requests: plan.requests,
        startedAt: iso(plan.startedAt),
        completedAt: iso(plan.completedAt),
      }
    : null;

export const handleStatus = defineEndpoint({
  name: "status",
  method: "GET",
  access: "user",
  parse: (req) => parseQuery(statusQuerySchema, req.query),
  run: async (input, caller, deps) => {
    const { uid } = caller;
    const [integrations, jobs, backfills] = await Promise.all([
      deps.db.collection(integrationsPath(uid)).get(),
      jobQueries.recentForUser(deps.db, uid, input.limit).get(),
      deps.db.collection(`users/${uid}/${BACKFILLS_COLLECTION}`).get(),
    ]);
    const plans = new Map(
      backfills.docs.flatMap((doc) => {
        const plan = parsedOrLeftOut(planSchema, doc, deps.logger);
        return plan ? [[doc.id, plan] as const] : [];
      }),
    );
    return {
      status: 200,
      body: {
        success: true,
        userId: uid,
        integrations: integrations.docs.flatMap((doc) => {
          if (!isProviderId(doc.id)) {
            return [];
          }
          const integration = parsedOrLeftOut(integrationSchema, doc, deps.logger);
          if (!integration) {
            return [];
          }
          return [
            {
              providerId: doc.id,
              status: integration.status,
              accountCount: syncedAccountIds(integration).length,
              lastSyncRequestedAt: iso(integration.lastSyncRequestedAt),
              lastSyncedAt: iso(integration.lastSyncedAt),
              automation: integration.automation,
              lastError: errorView(integration.lastError),
              consecutiveFailures: integration.consecutiveFailures,
              activeJobId: integration.activeJobId,
              backfill: backfillView(plans.get(doc.id), deps.clock()),
              accountSelection: integration.accountSelection,
              accounts: Object.values(integration.accounts).map(accountView),
              discoveredAt: iso(integration.discoveredAt),
              credentialHealth: credentialHealthView(integration.credentialHealth),
            },
          ];
        }),
        recentJobs: jobs.docs.flatMap((doc) => {
          const job = parsedOrLeftOut(jobSchema, doc, deps.logger);
          if (!job) {
            return [];
          }
          return [
            {
              jobId: doc.id,
              providerId: job.providerId,
              type: job.type,
              status: job.status,
              timeframeDays: job.timeframeDays,
              attempts: job.attempts,
              maxAttempts: job.maxAttempts,
              source: job.source,
              createdAt: iso(job.createdAt),
              startedAt: iso(job.startedAt),
              finishedAt: iso(job.finishedAt),
              nextAttemptAt: iso(job.nextAttemptAt),
              result: job.result
                ? {
                    since: job.result.since,
                    until: job.result.until,
                    rowsFetched: job.result.rowsFetched,
                    rowsWritten: job.result.rowsWritten,
                    rowsUnchanged: job.result.rowsUnchanged,
                    rowsZeroed: job.result.rowsZeroed,
                  }
                : null,
              lastError: errorView(job.lastError),
            },
          ];
        }),
      },
    };
  },
});
