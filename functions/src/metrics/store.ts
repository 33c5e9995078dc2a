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
  FieldValue,
  type Firestore,
  type Query,
  type QueryDocumentSnapshot,
  Timestamp,
} from "firebase-admin/firestore";
import { z } from "zod";

import { spanOf } from "../providers/ranges";
import type { DateRange, MetricRow, ProviderId } from "../providers/types";

export const METRICS_COLLECTION = "metrics";

/** Writes per batch stay under Firestore's 500 per commit. */
const CHUNK = 400;
/** Stored rows read per query page. */
const PAGE = 1_000;

/** The non-money values a stored document is compared on; an unreadable one is rewritten. */
const storedValuesSchema = z.object({
  campaignName: z.string(),
  timeZone: z.string(),
  currency: z.string(),
  impressions: z.number(),
  clicks: z.number(),
  conversions: z.number(),
});
const VALUE_FIELDS = Object.keys(storedValuesSchema.shape) as Array<
  keyof z.infer<typeof storedValuesSchema> & keyof MetricRow
>;

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
} as const;

/**
 * Money is stored as Firestore int64 integers of micros, exact at any size: a JS number where it
 * is exact (up to 2^53, about 9.0e9 currency units), a `bigint` beyond, which the Admin SDK
 * writes as the same int64. Readers that decode integers into JS numbers (the Admin SDK without
 * `useBigInt`, the web SDK) see an amount past 2^53 micros rounded to the nearest double; read it
 * with `useBigInt: true` for the exact value.
 */
export const storedMicros = (micros: bigint): number | bigint =>
  micros >= BigInt(Number.MIN_SAFE_INTEGER) && micros <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(micros)
    : micros;

/**
 * Whether a stored amount is exactly `micros`. An amount past 2^53 reads back rounded, so it never
 * compares equal: such a row is rewritten (with the same exact value) on each sync.
 */
const sameMicros = (stored: unknown, micros: bigint): boolean =>
  typeof stored === "number" && Number.isSafeInteger(stored) && BigInt(stored) === micros;

/** Whether the stored document already holds exactly what the row would write. */
function unchanged(current: QueryDocumentSnapshot | undefined, row: MetricRow): boolean {
  const values = storedValuesSchema.safeParse(current?.data());
  if (!current || !values.success || current.get("absent") !== undefined) {
    return false;
  }
  const spendSame =
    row.spendMicros === null
      ? current.get("spendMissing") === true
      : current.get("spendMissing") === undefined &&
        sameMicros(current.get("spendMicros"), row.spendMicros);
  return (
    spendSame &&
    sameMicros(current.get("conversionValueMicros"), row.conversionValueMicros) &&
    VALUE_FIELDS.every((field) => values.data[field] === row[field])
  );
}

/**
 * What a returned row writes (merged into its document): every value, the money as int64; a
 * spend the platform did not send is left as stored and the row marked `spendMissing`, never
 * written as 0. The absence mark of an earlier run is removed.
 */
function rowData(row: MetricRow, stamp: object): Record<string, unknown> {
  const { spendMicros, conversionValueMicros, ...values } = row;
  return {
    ...values,
    ...stamp,
    conversionValueMicros: storedMicros(conversionValueMicros),
    ...(spendMicros === null
      ? { spendMissing: true }
      : { spendMicros: storedMicros(spendMicros), spendMissing: FieldValue.delete() }),
    absent: FieldValue.delete(),
  };
}

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

/**
 * One account of the integration and its fetch: `ok` (fully fetched, so its window — the days
 * fetched, in the account's own days — is reconciled) or `failed` (its rows are left alone).
 * Account ids are canonical, as the rows carry them.
 */
export type AccountWindow =
  { accountId: string; status: "ok"; range: DateRange } | { accountId: string; status: "failed" };

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
  if (window.status === "failed") {
    return undefined;
  }
  const { since, until } = window.range;
  return since <= key.data.date && key.data.date <= until ? "not_returned" : undefined;
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
  const span = spanOf(
    fetched.accounts.flatMap((account) => (account.status === "ok" ? [account.range] : [])),
  );
  if (!span) {
    // No account was fetched: no row to store, no window to reconcile.
    return counts;
  }
  const stored = new Map(
    (await storedInWindow(db, userId, provider, span)).map((doc) => [doc.id, doc]),
  );
  const syncedAt = Timestamp.fromDate(context.now);
  const stamp = { userId, syncedAt, jobId: context.jobId };
  // Every write merges into its document: fields this code does not write (a spend the platform
  // left out, fields of newer code) are kept; a zeroed row keeps its names.
  const writes: Array<{ ref: DocumentReference; data: Record<string, unknown> }> = [];

  for (const row of fetched.rows) {
    const id = metricDocId(row);
    const current = stored.get(id);
    stored.delete(id);
    if (unchanged(current, row)) {
      counts.unchanged += 1;
      continue;
    }
    writes.push({ ref: metricRef(db, userId, row), data: rowData(row, stamp) });
  }
  for (const doc of stored.values()) {
    const reason = absence(doc, windows);
    if (reason) {
      counts.zeroed += 1;
      writes.push({
        ref: doc.ref,
        data: {
          ...ZEROED,
          spendMissing: FieldValue.delete(),
          absent: { reason, since: syncedAt },
          ...stamp,
        },
      });
    }
  }

  for (let start = 0; start < writes.length; start += CHUNK) {
    const batch = db.batch();
    for (const { ref, data } of writes.slice(start, start + CHUNK)) {
      batch.set(ref, data, { merge: true });
    }
    await batch.commit();
  }
  counts.written = writes.length - counts.zeroed;
  return counts;
}
