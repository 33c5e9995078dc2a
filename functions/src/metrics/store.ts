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
 *
 * Cost follows change, not rows: what is stored is known from each account's digests
 * (`digest.ts`, a few documents per account and month), not by reading the rows. A job stores
 * each account as soon as it is fetched (`MetricsStore.storeAccount`): one `getAll` of its
 * digests, then only the rows whose hash changed are written and only the rows the digest lists
 * but the platform no longer returned are zeroed, each commit carrying its rows and the digest
 * days they change — a crash between commits leaves every digest describing exactly the rows
 * committed. Days the digests do not cover yet (rows stored before them) are rebuilt from the
 * rows first (`rebuild.ts`). A re-run over unchanged data reads the digests and writes nothing.
 */
import { FieldValue, type Firestore, Timestamp } from "firebase-admin/firestore";

import { spanOf } from "../providers/ranges";
import type { DateRange, MetricRow, ProviderId } from "../providers/types";
import {
  dayField,
  DIGEST_DOCS_PER_BATCH,
  DigestBatch,
  digestIdsQuery,
  digestRef,
  type DigestStamp,
  inRange,
  type MonthDigest,
  monthOf,
  monthRange,
  monthsOf,
  parseDigestId,
  readAccountMonths,
  rewriteMonth,
  rowHash,
  shardOf,
  shardsFor,
} from "./digest";
import { Coverage, type DigestScope, rebuildMonth } from "./rebuild";
import { metricRef } from "./rows";

export { metricDocId, metricRef, METRICS_COLLECTION, metricsInWindowQuery } from "./rows";

/** Writes per commit, digest documents included: under Firestore's 500. */
const MAX_WRITES = 400;

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
 * with `useBigInt: true` for the exact value. The digests hash the exact amount, so such a row is
 * unchanged when it is (a row stored before the digests is rewritten once: it reads back rounded).
 */
const storedMicros = (micros: bigint): number | bigint =>
  micros >= BigInt(Number.MIN_SAFE_INTEGER) && micros <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(micros)
    : micros;

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

export const noCounts = (): StoreCounts => ({ written: 0, unchanged: 0, zeroed: 0 });

export function addCounts(into: StoreCounts, more: StoreCounts): void {
  into.written += more.written;
  into.unchanged += more.unchanged;
  into.zeroed += more.zeroed;
}

/** One fully fetched account: its rows (canonical account id) and the days fetched. */
export interface AccountToStore {
  accountId: string;
  range: DateRange;
  rows: readonly MetricRow[];
}

/** A row to write (`row`, whose hash the digest then holds) or a listed row to zero. */
interface Change {
  date: string;
  campaignId: string;
  row?: MetricRow;
  hash?: string;
}

/**
 * One job's metrics of one user and provider, stored account by account as each is fetched,
 * then `finish`ed once with every account the integration holds.
 */
export class MetricsStore {
  private readonly scope: DigestScope;
  private readonly coverage: Coverage;
  private readonly stamp: { userId: string; syncedAt: Timestamp; jobId: string };

  constructor(
    private readonly db: Firestore,
    private readonly userId: string,
    private readonly provider: ProviderId,
    context: { jobId: string; now: Date },
  ) {
    const syncedAt = Timestamp.fromDate(context.now);
    this.stamp = { userId, syncedAt, jobId: context.jobId };
    const digestStamp: DigestStamp = { provider, syncedAt, jobId: context.jobId };
    this.scope = { db, userId, provider, stamp: digestStamp, now: context.now };
    this.coverage = new Coverage(this.scope);
  }

  /**
   * Stores a fully fetched account's rows and reconciles its days (`range`): a stored row there
   * the platform did not return is zeroed and marked `not_returned`.
   */
  storeAccount(account: AccountToStore): Promise<StoreCounts> {
    return this.reconcile(account.accountId, account.range, account.rows, "not_returned");
  }

  /**
   * Stores a backfill slice's rows and zeroes nothing: history is only ever added to. A row
   * stored earlier that the platform no longer returns for an old day (a campaign deleted since,
   * a platform that stopped serving the day) keeps its values; reconciling is the syncs' work,
   * over the days the platform still restates.
   */
  addRows(account: AccountToStore): Promise<StoreCounts> {
    return this.reconcile(account.accountId, account.range, account.rows, undefined);
  }

