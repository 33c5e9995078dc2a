/**
 * Metric digests: what is stored, summarised, so a re-pulled window costs reads per account,
 * not per row. `users/{userId}/metricDigests/{provider}_{yyyy-mm}_{account}_{shard}` holds, for
 * one account's month, each day's live rows (stored and not marked absent) as campaign id → a
 * hash of every value the store compares (names, zone, currency, counts, money as exact int64
 * strings, a spend the platform did not send). One document per month keeps a 90-day window at
 * four reads per account, and a month bounds how much one document grows.
 *
 * Why per row and not only per day: a restated day often moves a few campaigns; with each row's
 * hash the store writes exactly the rows that changed and zeroes exactly the rows that vanished,
 * without reading one row document. A hash is 66 bits of SHA-256: the odds that a changed row
 * hashes as its old value, and is not written, are 1 in 7·10^19 per change.
 *
 * Size bound: a day is one string field (`campaign:hash,…`, about 25–35 bytes a row for the
 * platforms' 9–19-digit campaign ids), so a document has at most 31 day fields whatever the
 * number of campaigns (Firestore counts map keys against its 20,000-field limit). An
 * account-month whose estimate passes DIGEST_BUDGET_BYTES (256 KiB, a quarter of Firestore's
 * 1 MiB, with room for longer ids than estimated) is split over 2, 4, 8… shards by a hash of the
 * campaign id: one shard holds a month of about 260 campaigns with rows every day (19-digit ids;
 * 380 with 9-digit ones). Shard 0 names the count (`shards`); a reader fetches the others only
 * when it is more than one. A commit carries at most DIGEST_DOCS_PER_BATCH digest documents, so
 * with its rows it stays far under Firestore's 10 MiB request limit.
 *
 * Ids sort by provider, then month, then account, so one id-range query lists every account's
 * digests of a window (`digestIdsQuery`) on Firestore's built-in document-id index.
 */
import { createHash } from "node:crypto";

import {
  type DocumentReference,
  type DocumentSnapshot,
  FieldPath,
  type Firestore,
  type Query,
  type Timestamp,
  type WriteBatch,
} from "firebase-admin/firestore";
import { z } from "zod";

import type { DateRange, MetricRow, ProviderId } from "../providers/types";

export const DIGESTS_COLLECTION = "metricDigests";

/** The most a digest document is estimated to hold before its month is split into shards. */
const DIGEST_BUDGET_BYTES = 256 * 1024;

/** Characters of a row hash: 66 bits of SHA-256, base64url. */
const HASH_CHARS = 11;
/** The hash of a stored row this code cannot compare: never equal to a fetched row's. */
const INCOMPARABLE = "!";

/** One day's live rows: campaign id → row hash. */
export type DayState = Map<string, string>;

/** A shard document as read: its reference and the version the next write must still find. */
export interface ShardDoc {
  ref: DocumentReference;
  /** Absent when the document did not exist. */
  updateTime?: Timestamp;
}

/** One account's month: every shard's days merged, and the shard documents to write back. */
export interface MonthDigest {
  accountId: string;
  month: string;
  shards: number;
  docs: ShardDoc[];
  days: Map<string, DayState>;
}

const hashOf = (text: string): string =>
  createHash("sha256").update(text).digest("base64url").slice(0, HASH_CHARS);

const hashFields = (fields: readonly string[]): string => hashOf(JSON.stringify(fields));

/** The hash of what a returned row stores: equal hashes mean the stored row is unchanged. */
export function rowHash(row: MetricRow): string {
  return hashFields([
    row.campaignName,
    row.timeZone,
    row.currency,
    String(row.impressions),
    String(row.clicks),
    row.spendMicros === null ? "~" : row.spendMicros.toString(),
    String(row.conversions),
    row.conversionValueMicros.toString(),
  ]);
}

const storedValues = z.object({
  campaignName: z.string(),
  timeZone: z.string(),
  currency: z.string(),
  impressions: z.number(),
  clicks: z.number(),
  conversions: z.number(),
});

/** Exact micros as read back; `undefined` for an amount the read rounded (past 2^53) or no amount. */
function exactMicros(value: unknown): string | undefined {
  if (typeof value === "bigint") {
    return value.toString();
  }
  return typeof value === "number" && Number.isSafeInteger(value) ? String(value) : undefined;
}

/**
 * The hash of a stored row document, as `rowHash` gives it for the row that wrote it; INCOMPARABLE
 * when the document does not hold comparable values (so a returned row rewrites it, as the
 * store always did for such documents).
 */
