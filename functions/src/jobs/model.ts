/**
 * Sync jobs: the documents of the `syncJobs` collection, validated on every read. The schemas are
 * plain (stripping) objects, not strict: a field written by newer code is ignored on read, and
 * the store's writes update only their own fields, so it survives.
 *
 * Lifecycle: `queued` → `running` (claimed with a lease) → `succeeded` | `failed`; a retryable
 * failure goes back to `queued` with a later `nextAttemptAt` (the policy in `backoff.ts`). Every
 * transition is atomic (see `store.ts`).
 */
import { Timestamp } from "firebase-admin/firestore";
import { z } from "zod";

import { PROVIDER_ERROR_CODES, PROVIDER_IDS } from "../providers/types";

export const JOBS_COLLECTION = "syncJobs";

export const JOB_TYPES = ["scheduled-sync", "manual-sync", "initial-backfill"] as const;
export type JobType = (typeof JOB_TYPES)[number];

export const JOB_STATUSES = ["queued", "running", "succeeded", "failed"] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export const ACTIVE_STATUSES: readonly JobStatus[] = ["queued", "running"];

const timestamp = z.instanceof(Timestamp);

export const jobErrorSchema = z.object({
  code: z.enum(PROVIDER_ERROR_CODES),
  reason: z.string(),
  message: z.string(),
  retryAfterMs: z.number().optional(),
  at: timestamp,
});
export type JobError = z.infer<typeof jobErrorSchema>;

export const accountResultSchema = z.object({
  accountId: z.string(),
  status: z.enum(["ok", "failed"]),
  rows: z.number().int().optional(),
  /** `ok`: the days fetched, in `timeZone`, the zone the platform reports the account in. */
  since: z.string().optional(),
  until: z.string().optional(),
  timeZone: z.string().optional(),
  error: z.object({ code: z.string(), reason: z.string(), message: z.string() }).optional(),
});

export const jobResultSchema = z.object({
  /** The span of the accounts' windows (each in its own days). */
  since: z.string(),
  until: z.string(),
  rowsFetched: z.number().int(),
  rowsWritten: z.number().int(),
  rowsUnchanged: z.number().int(),
  /** Stored rows the platform no longer returned, zeroed and marked absent. */
  rowsZeroed: z.number().int().default(0),
  accounts: z.array(accountResultSchema),
});
export type JobResult = z.infer<typeof jobResultSchema>;

export const jobSchema = z.object({
  userId: z.string().min(1),
  providerId: z.enum(PROVIDER_IDS),
  type: z.enum(JOB_TYPES),
  status: z.enum(JOB_STATUSES),
  timeframeDays: z.number().int().min(1),
  /** Attempts spent: claims that ended other than in a rate-limit deferral (`backoff.ts`). */
  attempts: z.number().int().min(0),
  maxAttempts: z.number().int().min(1),
  /** Runs the platform deferred with a rate limit; they spend no attempt. */
  deferrals: z.number().int().min(0).default(0),
  /** Not before this time may the job be claimed (backoff, platform waits). */
  nextAttemptAt: timestamp,
  /** Who holds the job while it runs and until when; null when not running. */
  leaseOwner: z.string().nullable(),
  leaseExpiresAt: timestamp.nullable(),
  createdAt: timestamp,
  updatedAt: timestamp,
  startedAt: timestamp.nullable(),
  finishedAt: timestamp.nullable(),
  /** Scheduled syncs: the cadence slot it was enqueued for (`schedule.ts` `cadenceSlot`). */
  slot: z.string().nullable().default(null),
  /** Where the job came from: "nightly", "cron", "schedule", "dashboard", … */
  source: z.string(),
  result: jobResultSchema.nullable(),
  lastError: jobErrorSchema.nullable(),
  /** When an attempt last failed (retried, deferred or for good): the sweep's alerts read it. */
  lastFailedAt: timestamp.nullable().default(null),
  /** Set on terminal jobs: Firestore's TTL policy deletes the document after it. */
  expireAt: timestamp.nullable(),
});
export type Job = z.infer<typeof jobSchema>;

export interface JobRecord {
  id: string;
  job: Job;
}
