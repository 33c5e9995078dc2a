/**
 * What the job runs of a window say, for the alerts: read by the sweep every five minutes
 * instead of each job run writing the shared alert state (at fifty concurrent runs that
 * document's transactions piled up and the runs slowed a hundredfold). Failed attempts — retried,
 * deferred or final, as a run's own errors were counted — are read by `lastFailedAt`, at most
 * `FAILED_READ_CAP` of them (more than any threshold needs: the count then says "at least"), so
 * an outage alerts within minutes, not once the jobs' retries run out hours later; a platform's
 * successes only need to exist, so each costs one read. A job that failed twice in the window
 * counts once (its last attempt).
 */
import type { Firestore } from "firebase-admin/firestore";

import { jobQueries } from "../jobs/store";
import { PROVIDER_IDS, type ProviderId } from "../providers/types";
import { type ErrorGroup, groupErrors } from "./events";

const FAILED_READ_CAP = 1_000;

export interface JobOutcomes {
  /** Failed attempts by platform and error code (each job's last). */
  errors: ErrorGroup[];
  failed: number;
  /** Whether more failures than `FAILED_READ_CAP` may have happened. */
  capped: boolean;
  /** Platforms with at least one job that succeeded: their failure alerts may clear. */
  reached: ProviderId[];
}

export async function jobOutcomesSince(db: Firestore, since: Date): Promise<JobOutcomes> {
  const [failed, ...succeeded] = await Promise.all([
    jobQueries
      .failedAttemptsSince(db, since, FAILED_READ_CAP)
      .select("providerId", "lastError")
      .get(),
    ...PROVIDER_IDS.map((providerId) =>
      jobQueries.finishedSince(db, "succeeded", since, 1, providerId).get(),
    ),
  ]);
  return {
    errors: groupErrors(
      failed.docs.map((doc) => ({
        provider: String(doc.get("providerId")),
        code: String(doc.get("lastError.code") ?? "unknown"),
      })),
    ),
    failed: failed.size,
    capped: failed.size >= FAILED_READ_CAP,
    reached: PROVIDER_IDS.filter((_, i) => (succeeded[i]?.size ?? 0) > 0),
  };
}
