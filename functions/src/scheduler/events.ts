/**
 * Scheduler telemetry: one document per cron, worker, sweep, schedule or trigger invocation in
 * `admin/scheduler/events`, with its operation and source, counts, duration, errors grouped by
 * platform and class, operation details, and — where measured — the queue gauges and what the
 * alerts did. A run that
 * throws still records its event (`outcome: "crashed"`) before the error propagates.
 * Events carry `expireAt` for Firestore's TTL policy and are also pruned by `cleanup_old_jobs`.
 */
import { type Firestore, type Query, Timestamp } from "firebase-admin/firestore";

import { RETENTION_MS } from "../jobs/store";
import type { AlertsReport } from "./alerts";
import type { QueueReading } from "./gauges";

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
  /** The document id, when the caller needed it before the run ended (see `newEventId`). */
  id?: string;
  operation: string;
  /** Who invoked it: "cloud-scheduler", "cron-endpoint", "trigger", "admin", … */
  source: string;
  startedAt: Date;
  finishedAt: Date;
  counts: RunCounts;
  errors: ErrorGroup[];
  /** Operation-specific figures (deleted documents, next cursor, …). */
  details?: Record<string, unknown>;
  /** The queue after the run (the sweep and the stale reset), or why it could not be read. */
  queue?: QueueReading;
  /** The alerts the run sent (or failed to send), or why they could not be evaluated. */
  alerts?: AlertsReport;
  /** A run that threw: the first line of its error (ours or Firestore's, never a credential). */
  crash?: string;
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

/** A fresh event id, so that a run can name its event (in alerts) before recording it. */
export const newEventId = (db: Firestore): string => db.collection(EVENTS_COLLECTION).doc().id;

export async function recordEvent(db: Firestore, event: SchedulerEventInput): Promise<string> {
  const events = db.collection(EVENTS_COLLECTION);
  const ref = event.id === undefined ? events.doc() : events.doc(event.id);
  await ref.set({
    operation: event.operation,
    source: event.source,
    outcome: event.crash === undefined ? "completed" : "crashed",
    ...(event.crash === undefined ? {} : { crash: event.crash }),
    startedAt: Timestamp.fromDate(event.startedAt),
    durationMs: event.finishedAt.getTime() - event.startedAt.getTime(),
    counts: event.counts,
    errors: event.errors,
    details: event.details ?? {},
    ...(event.queue ? { queue: event.queue } : {}),
    ...(event.alerts ? { alerts: event.alerts } : {}),
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
