/**
 * The fallback for rows the digests do not describe: rows written before digests existed (the
 * first sync after this code is deployed, or a window reaching further back than any before),
 * and a digest that cannot be read. Such days are read the way the store always read them — the
 * provider's stored rows by date — and every account's digest of those days is rebuilt from what
 * is stored, before any row is compared: no row is lost or duplicated, and the next run reads
 * digests only.
 *
 * `metricDigests/{provider}` records how far back that holds (`coveredSince`): every live row of
 * the provider dated on or after it is in its account's digest, failed and removed accounts'
 * included. It moves back only once the rebuilt digests are committed, so a crash mid-way leaves
 * the old mark and the next run rebuilds again. Later days need no rebuild: only this code has
 * written them (no platform reports a day that has not started anywhere, UTC+14 included).
 */
import type { DocumentSnapshot, Firestore, Timestamp } from "firebase-admin/firestore";
import { z } from "zod";

import type { DateRange, ProviderId } from "../providers/types";
import { hasFirestoreCode } from "../shared/firestore-errors";
import {
  assembleMonth,
  dayAfter,
  dayBefore,
  type DayState,
  digestIdsQuery,
  digestRef,
  digestsOf,
  type DigestStamp,
  inRange,
  type MonthDigest,
  monthRange,
  monthsOf,
  parseDigestId,
  rewriteMonth,
  shardsFor,
  storedRowHash,
  withinMonth,
} from "./digest";
import { metricDocId, metricsInWindowQuery } from "./rows";

/** Stored rows read per query page. */
const PAGE = 1_000;

export interface DigestScope {
  db: Firestore;
  userId: string;
  provider: ProviderId;
  stamp: DigestStamp;
  now: Date;
}

/** The fields a stored row is placed in its digest by. */
const storedKeySchema = z.object({
  accountId: z.string(),
  campaignId: z.string(),
  date: z.string(),
  absent: z.object({ reason: z.string() }).nullish(),
});

/**
 * The live rows stored within `range`, by account and day. Unreadable documents, absent ones and
 * any not at their row's own id are left out: they are left to whoever wrote them, as before.
 */
async function storedDays(
  scope: DigestScope,
  range: DateRange,
): Promise<Map<string, Map<string, DayState>>> {
  const accounts = new Map<string, Map<string, DayState>>();
  const query = metricsInWindowQuery(scope.db, scope.userId, scope.provider, range, PAGE);
  for (let page = await query.get(); ; page = await query.startAfter(page.docs.at(-1)!).get()) {
    for (const doc of page.docs) {
      const data = doc.data();
      const key = storedKeySchema.safeParse(data);
      if (
        !key.success ||
        key.data.absent ||
        doc.id !== metricDocId({ provider: scope.provider, ...key.data })
      ) {
        continue;
      }
      const days = accounts.get(key.data.accountId) ?? new Map<string, DayState>();
      accounts.set(key.data.accountId, days);
      const day = days.get(key.data.date) ?? new Map<string, string>();
      days.set(key.data.date, day);
      day.set(key.data.campaignId, storedRowHash(data));
    }
    if (page.size < PAGE) {
      return accounts;
    }
  }
}

const sameDays = (a: Map<string, DayState>, b: Map<string, DayState>): boolean =>
  a.size === b.size &&
  [...a].every(([date, day]) => {
    const other = b.get(date);
    return (
      other?.size === day.size && [...day].every(([campaign, hash]) => other.get(campaign) === hash)
    );
  });

/**
 * Rebuilds every account's digest of `month` for the days `days` from the stored rows (the
 * whole month when any digest of it is unreadable), keeping its other days as they are.
 */
