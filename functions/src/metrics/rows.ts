/**
 * Where metric rows live: `users/{userId}/metrics/{provider}_{account}_{campaign}_{date}`, at an
 * id built from the canonical account and campaign ids, and the one query that reads them by day.
 */
import type { DocumentReference, Firestore, Query } from "firebase-admin/firestore";

import type { DateRange, MetricRow, ProviderId } from "../providers/types";

export const METRICS_COLLECTION = "metrics";

export function metricDocId(
  row: Pick<MetricRow, "provider" | "accountId" | "campaignId" | "date">,
) {
  return [row.provider, row.accountId, row.campaignId, row.date]
    .map((part) => encodeURIComponent(part))
    .join("_");
}

const metricsOf = (db: Firestore, userId: string) =>
  db.collection("users").doc(userId).collection(METRICS_COLLECTION);

export const metricRef = (
  db: Firestore,
  userId: string,
  row: Pick<MetricRow, "provider" | "accountId" | "campaignId" | "date">,
): DocumentReference => metricsOf(db, userId).doc(metricDocId(row));

/** One user's stored rows of `provider` dated within `range`. Index: provider ASC, date ASC. */
export const metricsInWindowQuery = (
  db: Firestore,
  userId: string,
  provider: ProviderId,
  range: DateRange,
  limit: number,
): Query =>
  metricsOf(db, userId)
    .where("provider", "==", provider)
    .where("date", ">=", range.since)
    .where("date", "<=", range.until)
    .orderBy("date")
    .limit(limit);