export function storedRowHash(data: Record<string, unknown>): string {
  const values = storedValues.safeParse(data);
  const spend =
    data.spendMissing === true
      ? "~"
      : data.spendMissing === undefined
        ? exactMicros(data.spendMicros)
        : undefined;
  const conversionValue = exactMicros(data.conversionValueMicros);
  if (!values.success || spend === undefined || conversionValue === undefined) {
    return INCOMPARABLE;
  }
  const v = values.data;
  return hashFields([
    v.campaignName,
    v.timeZone,
    v.currency,
    String(v.impressions),
    String(v.clicks),
    spend,
    String(v.conversions),
    conversionValue,
  ]);
}

export const monthOf = (date: string): string => date.slice(0, 7);

const DAY_MS = 86_400_000;
const isoDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
const dayMs = (date: string): number => Date.parse(`${date}T00:00:00Z`);
export const dayBefore = (date: string): string => isoDay(dayMs(date) - DAY_MS);
export const dayAfter = (date: string): string => isoDay(dayMs(date) + DAY_MS);

/** The month's days as a range. */
export function monthRange(month: string): DateRange {
  const [year, monthIndex] = month.split("-").map(Number);
  const last = new Date(Date.UTC(year ?? 0, monthIndex ?? 0, 0));
  return { since: `${month}-01`, until: isoDay(last.getTime()) };
}

/** Every month `range` touches, in order. */
export function monthsOf(range: DateRange): string[] {
  const months: string[] = [];
  for (let month = monthOf(range.since); month <= monthOf(range.until);) {
    months.push(month);
    month = monthOf(dayAfter(monthRange(month).until));
  }
  return months;
}

/** `range` within `month`. */
export const withinMonth = (range: DateRange, month: string): DateRange => {
  const days = monthRange(month);
  return {
    since: range.since > days.since ? range.since : days.since,
    until: range.until < days.until ? range.until : days.until,
  };
};

export const inRange = (date: string, range: DateRange): boolean =>
  range.since <= date && date <= range.until;

// Underscores separate the id's parts, so the account's own are escaped too.
const idPart = (value: string): string => encodeURIComponent(value).replaceAll("_", "%5F");

export const digestsOf = (db: Firestore, userId: string) =>
  db.collection("users").doc(userId).collection(DIGESTS_COLLECTION);

export const digestRef = (
  db: Firestore,
  userId: string,
  provider: ProviderId,
  month: string,
  accountId: string,
  shard: number,
): DocumentReference =>
  digestsOf(db, userId).doc([provider, month, idPart(accountId), String(shard)].join("_"));

/** The account, month and shard a digest id names; `undefined` for any other id. */
export function parseDigestId(
  id: string,
): { month: string; accountId: string; shard: number } | undefined {
  const [, month, account, shard, ...rest] = id.split("_");
  if (month === undefined || account === undefined || shard === undefined || rest.length > 0) {
    return undefined;
  }
  try {
    return { month, accountId: decodeURIComponent(account), shard: Number(shard) };
  } catch {
    return undefined;
  }
}

/**
 * Every digest document of `provider` for the months `first`…`last`, all accounts and shards,
 * by id on the built-in index: document ids only (`select()`) unless `withData`.
 */
export function digestIdsQuery(
  db: Firestore,
  userId: string,
  provider: ProviderId,
  months: { first: string; last: string },
  withData = false,
): Query {
  const query = digestsOf(db, userId)
    .orderBy(FieldPath.documentId())
    .startAt(`${provider}_${months.first}_`)
    .endAt(`${provider}_${months.last}_\uf8ff`);
  return withData ? query : query.select();
}

const shardSchema = z.object({
  shard: z.number().int().min(0),
  shards: z
    .number()
    .int()
    .positive()
    .refine((n) => (n & (n - 1)) === 0, { error: "shards must be a power of two" }),
  days: z.record(z.string(), z.string()),
});

/** A day's field: `campaign:hash` entries, campaign ids URI-encoded, sorted. */
function parseDay(text: string): DayState {
  const state: DayState = new Map();
  if (text === "") {
    return state;
  }
  for (const entry of text.split(",")) {
    const colon = entry.indexOf(":");
    if (colon <= 0) {
      throw new Error(`malformed digest entry "${entry}"`);
    }
    state.set(decodeURIComponent(entry.slice(0, colon)), entry.slice(colon + 1));
  }
  return state;
}

const campaignBucket = (campaignId: string): number =>
  createHash("sha256").update(campaignId).digest().readUInt32BE(0);

/** The shard of `shards` (a power of two) a campaign's entries live in. */
export const shardOf = (campaignId: string, shards: number): number =>
  shards === 1 ? 0 : campaignBucket(campaignId) % shards;