export async function rebuildMonth(
  scope: DigestScope,
  month: string,
  days: DateRange,
): Promise<void> {
  const { db, userId, provider } = scope;
  const listed = await digestIdsQuery(
    db,
    userId,
    provider,
    { first: month, last: month },
    true,
  ).get();
  const snapshots = new Map<string, Map<number, DocumentSnapshot>>();
  for (const doc of listed.docs) {
    const id = parseDigestId(doc.id);
    if (id?.month === month) {
      const byShard = snapshots.get(id.accountId) ?? new Map<number, DocumentSnapshot>();
      snapshots.set(id.accountId, byShard.set(id.shard, doc));
    }
  }
  const refOf = (accountId: string) => (shard: number) =>
    digestRef(db, userId, provider, month, accountId, shard);
  const existing = new Map(
    [...snapshots].map(([accountId, byShard]) => [
      accountId,
      assembleMonth(accountId, month, byShard, refOf(accountId)),
    ]),
  );
  const scan = [...existing.values()].includes(undefined) ? monthRange(month) : days;
  const stored = await storedDays(scope, scan);

  for (const accountId of new Set([...existing.keys(), ...stored.keys()])) {
    const old = existing.get(accountId);
    const digest = old
      ? { ...old, days: new Map([...old.days].filter(([date]) => !inRange(date, scan))) }
      : unreadableOrNew(accountId, month, snapshots.get(accountId), refOf(accountId));
    stored.get(accountId)?.forEach((day, date) => digest.days.set(date, day));
    if (old && sameDays(old.days, digest.days)) {
      continue;
    }
    const campaigns = new Map([...digest.days].map(([date, day]) => [date, day.keys()]));
    await rewriteMonth(
      db,
      digest,
      shardsFor(campaigns, digest.shards),
      scope.stamp,
      refOf(accountId),
    );
  }
}

/**
 * An empty digest to write an account's month into: over the shard documents found (an
 * unreadable digest, every one of them replaced at the version read), or a new one.
 */
function unreadableOrNew(
  accountId: string,
  month: string,
  found: ReadonlyMap<number, DocumentSnapshot> | undefined,
  refOf: (shard: number) => ReturnType<typeof digestRef>,
): MonthDigest {
  let shards = 1;
  while (shards <= Math.max(0, ...(found?.keys() ?? []))) {
    shards *= 2;
  }
  const docs = Array.from({ length: shards }, (_, shard) => {
    const updateTime = found?.get(shard)?.updateTime;
    return updateTime ? { ref: refOf(shard), updateTime } : { ref: refOf(shard) };
  });
  return { accountId, month, shards, docs, days: new Map() };
}

const coverageSchema = z.object({ coveredSince: z.iso.date() });

/** Rounds of read-extend-write before a coverage race is given up (the job then retries). */
const EXTEND_ROUNDS = 3;

/** How far back the provider's digests describe every stored row (see the module comment). */
export class Coverage {
  private loaded = false;
  private since: string | undefined;
  private updateTime: Timestamp | undefined;

  constructor(private readonly scope: DigestScope) {}

  private get ref() {
    return digestsOf(this.scope.db, this.scope.userId).doc(this.scope.provider);
  }

  /**
   * Makes the digests describe every stored row dated `range.since` or later. Two jobs of one
   * integration may extend it at once (a backfill and the first sync): the coverage document is
   * written only if unchanged since read, and the loser reads it again — the other's coverage
   * may already reach far enough — and tries again (its rebuilt months are rebuilt from the
   * rows, so doing one twice is harmless).
   */
  async extendTo(range: DateRange): Promise<void> {
    for (let round = 1; ; round += 1) {
      try {
        await this.extendOnce(range);
        return;
      } catch (error) {
        if (
          !hasFirestoreCode(error, "ALREADY_EXISTS", "FAILED_PRECONDITION") ||
          round >= EXTEND_ROUNDS
        ) {
          throw error;
        }
        this.loaded = false;
      }
    }
  }

  private async extendOnce(range: DateRange): Promise<void> {
    if (!this.loaded) {
      const snapshot = await this.ref.get();
      const parsed = coverageSchema.safeParse(snapshot.data());
      this.since = parsed.success ? parsed.data.coveredSince : undefined;
      this.updateTime = snapshot.updateTime;
      this.loaded = true;
    }
    if (this.since !== undefined && range.since >= this.since) {
      return;
    }
    // Never covered: every day from `since` on, up to the last one any zone has started.
    const tomorrow = dayAfter(this.scope.now.toISOString().slice(0, 10));
    const rebuild = {
      since: range.since,
      until:
        this.since !== undefined
          ? dayBefore(this.since)
          : range.until > tomorrow
            ? range.until
            : tomorrow,
    };
    for (const month of monthsOf(rebuild)) {
      await rebuildMonth(this.scope, month, withinMonth(rebuild, month));
    }
    const data = {
      provider: this.scope.provider,
      coveredSince: range.since,
      syncedAt: this.scope.stamp.syncedAt,
      jobId: this.scope.stamp.jobId,
    };
    const batch = this.scope.db.batch();
    if (this.updateTime) {
      batch.update(this.ref, data, { lastUpdateTime: this.updateTime });
    } else {
      batch.create(this.ref, data);
    }
    const [result] = await batch.commit();
    this.updateTime = result?.writeTime;
    this.since = range.since;
  }
}
