/**
 * The metric digests against the official Firestore emulator, with every read, write and commit
 * of the client counted (`harness/firestore-meter.ts`): a re-run over unchanged data reads a few
 * digest documents per account and writes nothing; a change writes exactly its rows; rows the platform
 * stopped returning are found through the digests; rows stored before the digests, and a digest
 * that cannot be read, fall back to reading the rows; a crash between commits leaves every
 * digest describing exactly the rows committed; a month of many campaigns is split in shards.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { DIGESTS_COLLECTION, storedRowHash } from "../../../src/metrics/digest";
import { metricDocId, METRICS_COLLECTION } from "../../../src/metrics/store";
import type { MetricRow } from "../../../src/providers/types";
import { type TestFirestore, testFirestore } from "../../harness/firestore";
import { type FirestoreMeter, meterFirestore } from "../../harness/firestore-meter";
import { storer } from "./storing";

let firestore: TestFirestore;
let meter: FirestoreMeter;
let users = 0;

beforeAll(() => {
  firestore = testFirestore("metric-digests");
  meter = meterFirestore(firestore.db);
});
afterAll(async () => {
  meter.restore();
  await firestore.close();
});

const RANGE = { since: "2026-11-20", until: "2026-11-27" };
const DAYS = ["2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23", "2026-11-24"];
const ok = (accountId: string, range = RANGE) => ({ accountId, status: "ok" as const, range });

const row = (accountId: string, campaignId: string, date: string, clicks = 5): MetricRow => ({
  provider: "google",
  accountId,
  campaignId,
  campaignName: `Campaign ${campaignId.slice(-4)}`,
  date,
  timeZone: "Europe/Paris",
  currency: "EUR",
  impressions: clicks * 10,
  clicks,
  spendMicros: BigInt(clicks) * 1_250_000n,
  conversions: 0.5,
  conversionValueMicros: 3_000_000n,
});

/** Every campaign of every account on every day. */
const grid = (accounts: string[], campaigns: number, days = DAYS, id = (i: number) => `${i}`) =>
  accounts.flatMap((accountId) =>
    days.flatMap((date) =>
      Array.from({ length: campaigns }, (_, i) => row(accountId, id(100 + i), date)),
    ),
  );

const store = storer(() => firestore.db);

/** What `store` costs, counted from a clean meter. */
async function metered(run: () => Promise<unknown>) {
  meter.reset();
  const result = await run();
  return { result, usage: meter.usage() };
}

const metrics = (userId: string) =>
  firestore.db.collection(`users/${userId}/${METRICS_COLLECTION}`);
const digests = (userId: string) =>
  firestore.db.collection(`users/${userId}/${DIGESTS_COLLECTION}`);

const stored = async (userId: string, r: MetricRow) =>
  (await metrics(userId).doc(metricDocId(r)).get()).data();

/** Rows written before digests existed: the digests (and the coverage mark) deleted. */
async function forgetDigests(userId: string) {
  const docs = (await digests(userId).get()).docs;
  await Promise.all(docs.map((doc) => doc.ref.delete()));
}

/**
 * Every digest entry is a live stored row with that hash, and every live stored row has its
 * entry: the digests describe exactly what is committed.
 */
async function expectDigestsMatchRows(userId: string) {
  const rows = (await metrics(userId).get()).docs
    .filter((doc) => doc.get("absent") === undefined)
    .map(
      (doc) =>
        `${doc.get("accountId")} ${doc.get("date")} ${doc.get("campaignId")} ${storedRowHash(doc.data())}`,
    );
  const entries = (await digests(userId).get()).docs.flatMap((doc) =>
    Object.entries((doc.get("days") as Record<string, string> | undefined) ?? {}).flatMap(
      ([date, text]) =>
        text === ""
          ? []
          : text.split(",").map((entry) => {
              const [campaign, hash] = entry.split(":");
              return `${doc.get("accountId")} ${date} ${decodeURIComponent(campaign!)} ${hash}`;
            }),
    ),
  );
  expect(entries.sort()).toEqual(rows.sort());
}

