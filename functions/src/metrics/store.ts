/**
 * Normalised daily metrics: `users/{userId}/metrics/{provider}_{account}_{campaign}_{date}`.
 * The id is deterministic, so re-running a job (a retry, a duplicate delivery, a restated day)
 * overwrites the same document instead of adding one; rows whose values did not change are not
 * written at all (no write cost, no listener churn).
 */
import { type DocumentReference, type Firestore, Timestamp } from "firebase-admin/firestore";
import { z } from "zod";

import type { MetricRow } from "../providers/types";

/** Reads and writes per round stay under Firestore's 500 writes per commit. */
const CHUNK = 400;

const VALUE_FIELDS = [
  "campaignName",
  "timeZone",
  "currency",
  "impressions",
  "clicks",
  "spendMicros",
  "conversions",
  "conversionValueMicros",
] as const satisfies ReadonlyArray<keyof MetricRow>;

/** The values a stored metric document is compared on; an unreadable one is rewritten. */
const storedValuesSchema = z.object({
  campaignName: z.string(),
  timeZone: z.string(),
  currency: z.string(),
  impressions: z.number(),
  clicks: z.number(),
  spendMicros: z.number(),
  conversions: z.number(),
  conversionValueMicros: z.number(),
}) satisfies z.ZodType<Pick<MetricRow, (typeof VALUE_FIELDS)[number]>>;

export function metricDocId(row: MetricRow): string {
  return [row.provider, row.accountId, row.campaignId, row.date]
    .map((part) => encodeURIComponent(part))
    .join("_");
}

export const metricRef = (db: Firestore, userId: string, row: MetricRow): DocumentReference =>
  db.collection("users").doc(userId).collection("metrics").doc(metricDocId(row));

export interface UpsertCounts {
  written: number;
  unchanged: number;
}

export async function upsertMetrics(
  db: Firestore,
  userId: string,
  rows: readonly MetricRow[],
  context: { jobId: string; now: Date },
): Promise<UpsertCounts> {
  const counts: UpsertCounts = { written: 0, unchanged: 0 };
  const syncedAt = Timestamp.fromDate(context.now);
  for (let start = 0; start < rows.length; start += CHUNK) {
    const chunk = rows.slice(start, start + CHUNK);
    const refs = chunk.map((row) => metricRef(db, userId, row));
    const existing = await db.getAll(...refs);
    const batch = db.batch();
    let writes = 0;
    chunk.forEach((row, index) => {
      const current = storedValuesSchema.safeParse(existing[index]?.data());
      if (current.success && VALUE_FIELDS.every((field) => current.data[field] === row[field])) {
        counts.unchanged += 1;
        return;
      }
      batch.set(refs[index]!, { ...row, userId, syncedAt, jobId: context.jobId });
      writes += 1;
    });
    if (writes > 0) {
      await batch.commit();
    }
    counts.written += writes;
  }
  return counts;
}
