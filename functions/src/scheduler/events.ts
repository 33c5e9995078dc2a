/**
 * Scheduler telemetry: one document per cron, worker, sweep, schedule or trigger invocation in
 * `admin/scheduler/events`, with its counts, duration and errors grouped by platform and class.
 * Events carry `expireAt` for Firestore's TTL policy and are also pruned by `cleanup_old_jobs`.
 */
import { type Firestore, type Query, Timestamp } from "firebase-admin/firestore";

import { RETENTION_MS } from "../jobs/store";

export const EVENTS_COLLECTION = "admin/scheduler/events";

export interface RunCounts {
  queued: number;
  processed: number;
  succeeded: number;
  failed: number;
  retried: number;
  skipped: number;
}

export const emptyCounts = (): RunCounts => ({
  queued: 0,
  processed: 0,
  succeeded: 0,
  failed: 0,
  retried: 0,
  skipped: 0,
});

export interface ErrorGroup {
  provider: string;
  code: string;
  count: number;
}

export interface SchedulerEventInput {
  operation: string;
  /** Who invoked it: "cloud-scheduler", "cron-endpoint", "trigger", "admin", … */
  source: string;
  startedAt: Date;
  finishedAt: Date;
  counts: RunCounts;
  errors: ErrorGroup[];
  /** Operation-specific figures (deleted documents, next cursor, …). */
  details?: Record<string, unknown>;
}

/** Tallies errors by platform and class for the event. */
export function groupErrors(
  errors: ReadonlyArray<{ provider: string; code: string }>,
): ErrorGroup[] {
  const groups = new Map<string, ErrorGroup>();
  for (const { provider, code } of errors) {
    const key = `${provider}/${code}`;
    const group = groups.get(key) ?? { provider, code, count: 0 };
    group.count += 1;
    groups.set(key, group);
  }
  return [...groups.values()];
}

export async function recordEvent(db: Firestore, event: SchedulerEventInput): Promise<string> {
  const ref = db.collection(EVENTS_COLLECTION).doc();
  await ref.set({
    operation: event.operation,
    source: event.source,
    startedAt: Timestamp.fromDate(event.startedAt),
    durationMs: event.finishedAt.getTime() - event.startedAt.getTime(),
    counts: event.counts,
    errors: event.errors,
    details: event.details ?? {},
    createdAt: Timestamp.fromDate(event.finishedAt),
    expireAt: Timestamp.fromMillis(event.finishedAt.getTime() + RETENTION_MS),
  });
  return ref.id;
}

/** Events created before `cutoff`, oldest first. Single-field index on createdAt (automatic). */
export const eventsCreatedBefore = (db: Firestore, cutoff: Date, limit: number): Query =>
  db
    .collection(EVENTS_COLLECTION)
    .where("createdAt", "<", Timestamp.fromDate(cutoff))
    .orderBy("createdAt")
    .limit(limit);
