/**
 * Fan-out: which integrations get a job now. Used by the hourly `scheduledEnqueue` function and
 * by the cron endpoint's `process_all_users`, so several scheduling sources (the guide recommends
 * redundancy) enqueue each integration once per cadence slot.
 *
 * Slots: an integration with cadence C hours has a slot every C hours, aligned so the daily slot
 * starts at 02:00 UTC (the nightly run). Running the enqueue every hour therefore serves every
 * cadence from 1 to 24 hours; running it twice in the same slot changes nothing.
 */
import { FieldPath, type Firestore, type Query } from "firebase-admin/firestore";

import { INTEGRATIONS_COLLECTION, integrationSchema, isProviderId } from "../integrations/model";
import type { JobType } from "./model";
import { enqueueJobs, type EnqueueOutcome, type EnqueueRequest, type StoreDeps } from "./store";

const HOUR_MS = 3_600_000;
/** Daily slots begin at 02:00 UTC. */
const SLOT_ORIGIN_MS = 2 * HOUR_MS;
const PAGE_SIZE = 200;

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

export interface EnqueueAllOptions {
  jobType: JobType;
  timeframeDays: number;
  source: string;
  /** Stop after this many users; `nextCursor` says where to continue. */
  maxUsers: number;
  cursor?: string;
}

export interface EnqueueAllResult {
  users: number;
  outcomes: EnqueueOutcome[];
  /** Integrations left out because their owner turned automatic sync off. */
  autoSyncOff: number;
  /** Path to pass as `cursor` to continue, when `maxUsers` stopped the scan early. */
  nextCursor: string | null;
}

/** Enqueues a job for every active integration of up to `maxUsers` users. */
export async function enqueueAllUsers(
  deps: StoreDeps,
  options: EnqueueAllOptions,
): Promise<EnqueueAllResult> {
  const now = deps.clock();
  const result: EnqueueAllResult = { users: 0, outcomes: [], autoSyncOff: 0, nextCursor: null };
  let cursor = options.cursor;
  let lastUser: string | undefined;
  let lastPathOfCompleteUser: string | undefined;
  for (;;) {
    const page = await activeIntegrationsQuery(deps.db, PAGE_SIZE, cursor).get();
    const requests: EnqueueRequest[] = [];
    let stopped = false;
    for (const doc of page.docs) {
      const userId = doc.ref.parent.parent?.id;
      if (!userId || !isProviderId(doc.id)) {
        continue;
      }
      if (userId !== lastUser) {
        if (result.users === options.maxUsers) {
          stopped = true;
          break;
        }
        result.users += 1;
        lastUser = userId;
      }
      lastPathOfCompleteUser = doc.ref.path;
      const integration = integrationSchema.parse(doc.data());
      const scheduled = options.jobType === "scheduled-sync";
      if (scheduled && !integration.automation.autoSync) {
        result.autoSyncOff += 1;
        continue;
      }
      requests.push({
        userId,
        providerId: doc.id,
        type: options.jobType,
        timeframeDays: options.timeframeDays,
        source: options.source,
        ...(scheduled ? { slot: cadenceSlot(now, integration.automation.cadenceHours) } : {}),
      });
    }
    result.outcomes.push(...(await enqueueJobs(deps, requests)));
    if (stopped) {
      result.nextCursor = lastPathOfCompleteUser ?? null;
      return result;
    }
    if (page.size < PAGE_SIZE) {
      return result;
    }
    cursor = page.docs[page.docs.length - 1]?.ref.path;
  }
}