describe("metric digests", () => {
  it("exempts the digests' day map and stamps from single-field indexing", () => {
    const { fieldOverrides } = JSON.parse(
      readFileSync(join(__dirname, "../../../../firestore.indexes.json"), "utf8"),
    ) as { fieldOverrides: Array<{ collectionGroup: string; fieldPath: string; indexes: [] }> };
    const exempt = fieldOverrides
      .filter((o) => o.collectionGroup === DIGESTS_COLLECTION && o.indexes.length === 0)
      .map((o) => o.fieldPath);
    expect(exempt.sort()).toEqual(["days", "jobId", "syncedAt"]);
  });

  it("re-runs over unchanged data reading a few documents per account, writing nothing", async () => {
    for (const accounts of [
      ["1", "2", "3"],
      ["1", "2", "3", "4", "5", "6"],
    ]) {
      const userId = `digests-${(users += 1)}`;
      // The same 1,200 rows, over 3 accounts or over 6.
      const rows = grid(accounts, 240 / accounts.length);
      await store(
        userId,
        rows,
        accounts.map((id) => ok(id)),
      );
      const { result, usage } = await metered(() =>
        store(
          userId,
          rows,
          accounts.map((id) => ok(id)),
          "job-2",
        ),
      );
      expect(result).toEqual({ written: 0, unchanged: 1_200, zeroed: 0 });
      expect(usage).toMatchObject({ writes: 0, commits: 0 });
      expect(usage.readsIn[METRICS_COLLECTION]).toBeUndefined();
      // The coverage mark, then each account's digest of the month read and listed.
      expect(usage.reads).toBe(1 + 2 * accounts.length);
    }
  });

  it("writes only the rows of a restated day, and the digest with them", async () => {
    const userId = `digests-${(users += 1)}`;
    const rows = grid(["1"], 20);
    await store(userId, rows, [ok("1")]);
    const restated = rows.map((r) => (r.date === "2026-11-22" ? { ...r, clicks: 9 } : r));
    const { result, usage } = await metered(() => store(userId, restated, [ok("1")], "job-2"));
    expect(result).toEqual({ written: 20, unchanged: 80, zeroed: 0 });
    expect(usage.readsIn[METRICS_COLLECTION]).toBeUndefined();
    expect(usage.writesIn).toEqual({ [METRICS_COLLECTION]: 20, metricDigests: 1 });
    expect(usage.commits).toBe(1);
    const jobs = (await metrics(userId).get()).docs.map(
      (d) => `${d.get("date")} ${d.get("jobId")}`,
    );
    expect(new Set(jobs)).toEqual(
      new Set(DAYS.map((date) => `${date} ${date === "2026-11-22" ? "job-2" : "job-1"}`)),
    );
    await expectDigestsMatchRows(userId);
  });

  it("zeroes rows the platform stopped returning, and a removed account's, through the digests", async () => {
    const userId = `digests-${(users += 1)}`;
    const rows = grid(["1", "2"], 10);
    await store(userId, rows, [ok("1"), ok("2")]);
    const gone = row("1", "104", "2026-11-23");
    const returned = rows.filter(
      (r) => r.accountId === "1" && metricDocId(r) !== metricDocId(gone),
    );
    const { result, usage } = await metered(() => store(userId, returned, [ok("1")], "job-2"));
    expect(result).toEqual({ written: 0, unchanged: 49, zeroed: 51 });
    expect(usage.readsIn[METRICS_COLLECTION]).toBeUndefined();
    expect(usage.writesIn[METRICS_COLLECTION]).toBe(51);
    expect(await stored(userId, gone)).toMatchObject({
      campaignName: "Campaign 104",
      clicks: 0,
      absent: { reason: "not_returned" },
    });
    expect(await stored(userId, row("2", "100", "2026-11-20"))).toMatchObject({
      clicks: 0,
      absent: { reason: "account_removed" },
    });
    await expectDigestsMatchRows(userId);
    // Marked once: the next run writes nothing.
    const again = await metered(() => store(userId, returned, [ok("1")], "job-3"));
    expect(again.result).toEqual({ written: 0, unchanged: 49, zeroed: 0 });
    expect(again.usage.writes).toBe(0);
  });

  it("falls back to the rows stored before the digests, then writes the digests", async () => {
    const userId = `digests-${(users += 1)}`;
    const large = { ...row("1", "900", "2026-11-21"), spendMicros: 9_007_199_254_750_123n };
    const rows = [...grid(["1", "2"], 10), large];
    await store(userId, rows, [ok("1"), ok("2")]);
    const marked = row("1", "101", "2026-11-20");
    await store(
      userId,
      rows.filter((r) => metricDocId(r) !== metricDocId(marked)),
      [ok("1"), ok("2")],
    );
    await forgetDigests(userId);

    // Account 2 removed, one row restated, one no longer returned, the marked one still absent.
    const restated = row("1", "102", "2026-11-22", 8);
    const gone = row("1", "103", "2026-11-24");
    const next = rows.filter(
      (r) =>
        r.accountId === "1" &&
        ![restated, gone, marked].some((other) => metricDocId(other) === metricDocId(r)),
    );
    const { result, usage } = await metered(() =>
      store(userId, [...next, restated], [ok("1")], "job-2"),
    );
    // The large amount reads back rounded: rewritten once, as the row-by-row store always did.
    expect(result).toEqual({ written: 2, unchanged: 47, zeroed: 51 });
    expect(usage.readsIn[METRICS_COLLECTION]).toBe(rows.length);
    expect(await stored(userId, gone)).toMatchObject({ absent: { reason: "not_returned" } });
    expect(await stored(userId, row("2", "105", "2026-11-21"))).toMatchObject({
      absent: { reason: "account_removed" },
    });
    expect(await stored(userId, restated)).toMatchObject({ clicks: 8, jobId: "job-2" });

    const after = await metered(() => store(userId, [...next, restated], [ok("1")], "job-3"));
    expect(after.result).toEqual({ written: 0, unchanged: 49, zeroed: 0 });
    expect(after.usage.readsIn[METRICS_COLLECTION]).toBeUndefined();
    expect(after.usage.writes).toBe(0);
  });

  it("reads the rows of days further back than the digests cover, once", async () => {
    const userId = `digests-${(users += 1)}`;
    const early = row("1", "100", "2026-11-05");
    const late = row("1", "100", "2026-11-22");
    await store(userId, [early, late], [ok("1", { since: "2026-11-01", until: "2026-11-27" })]);
    await forgetDigests(userId);
    // The usual window first: it covers its own days only.
    expect(await store(userId, [late], [ok("1")], "job-2")).toEqual({
      written: 0,
      unchanged: 1,
      zeroed: 0,
    });
    // A longer window reaches a row stored before the digests, and the platform no longer has it.
    const longer = { since: "2026-11-01", until: "2026-11-27" };
    const { result, usage } = await metered(() =>
      store(userId, [late], [ok("1", longer)], "job-3"),
    );
    expect(result).toEqual({ written: 0, unchanged: 1, zeroed: 1 });
    expect(usage.readsIn[METRICS_COLLECTION]).toBe(1);
    expect(await stored(userId, early)).toMatchObject({ absent: { reason: "not_returned" } });
    const again = await metered(() => store(userId, [late], [ok("1", longer)], "job-4"));
    expect(again.usage.readsIn[METRICS_COLLECTION]).toBeUndefined();
  });

  it("rebuilds a digest it cannot read from the rows, losing nothing", async () => {
    const userId = `digests-${(users += 1)}`;
    const rows = grid(["1"], 10);
    await store(userId, rows, [ok("1")]);
    const [digest] = (await digests(userId).where("accountId", "==", "1").get()).docs;
    await digest!.ref.update({ days: "not a map" });
    const gone = rows[0]!;
    const { result, usage } = await metered(() => store(userId, rows.slice(1), [ok("1")], "job-2"));
    expect(result).toEqual({ written: 0, unchanged: 49, zeroed: 1 });
    expect(usage.readsIn[METRICS_COLLECTION]).toBe(rows.length);
    expect(await stored(userId, gone)).toMatchObject({ absent: { reason: "not_returned" } });
    await expectDigestsMatchRows(userId);
  });

  it("never leaves a digest ahead of (or behind) its rows when a commit fails mid-way", async () => {
    const userId = `digests-${(users += 1)}`;
    // 900 rows: three commits of rows and their digest days.
    const range = { since: "2026-11-20", until: "2026-11-28" };
    const rows = grid(["1"], 100, [...DAYS, "2026-11-25", "2026-11-26", "2026-11-27", range.until]);
    let commits = 0;
    meter.failCommit((collections) => collections.includes(METRICS_COLLECTION) && ++commits === 2);
    await expect(store(userId, rows, [ok("1", range)])).rejects.toThrow("simulated crash");
    const committed = (await metrics(userId).get()).size;
    expect(committed).toBeGreaterThan(0);
    expect(committed).toBeLessThan(rows.length);
    await expectDigestsMatchRows(userId);

    // The retry writes exactly what the crash left out.
    expect(await store(userId, rows, [ok("1", range)], "job-2")).toEqual({
      written: rows.length - committed,
      unchanged: committed,
      zeroed: 0,
    });
    await expectDigestsMatchRows(userId);

    // A crash while zeroing leaves the same guarantee.
    commits = 0;
    meter.failCommit((collections) => collections.includes(METRICS_COLLECTION) && ++commits === 2);
    const kept = rows.filter((r) => Number(r.campaignId) < 150);
    await expect(store(userId, kept, [ok("1", range)], "job-3")).rejects.toThrow("simulated crash");
    await expectDigestsMatchRows(userId);
    const retried = await store(userId, kept, [ok("1", range)], "job-4");
    expect(retried.unchanged).toBe(kept.length);
    const absent = (await metrics(userId).get()).docs.filter(
      (doc) => doc.get("absent.reason") === "not_returned",
    );
    expect(absent).toHaveLength(rows.length - kept.length);
    await expectDigestsMatchRows(userId);
  });

  it("splits a month of many campaigns into shards far under 1 MiB each", async () => {
    const userId = `digests-${(users += 1)}`;
    // 1,000-character campaign ids: 100 campaigns over five days need more than one document.
    const longId = (i: number) => `${"c".repeat(996)}${i}`;
    await store(userId, grid(["1"], 10, DAYS, longId), [ok("1")]);
    expect((await digests(userId).where("accountId", "==", "1").get()).size).toBe(1);
    const rows = grid(["1"], 100, DAYS, longId);
    expect(await store(userId, rows, [ok("1")], "job-2")).toEqual({
      written: 450,
      unchanged: 50,
      zeroed: 0,
    });
    const shards = (await digests(userId).where("accountId", "==", "1").get()).docs;
    expect(shards.length).toBeGreaterThan(1);
    for (const shard of shards) {
      expect(shard.get("shards")).toBe(shards.length);
      expect(JSON.stringify(shard.data()).length).toBeLessThan(300 * 1024);
    }
    await expectDigestsMatchRows(userId);

    const rerun = await metered(() => store(userId, rows, [ok("1")], "job-3"));
    expect(rerun.result).toEqual({ written: 0, unchanged: 500, zeroed: 0 });
    expect(rerun.usage.writes).toBe(0);
    expect(rerun.usage.reads).toBe(1 + 2 * shards.length);

    const changed = rows.map((r, i) => (i === 7 ? { ...r, clicks: 11 } : r));
    const one = await metered(() => store(userId, changed, [ok("1")], "job-4"));
    expect(one.usage.writesIn).toEqual({ [METRICS_COLLECTION]: 1, metricDigests: 1 });
    await expectDigestsMatchRows(userId);
  });
});
