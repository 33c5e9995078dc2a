/**
 * Queue gauges: how many jobs are queued, running, stale (running with an expired lease) and
 * failed in the last 24 hours, and how long the oldest due job has waited. Four `count()`
 * aggregation queries and one `limit(1)` read, whatever the queue's size: an aggregation costs
 * one read per 1000 index entries it counts and reads no document.
 *
 * Read by `/api/health` (`checks.queue`) and after every sweep and stale reset (their events'
 * `queue`, and the stuck-queue alerts).
 */
import { type Firestore, type Query, Timestamp } from "firebase-admin/firestore";

import { jobQueries } from "../jobs/store";
import type { QueueThresholds } from "../shared/alert-config";

/**
 * Counts stop at a cap, which bounds what one call costs (an aggregation reads one entry per
 * 1000 counted). /api/health is public, so its counts stop at 10,000 (10 reads each); the
 * scheduler's own runs (the sweep and stale reset every 5 minutes, their events and alerts)
 * count to a million (at most 1000 reads each, about $0.2 a day) so that a backlog stays
 * measured at scale. A gauge at its cap is named in `capped`: "at least this many".
 */
export const GAUGE_COUNT_CAP = 10_000;
export const SCHEDULER_GAUGE_CAP = 1_000_000;

const DAY_MS = 24 * 60 * 60 * 1000;

export interface QueueGauges {
  queued: number;
  running: number;
  /** Running jobs whose lease has expired: their worker died or timed out. */
  stale: number;
  failedLast24h: number;
  /** How long the oldest due queued job has waited since it became due; null when none is. */
  oldestDueAgeSeconds: number | null;
  oldestDueJobId: string | null;
  /** The counts that reached the cap (present only then): each is "at least" its value. */
  capped?: Array<"queued" | "running" | "stale" | "failedLast24h">;
}

/** What a run's event records of the queue: the gauges, or why they could not be read. */
export type QueueReading = QueueGauges | { error: string };

const countOf = async (query: Query): Promise<number> => (await query.count().get()).data().count;

export async function readQueueGauges(
  db: Firestore,
  now: Date,
  cap = GAUGE_COUNT_CAP,
): Promise<QueueGauges> {
  const [queued, running, stale, failedLast24h, oldestDue] = await Promise.all([
    countOf(jobQueries.withStatus(db, "queued", cap)),
    countOf(jobQueries.withStatus(db, "running", cap)),
    countOf(jobQueries.stale(db, now, cap)),
    countOf(jobQueries.finishedSince(db, "failed", new Date(now.getTime() - DAY_MS), cap)),
    jobQueries.due(db, now, 1).get(),
  ]);
  const counts = { queued, running, stale, failedLast24h };
  const capped = (Object.keys(counts) as Array<keyof typeof counts>).filter(
    (name) => counts[name] >= cap,
  );
  const oldest = oldestDue.docs[0];
  // Only the one field the gauge needs: a job document that fails validation elsewhere must not
  // blind the health check (the query's range filter already makes it a Timestamp).
  const dueField: unknown = oldest?.get("nextAttemptAt");
  const dueAt = dueField instanceof Timestamp ? dueField.toMillis() : null;
  return {
    queued,
    running,
    stale,
    failedLast24h,
    oldestDueAgeSeconds: dueAt === null ? null : Math.floor((now.getTime() - dueAt) / 1000),
    oldestDueJobId: oldest?.id ?? null,
    ...(capped.length > 0 ? { capped } : {}),
  };
}

export type QueueStatus = "ok" | "warning" | "error";

export interface QueueAssessment {
  status: QueueStatus;
  /** Why the status is not `ok`, one sentence each. */
  reasons: string[];
}

const minutes = (seconds: number): number => Math.floor(seconds / 60);

/**
 * `error` when the oldest due job has waited SCHEDULER_QUEUE_UNHEALTHY_MINUTES: processing has
 * stopped, so no data is fresh. `warning` (the service still works, someone should look) when it
 * has waited SCHEDULER_QUEUE_STUCK_MINUTES, when running jobs have expired leases (the hourly
 * stale reset repairs them) or when SCHEDULER_QUEUE_FAILED_WARNING jobs failed in 24 hours.
 */
export function assessQueue(gauges: QueueGauges, thresholds: QueueThresholds): QueueAssessment {
  const waited = gauges.oldestDueAgeSeconds === null ? 0 : minutes(gauges.oldestDueAgeSeconds);
  const reasons: string[] = [];
  if (waited >= thresholds.stuckMinutes) {
    const limit =
      waited >= thresholds.unhealthyMinutes
        ? `unhealthy at ${thresholds.unhealthyMinutes}`
        : `warning at ${thresholds.stuckMinutes}`;
    reasons.push(`the oldest due job has waited ${waited} min (${limit})`);
  }
  if (gauges.stale > 0) {
    reasons.push(`${gauges.stale} running job(s) have an expired lease`);
  }
  if (gauges.failedLast24h >= thresholds.failedWarning) {
    reasons.push(
      `${gauges.failedLast24h} jobs failed in the last 24 h (warning at ${thresholds.failedWarning})`,
    );
  }
  const status: QueueStatus =
    waited >= thresholds.unhealthyMinutes ? "error" : reasons.length > 0 ? "warning" : "ok";
  return { status, reasons };
}
