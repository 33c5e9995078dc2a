/**
 * Fan-out: which integrations get a job now. Used by the hourly `scheduledEnqueue` function and
 * by the cron endpoint's `process_all_users`, so several scheduling sources (the guide recommends
 * redundancy) enqueue each integration once per cadence slot.
 *
 * Slots: an integration with cadence C hours has a slot every C hours, aligned so the daily slot
 * starts at 02:00 UTC (the nightly run). Running the enqueue every hour therefore serves every
 * cadence from 1 to 24 hours; running it twice in the same slot changes nothing.
 */
import { FieldPath, type Firestore, type Query, Timestamp } from "firebase-admin/firestore";
import { z } from "zod";

import { INTEGRATIONS_COLLECTION, integrationSchema, isProviderId } from "../integrations/model";
import type { JobType } from "./model";
import {
  describeIssues,
  ENQUEUE_CHUNK,
  enqueueJob,
  type EnqueueOutcome,
  type EnqueueRequest,
  type StoreDeps,
} from "./store";

const HOUR_MS = 3_600_000;
/** Daily slots begin at 02:00 UTC. */
const SLOT_ORIGIN_MS = 2 * HOUR_MS;
/** One page is one enqueue transaction (its chunk limit). */
const PAGE_SIZE = ENQUEUE_CHUNK;

export function cadenceSlot(now: Date, cadenceHours: number): string {
  const index = Math.floor((now.getTime() - SLOT_ORIGIN_MS) / (cadenceHours * HOUR_MS));
  return `${cadenceHours}h-${index}`;
}

/**
 * Active integrations across all users in document-path order (users grouped together).
 * Index: collection-group single-field index on `status` (declared in firestore.indexes.json).
 */
export const activeIntegrationsQuery = (db: Firestore, limit: number, after?: string): Query => {
  const base = db
    .collectionGroup(INTEGRATIONS_COLLECTION)
    .where("status", "==", "active")
    .orderBy(FieldPath.documentId())
    .limit(limit);
  return after ? base.startAfter(db.doc(after)) : base;
};

/**
 * Where the shared scheduled fan-out continues: one small document, written once per fan-out
 * invocation (never per user or page), read at the start of the next. `cursor: null` means the
 * last pass reached the end, so the next one starts from the first user.
 */
export const ENQUEUE_STATE_PATH = "admin/scheduler/state/enqueue";

const enqueueStateSchema = z.object({ cursor: z.string().min(1).nullable() });

async function readSharedCursor(db: Firestore): Promise<string | undefined> {
  const parsed = enqueueStateSchema.safeParse((await db.doc(ENQUEUE_STATE_PATH).get()).data());
  // A missing or unreadable state document restarts the pass: a rescan is idempotent.
  return parsed.success ? (parsed.data.cursor ?? undefined) : undefined;
}

export interface EnqueueAllOptions {
  jobType: JobType;
  timeframeDays: number;
  source: string;
  /** Stop after this many users (absent: no limit but the deadline). */
  maxUsers?: number;
  /** No page is started at or after this time; `nextCursor` says where to continue. */
  deadline: Date;
  /**
   * Where to continue. Absent for a scheduled sync: the shared cursor (`ENQUEUE_STATE_PATH`),
   * which this run then advances, so every source of scheduled fan-outs (the hourly function,
   * external crons' `process_all_users`) continues one pass instead of rescanning its start.
   * Absent for other job types: the first user (such a fan-out is a one-off the caller pages).
   * An explicit cursor never moves the shared one: it may point anywhere.
   */
  cursor?: string;
}

export type EnqueueStop = "end" | "max_users" | "deadline";

/** An integration document the fan-out could not use, or a page whose transaction failed. */
export interface FanOutProblem {
  path: string;
  problem: string;
}

export interface EnqueueAllResult {
  users: number;
  outcomes: EnqueueOutcome[];
  /** Integrations left out because their owner turned automatic sync off. */
  autoSyncOff: number;
  /** Where this run started (null: the first user). */
  startCursor: string | null;
  /** Path to pass as `cursor` to continue; null when the scan reached the end. */
  nextCursor: string | null;
  stoppedBy: EnqueueStop;
  /** Whether the shared cursor was read and advanced. */
  sharedCursor: boolean;
  /** Invalid integration documents, skipped and reported. */
  invalid: FanOutProblem[];
}

