/**
 * Normalised daily metrics: `users/{userId}/metrics/{provider}_{account}_{campaign}_{date}`.
 * The id is deterministic (built from the canonical account and campaign ids), so re-running a
 * job (a retry, a duplicate delivery, a restated day) overwrites the same document instead of
 * adding one; rows whose values did not change are not written at all (no write cost, no
 * listener churn).
 *
 * Reconciliation: a re-pulled window is the platform's whole truth for the accounts whose fetch
 * fully succeeded. A stored row in such an account's window that the platform no longer returns
 * — Google omits all-zero rows, a campaign was deleted, a day was restated to nothing — is
 * zeroed and marked `absent: {reason: "not_returned", since}`, never deleted (the campaign and its
 * history stay visible). Rows of an account the integration no longer holds are zeroed and marked
 * `account_removed` within the window the same way. Rows of an account whose fetch failed are
 * never touched. A row the platform returns again is written whole, without the mark.
 */
import {
  type DocumentReference,
  type Firestore,
  type Query,
  type QueryDocumentSnapshot,
  Timestamp,
} from "firebase-admin/firestore";
import { z } from "zod";

import type { DateRange, MetricRow, ProviderId } from "../providers/types";

export const METRICS_COLLECTION = "metrics";

/** Writes per batch stay under Firestore's 500 per commit. */
const CHUNK = 400;
/** Stored rows read per query page. */
const PAGE = 1_000;

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

/** The fields reconciliation reads from a stored document. */
const storedKeySchema = z.object({
  accountId: z.string(),
  date: z.string(),
  absent: z.object({ reason: z.string() }).nullish(),
});

export type AbsentReason = "not_returned" | "account_removed";

const ZEROED = {
  impressions: 0,
  clicks: 0,
  spendMicros: 0,
  conversions: 0,
  conversionValueMicros: 0,
} as const satisfies Partial<MetricRow>;

export function metricDocId(
  row: Pick<MetricRow, "provider" | "accountId" | "campaignId" | "date">,
) {
  return [row.provider, row.accountId, row.campaignId, row.date]
    .map((part) => encodeURIComponent(part))
    .join("_");
}

const metricsOf = (db: Firestore, userId: string) =>
  db.collection("users").doc(userId).collection(METRICS_COLLECTION);

export const metricRef = (db: Firestore, userId: string, row: MetricRow): DocumentReference =>
  metricsOf(db, userId).doc(metricDocId(row));

export interface AccountWindow {
  /** Canonical account id, as the rows carry it. */
  accountId: string;
  /** `ok`: the fetch of this account fully succeeded, so its window is reconciled. */
  status: "ok" | "failed";
  /** The days fetched, in the account's own days. */
  range: DateRange;
}

export interface StoreCounts {
  written: number;
  unchanged: number;
  /** Stored rows zeroed and marked absent by this run. */
  zeroed: number;
}

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

/** Every stored row of the window, a page at a time. */
async function storedInWindow(
  db: Firestore,
  userId: string,
  provider: ProviderId,
  range: DateRange,
): Promise<QueryDocumentSnapshot[]> {
  const query = metricsInWindowQuery(db, userId, provider, range, PAGE);
  const docs: QueryDocumentSnapshot[] = [];
  for (let page = await query.get(); ;) {
    docs.push(...page.docs);
    const last = page.docs.at(-1);
    if (page.size < PAGE || !last) {
      return docs;
    }
    page = await query.startAfter(last).get();
  }
}

/** The absence a stored row not returned by the platform gets, or none when it is kept as is. */
function absence(
  doc: QueryDocumentSnapshot,
  windows: ReadonlyMap<string, AccountWindow>,
): AbsentReason | undefined {
  const key = storedKeySchema.safeParse(doc.data());
  if (!key.success || key.data.absent) {
    // Unreadable documents are left to whoever wrote them; absent ones are already marked.
    return undefined;
  }
  const window = windows.get(key.data.accountId);
  if (!window) {
    return "account_removed";
  }
  const inWindow = window.range.since <= key.data.date && key.data.date <= window.range.until;
  return window.status === "ok" && inWindow ? "not_returned" : undefined;
}

/**
 * Stores one job's rows of `provider` and reconciles the windows of `accounts` (every account the
 * integration holds, canonical ids, with its fetch outcome and days).
 */
export async function storeMetrics(
  db: Firestore,
  userId: string,
  provider: ProviderId,
  fetched: { rows: readonly MetricRow[]; accounts: readonly AccountWindow[] },
  context: { jobId: string; now: Date },
): Promise<StoreCounts> {
  const counts: StoreCounts = { written: 0, unchanged: 0, zeroed: 0 };
  const windows = new Map(fetched.accounts.map((account) => [account.accountId, account]));
  const ranges = fetched.accounts.map((account) => account.range);
  if (ranges.length === 0) {
    return counts;
  }
  const span = {
    since: ranges.map((range) => range.since).sort()[0]!,
    until: ranges
      .map((range) => range.until)
      .sort()
      .at(-1)!,
  };
  const stored = new Map(
    (await storedInWindow(db, userId, provider, span)).map((doc) => [doc.id, doc]),
  );
  const syncedAt = Timestamp.fromDate(context.now);
  // A returned row replaces its document (dropping a mark); a zeroed one keeps its names.
  const writes: Array<{ ref: DocumentReference; data: object; replace: boolean }> = [];

  for (const row of fetched.rows) {
    const id = metricDocId(row);
    const current = stored.get(id);
    stored.delete(id);
    const values = storedValuesSchema.safeParse(current?.data());
    const same =
      values.success &&
      current?.get("absent") === undefined &&
      VALUE_FIELDS.every((field) => values.data[field] === row[field]);
    if (same) {
      counts.unchanged += 1;
      continue;
    }
    writes.push({
      ref: metricRef(db, userId, row),
      data: { ...row, userId, syncedAt, jobId: context.jobId },
      replace: true,
    });
  }
  for (const doc of stored.values()) {
    const reason = absence(doc, windows);
    if (reason) {
      counts.zeroed += 1;
      writes.push({
        ref: doc.ref,
        data: { ...ZEROED, absent: { reason, since: syncedAt }, syncedAt, jobId: context.jobId },
        replace: false,
      });
    }
  }

  for (let start = 0; start < writes.length; start += CHUNK) {
    const batch = db.batch();
    for (const { ref, data, replace } of writes.slice(start, start + CHUNK)) {
      if (replace) {
        batch.set(ref, data);
      } else {
        batch.update(ref, data);
      }
    }
    await batch.commit();
  }
  counts.written = writes.length - counts.zeroed;
  return counts;
}
