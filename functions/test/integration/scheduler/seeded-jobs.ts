/** Job documents for the gauge and health tests: valid, since the gauges read and parse them. */
import { Timestamp } from "firebase-admin/firestore";

import type { Job } from "../../../src/jobs/model";

export const minutesBefore = (now: Date, minutes: number): Timestamp =>
  Timestamp.fromMillis(now.getTime() - minutes * 60_000);

/** A queued job due a minute before `now`, with `overrides`. */
export const seededJob = (now: Date, overrides: Partial<Job>): Job => ({
  userId: "user-1",
  providerId: "google",
  type: "scheduled-sync",
  status: "queued",
  timeframeDays: 1,
  attempts: 0,
  maxAttempts: 5,
  deferrals: 0,
  nextAttemptAt: minutesBefore(now, 1),
  leaseOwner: null,
  leaseExpiresAt: null,
  createdAt: minutesBefore(now, 120),
  updatedAt: minutesBefore(now, 1),
  startedAt: null,
  finishedAt: null,
  source: "test",
  slot: null,
  result: null,
  lastError: null,
  lastFailedAt: null,
  expireAt: null,
  ...overrides,
});