/**
 * The page's requests, each on its own: one that fails (an integration that kept changing, or
 * any store error) is recorded as `failed` and the rest go on.
 */
const enqueueIsolated = (
  deps: StoreDeps,
  requests: readonly EnqueueRequest[],
): Promise<EnqueueOutcome[]> =>
  Promise.all(
    requests.map((request) =>
      enqueueJob(deps, request).catch((error: unknown): EnqueueOutcome => ({
        userId: request.userId,
        providerId: request.providerId,
        status: "failed",
        error: error instanceof Error ? error.message : String(error),
      })),
    ),
  );

/**
 * Enqueues a job for every active integration, page by page, until the end, `maxUsers` or the
 * deadline, whichever comes first. Work is never cut silently: the result says why it stopped
 * and where to continue, and a shared-cursor run stores that for the next invocation.
 */
export async function enqueueAllUsers(
  deps: StoreDeps,
  options: EnqueueAllOptions,
): Promise<EnqueueAllResult> {
  const now = deps.clock();
  const scheduled = options.jobType === "scheduled-sync";
  const sharedCursor = scheduled && options.cursor === undefined;
  const startCursor = sharedCursor ? await readSharedCursor(deps.db) : options.cursor;
  const result: EnqueueAllResult = {
    users: 0,
    outcomes: [],
    autoSyncOff: 0,
    startCursor: startCursor ?? null,
    nextCursor: null,
    stoppedBy: "end",
    sharedCursor,
    invalid: [],
  };
  let cursor = startCursor;
  let lastUser: string | undefined;
  for (;;) {
    if (deps.clock().getTime() >= options.deadline.getTime()) {
      result.stoppedBy = "deadline";
      result.nextCursor = cursor ?? null;
      break;
    }
    const page = await activeIntegrationsQuery(deps.db, PAGE_SIZE, cursor).get();
    const requests: EnqueueRequest[] = [];
    let lastPathOfCompleteUser: string | undefined;
    for (const doc of page.docs) {
      const userId = doc.ref.parent.parent?.id;
      if (!userId || !isProviderId(doc.id)) {
        continue;
      }
      if (userId !== lastUser) {
        if (result.users === options.maxUsers) {
          result.stoppedBy = "max_users";
          break;
        }
        result.users += 1;
        lastUser = userId;
      }
      lastPathOfCompleteUser = doc.ref.path;
      const parsed = integrationSchema.safeParse(doc.data());
      const base = { userId, providerId: doc.id };
      if (!parsed.success) {
        const issues = describeIssues(parsed.error);
        result.invalid.push({ path: doc.ref.path, problem: issues });
        result.outcomes.push({ ...base, status: "skipped", reason: "invalid_integration", issues });
        continue;
      }
      const integration = parsed.data;
      if (scheduled && !integration.automation.autoSync) {
        result.autoSyncOff += 1;
        continue;
      }
      const slot = scheduled ? cadenceSlot(now, integration.automation.cadenceHours) : undefined;
      if (slot !== undefined && integration.lastScheduledSlot === slot) {
        // Settled by the page read alone: no transaction (and no contention) for the common
        // case, an hourly run where most integrations' slot has not changed.
        result.outcomes.push({ ...base, status: "skipped", reason: "already_scheduled" });
        continue;
      }
      requests.push({
        ...base,
        type: options.jobType,
        timeframeDays: options.timeframeDays,
        source: options.source,
        ...(slot !== undefined ? { slot } : {}),
      });
    }
    result.outcomes.push(...(await enqueueIsolated(deps, requests)));
    if (result.stoppedBy === "max_users") {
      result.nextCursor = lastPathOfCompleteUser ?? cursor ?? null;
      break;
    }
    if (page.size < PAGE_SIZE) {
      break;
    }
    cursor = page.docs[page.docs.length - 1]?.ref.path;
  }
  if (sharedCursor) {
    // A plain write, no transaction: concurrent fan-outs each write a point they really reached,
    // so the cursor may step back (a rescan, idempotent) but never skips a user.
    await deps.db.doc(ENQUEUE_STATE_PATH).set({
      cursor: result.nextCursor,
      updatedAt: Timestamp.fromDate(deps.clock()),
    });
  }
  return result;
}