/** The day's field in `shard`: its entries there, or `""` when it has none. */
export function dayField(state: DayState | undefined, shard: number, shards: number): string {
  const entries: string[] = [];
  for (const [campaignId, hash] of state ?? []) {
    if (shardOf(campaignId, shards) === shard) {
      entries.push(`${encodeURIComponent(campaignId)}:${hash}`);
    }
  }
  return entries.sort().join(",");
}

const entryBytes = (campaignId: string): number =>
  encodeURIComponent(campaignId).length + HASH_CHARS + 2;
/** A document's fixed part (ids, counts, stamps) and a day field's name, over-estimated. */
const DOC_BYTES = 1_024;
const DAY_FIELD_BYTES = 16;

/**
 * The fewest shards (at least `atLeast`, a power of two) that keep every shard of a month whose
 * rows are `days` within the budget.
 */
export function shardsFor(days: ReadonlyMap<string, Iterable<string>>, atLeast: number): number {
  const bytes = new Map<string, number>();
  for (const campaigns of days.values()) {
    for (const campaignId of campaigns) {
      bytes.set(campaignId, (bytes.get(campaignId) ?? 0) + entryBytes(campaignId));
    }
  }
  const fixed = DOC_BYTES + days.size * DAY_FIELD_BYTES;
  let total = fixed;
  bytes.forEach((size) => (total += size));
  if (total <= DIGEST_BUDGET_BYTES) {
    return atLeast;
  }
  for (let shards = Math.max(atLeast, 2); ; shards *= 2) {
    const sizes = new Array<number>(shards).fill(fixed);
    bytes.forEach((size, campaignId) => (sizes[shardOf(campaignId, shards)]! += size));
    if (Math.max(...sizes) <= DIGEST_BUDGET_BYTES) {
      return shards;
    }
  }
}

/**
 * An account's month from its shard documents as read (`byShard`: shard → snapshot, shard 0
 * at least); `undefined` when any is unreadable or missing (the month is rebuilt from its rows).
 */
export function assembleMonth(
  accountId: string,
  month: string,
  byShard: ReadonlyMap<number, DocumentSnapshot>,
  refOf: (shard: number) => DocumentReference,
): MonthDigest | undefined {
  const first = byShard.get(0);
  if (!first?.exists) {
    // No digest yet: the month holds no live row (the coverage marker vouches for it).
    return byShard.size <= 1
      ? { accountId, month, shards: 1, docs: [{ ref: refOf(0) }], days: new Map() }
      : undefined;
  }
  const head = shardSchema.safeParse(first.data());
  if (!head.success) {
    return undefined;
  }
  const { shards } = head.data;
  const digest: MonthDigest = { accountId, month, shards, docs: [], days: new Map() };
  try {
    for (let shard = 0; shard < shards; shard += 1) {
      const snapshot = byShard.get(shard);
      const parsed = shardSchema.safeParse(snapshot?.data());
      if (!snapshot?.exists || !parsed.success) {
        return undefined;
      }
      if (parsed.data.shard !== shard || parsed.data.shards !== shards) {
        return undefined;
      }
      digest.docs.push({ ref: snapshot.ref, updateTime: snapshot.updateTime! });
      for (const [date, text] of Object.entries(parsed.data.days)) {
        const day = parseDay(text);
        if (day.size > 0) {
          const merged = digest.days.get(date) ?? new Map<string, string>();
          day.forEach((hash, campaignId) => merged.set(campaignId, hash));
          digest.days.set(date, merged);
        }
      }
    }
  } catch {
    return undefined;
  }
  return digest;
}

/**
 * One account's digests of `months`: shard 0 of every month in one `getAll`, the other shards
 * (a month of more campaigns than one document holds) in a second. A month is `undefined` when
 * its digest is unreadable.
 */
export async function readAccountMonths(
  db: Firestore,
  userId: string,
  provider: ProviderId,
  accountId: string,
  months: readonly string[],
): Promise<Map<string, MonthDigest | undefined>> {
  const refOf = (month: string) => (shard: number) =>
    digestRef(db, userId, provider, month, accountId, shard);
  const heads = await db.getAll(...months.map((month) => refOf(month)(0)));
  const more = months.flatMap((month, i) => {
    const shards = shardSchema.shape.shards.safeParse(heads[i]?.get("shards"));
    const count = heads[i]?.exists && shards.success ? shards.data : 1;
    return Array.from({ length: count - 1 }, (_, k) => ({ month, shard: k + 1 }));
  });
  const rest =
    more.length === 0 ? [] : await db.getAll(...more.map((e) => refOf(e.month)(e.shard)));
  const byMonth = new Map(
    months.map((month, i) => [month, new Map<number, DocumentSnapshot>([[0, heads[i]!]])]),
  );
  more.forEach((entry, j) => byMonth.get(entry.month)?.set(entry.shard, rest[j]!));
  return new Map(
    months.map((month) => [
      month,
      assembleMonth(accountId, month, byMonth.get(month)!, refOf(month)),
    ]),
  );
}