  /**
   * Zeroes and marks `account_removed`, within the fetched accounts' days, the rows of every
   * account with digests there that the integration no longer holds (`accounts`: every account
   * it holds, with its fetch outcome). Failed accounts' rows are never touched.
   */
  async finish(accounts: readonly AccountWindow[]): Promise<StoreCounts> {
    const counts = noCounts();
    const span = spanOf(accounts.flatMap((a) => (a.status === "ok" ? [a.range] : [])));
    if (!span) {
      // No account was fetched: no window to reconcile.
      return counts;
    }
    await this.coverage.extendTo(span);
    const held = new Set(accounts.map((account) => account.accountId));
    const months = monthsOf(span);
    const listed = await digestIdsQuery(this.db, this.userId, this.provider, {
      first: months[0]!,
      last: months.at(-1)!,
    }).get();
    const removed = new Set<string>();
    for (const doc of listed.docs) {
      const accountId = parseDigestId(doc.id)?.accountId;
      if (accountId !== undefined && !held.has(accountId)) {
        removed.add(accountId);
      }
    }
    for (const accountId of removed) {
      addCounts(counts, await this.reconcile(accountId, span, [], "account_removed"));
    }
    return counts;
  }

  private async reconcile(
    accountId: string,
    range: DateRange,
    rows: readonly MetricRow[],
    /** Why a listed row the platform did not return is zeroed; undefined: none is. */
    reason: "not_returned" | "account_removed" | undefined,
  ): Promise<StoreCounts> {
    const counts = noCounts();
    let { since, until } = range;
    for (const row of rows) {
      if (row.accountId !== accountId) {
        throw new Error(`a row of account ${row.accountId} was handed over as ${accountId}'s`);
      }
      since = row.date < since ? row.date : since;
      until = row.date > until ? row.date : until;
    }
    await this.coverage.extendTo({ since, until });
    const months = monthsOf({ since, until });
    const digests = await this.readMonths(accountId, months);

    const changes = new Map<string, Change[]>(months.map((month) => [month, []]));
    const returned = new Set<string>();
    for (const row of rows) {
      const key = `${row.date}/${row.campaignId}`;
      const hash = rowHash(row);
      const again = returned.has(key);
      returned.add(key);
      const digest = digests.get(monthOf(row.date))!;
      if (!again && digest.days.get(row.date)?.get(row.campaignId) === hash) {
        counts.unchanged += 1;
        continue;
      }
      changes.get(digest.month)!.push({ date: row.date, campaignId: row.campaignId, row, hash });
    }
    for (const digest of reason === undefined ? [] : digests.values()) {
      for (const [date, day] of digest.days) {
        if (!inRange(date, range)) {
          continue;
        }
        for (const campaignId of day.keys()) {
          if (!returned.has(`${date}/${campaignId}`)) {
            changes.get(digest.month)!.push({ date, campaignId });
          }
        }
      }
    }
    for (const digest of digests.values()) {
      await this.apply(digest, changes.get(digest.month)!, reason ?? "not_returned", counts);
    }
    return counts;
  }

  /** The account's digests of `months`; an unreadable month is rebuilt from its rows first. */
  private async readMonths(accountId: string, months: string[]): Promise<Map<string, MonthDigest>> {
    const read = () => readAccountMonths(this.db, this.userId, this.provider, accountId, months);
    let digests = await read();
    const unreadable = months.filter((month) => digests.get(month) === undefined);
    if (unreadable.length > 0) {
      for (const month of unreadable) {
        await rebuildMonth(this.scope, month, monthRange(month));
      }
      digests = await read();
    }
    return new Map(
      months.map((month) => {
        const digest = digests.get(month);
        if (!digest) {
          throw new Error(
            `the ${month} digest of ${this.provider} account ${accountId} stays unreadable`,
          );
        }
        return [month, digest];
      }),
    );
  }