/** What a digest write stamps, besides its days. */
export interface DigestStamp {
  provider: ProviderId;
  syncedAt: Timestamp;
  jobId: string;
}

/**
 * A batch of writes that keeps the digest documents it touches at the version it read: each
 * update is preconditioned on it (a concurrent writer fails the commit instead of being
 * overwritten), a document read as absent is created, and a commit records the new versions.
 */
export class DigestBatch {
  private readonly batch: WriteBatch;
  private readonly written: Array<ShardDoc | undefined> = [];

  constructor(db: Firestore) {
    this.batch = db.batch();
  }

  get size(): number {
    return this.written.length;
  }

  /** A metric row merged into its document. */
  setRow(ref: DocumentReference, data: Record<string, unknown>): void {
    this.batch.set(ref, data, { merge: true });
    this.written.push(undefined);
  }

  /**
   * The given days of one shard document (`whole`: every day, replacing the stored map).
   * `fresh`: a shard past the count the month had, which a crashed earlier split may have left
   * behind unread; it is overwritten.
   */
  writeShard(
    digest: MonthDigest,
    shard: number,
    days: Record<string, string>,
    stamp: DigestStamp,
    how: { whole: boolean; fresh?: boolean },
  ): void {
    const doc = digest.docs[shard];
    if (!doc) {
      throw new Error(`no shard ${shard} for the ${digest.month} digest of ${digest.accountId}`);
    }
    const fields = { shards: digest.shards, syncedAt: stamp.syncedAt, jobId: stamp.jobId };
    const full = {
      provider: stamp.provider,
      accountId: digest.accountId,
      month: digest.month,
      shard,
      ...fields,
      days,
    };
    if (how.fresh) {
      this.batch.set(doc.ref, full);
    } else if (!doc.updateTime) {
      this.batch.create(doc.ref, full);
    } else if (how.whole) {
      this.batch.update(doc.ref, full, { lastUpdateTime: doc.updateTime });
    } else {
      const dayFields = Object.fromEntries(
        Object.entries(days).map(([date, text]) => [`days.${date}`, text]),
      );
      this.batch.update(doc.ref, { ...fields, ...dayFields }, { lastUpdateTime: doc.updateTime });
    }
    this.written.push(doc);
  }

  async commit(): Promise<void> {
    if (this.written.length === 0) {
      return;
    }
    const results = await this.batch.commit();
    results.forEach((result, i) => {
      const doc = this.written[i];
      if (doc) {
        doc.updateTime = result.writeTime;
      }
    });
  }
}

/** The most digest documents one commit carries: with rows, far under the 10 MiB request limit. */
export const DIGEST_DOCS_PER_BATCH = 8;

/**
 * Writes every shard of `digest` in full as `shards` shards (a split, or a rebuild), so a
 * reader sees the old layout or the new one, never a mix: the shards past the old count first,
 * then the old shards (which name the count) in one commit.
 */
export async function rewriteMonth(
  db: Firestore,
  digest: MonthDigest,
  shards: number,
  stamp: DigestStamp,
  refOf: (shard: number) => DocumentReference,
): Promise<void> {
  const oldShards = digest.shards;
  digest.shards = shards;
  for (let shard = digest.docs.length; shard < shards; shard += 1) {
    digest.docs.push({ ref: refOf(shard) });
  }
  const daysOf = (shard: number) =>
    Object.fromEntries(
      [...digest.days]
        .map(([date, state]) => [date, dayField(state, shard, shards)] as const)
        .filter(([, text]) => text !== ""),
    );
  for (let start = oldShards; start < shards; start += DIGEST_DOCS_PER_BATCH) {
    const batch = new DigestBatch(db);
    for (let shard = start; shard < Math.min(shards, start + DIGEST_DOCS_PER_BATCH); shard += 1) {
      batch.writeShard(digest, shard, daysOf(shard), stamp, { whole: true, fresh: true });
    }
    await batch.commit();
  }
  const batch = new DigestBatch(db);
  for (let shard = 0; shard < Math.min(oldShards, shards); shard += 1) {
    batch.writeShard(digest, shard, daysOf(shard), stamp, { whole: true });
  }
  await batch.commit();
}