  /**
   * Commits one month's changes with the digest days they change, at most MAX_WRITES writes
   * and DIGEST_DOCS_PER_BATCH digest documents a commit. A month that would outgrow its shards
   * is split first.
   */
  private async apply(
    digest: MonthDigest,
    changes: Change[],
    reason: "not_returned" | "account_removed",
    counts: StoreCounts,
  ): Promise<void> {
    if (changes.length === 0) {
      return;
    }
    const refOf = (shard: number) =>
      digestRef(this.db, this.userId, this.provider, digest.month, digest.accountId, shard);
    const campaigns = new Map([...digest.days].map(([date, day]) => [date, new Set(day.keys())]));
    for (const { date, campaignId, row } of changes) {
      if (row) {
        campaigns.set(date, (campaigns.get(date) ?? new Set()).add(campaignId));
      }
    }
    const shards = shardsFor(campaigns, digest.shards);
    if (shards > digest.shards) {
      await rewriteMonth(this.db, digest, shards, this.scope.stamp, refOf);
    }
    // Day by day: a commit then changes few day fields.
    changes.sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0));

    let batch = new DigestBatch(this.db);
    let touched = new Map<number, Set<string>>();
    const commit = async () => {
      for (const [shard, dates] of touched) {
        const days = Object.fromEntries(
          [...dates].map((date) => [date, dayField(digest.days.get(date), shard, digest.shards)]),
        );
        batch.writeShard(digest, shard, days, this.scope.stamp, { whole: false });
      }
      await batch.commit();
      batch = new DigestBatch(this.db);
      touched = new Map();
    };
    const zeroed = {
      ...ZEROED,
      spendMissing: FieldValue.delete(),
      absent: { reason, since: this.stamp.syncedAt },
      ...this.stamp,
    };
    for (const { date, campaignId, row, hash } of changes) {
      const shard = shardOf(campaignId, digest.shards);
      const docs = touched.size + (touched.has(shard) ? 0 : 1);
      if (batch.size + docs + 1 > MAX_WRITES || docs > DIGEST_DOCS_PER_BATCH) {
        await commit();
      }
      const day = digest.days.get(date) ?? new Map<string, string>();
      digest.days.set(date, day);
      if (row && hash) {
        batch.setRow(metricRef(this.db, this.userId, row), rowData(row, this.stamp));
        day.set(campaignId, hash);
        counts.written += 1;
      } else {
        // The row's identity is written too: a zeroed row never lacks its keys.
        const key = { provider: this.provider, accountId: digest.accountId, campaignId, date };
        batch.setRow(metricRef(this.db, this.userId, key), { ...zeroed, ...key });
        day.delete(campaignId);
        counts.zeroed += 1;
      }
      touched.set(shard, (touched.get(shard) ?? new Set()).add(date));
    }
    await commit();
  }
}

/**
 * Stores one job's rows of `provider` and reconciles the windows of `accounts` (every account the
 * integration holds, canonical ids, with its fetch outcome and days) at once: `MetricsStore` for
 * rows that are all at hand. Only fully fetched accounts have rows.
 */
export async function storeMetrics(
  db: Firestore,
  userId: string,
  provider: ProviderId,
  fetched: { rows: readonly MetricRow[]; accounts: readonly AccountWindow[] },
  context: { jobId: string; now: Date },
): Promise<StoreCounts> {
  const rowsOf = new Map<string, MetricRow[]>();
  for (const row of fetched.rows) {
    const rows = rowsOf.get(row.accountId) ?? [];
    rowsOf.set(row.accountId, rows);
    rows.push(row);
  }
  const ok = new Map(
    fetched.accounts.flatMap((a) => (a.status === "ok" ? [[a.accountId, a.range] as const] : [])),
  );
  for (const accountId of rowsOf.keys()) {
    if (!ok.has(accountId)) {
      throw new Error(`rows of ${provider} account ${accountId}, which was not fully fetched`);
    }
  }
  const store = new MetricsStore(db, userId, provider, context);
  const counts = noCounts();
  for (const [accountId, range] of ok) {
    addCounts(
      counts,
      await store.storeAccount({ accountId, range, rows: rowsOf.get(accountId) ?? [] }),
    );
  }
  addCounts(counts, await store.finish(fetched.accounts));
  return counts;
}
