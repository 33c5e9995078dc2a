/**
 * Storing and reconciling metrics against the official Firestore emulator: unchanged rows cost no
 * write; rows the platform stopped returning in a fully fetched window are zeroed and marked,
 * never deleted; a failed account's rows and rows outside the window are never touched; money past
 * 2^53 micros is stored exactly; a spend the platform did not send is never stored as 0.
 */
import { Firestore } from "@google-cloud/firestore";

import { metricDocId, METRICS_COLLECTION } from "../../../src/metrics/store";
import type { MetricRow } from "../../../src/providers/types";
import { type TestFirestore, testFirestore } from "../../harness/firestore";
import { storer } from "./storing";

let firestore: TestFirestore;
/** The same project through a client that decodes int64 as bigint (`useBigInt`). */
let exactDb: Firestore;
let users = 0;

beforeAll(() => {
  firestore = testFirestore("metrics-store");
  exactDb = new Firestore({ projectId: firestore.projectId, useBigInt: true });
});
afterAll(async () => {
  await exactDb.terminate();
  await firestore.close();
});

const row = (accountId: string, campaignId: string, date: string, clicks = 5): MetricRow => ({
  provider: "google",
  accountId,
  campaignId,
  campaignName: `Campaign ${campaignId}`,
  date,
  timeZone: "America/Los_Angeles",
  currency: "USD",
  impressions: clicks * 10,
  clicks,
  spendMicros: BigInt(clicks) * 1_000_000n,
  conversions: 1.5,
  conversionValueMicros: 2_500_000n,
});

const range = { since: "2026-11-20", until: "2026-11-27" };
const ok = (accountId: string) => ({ accountId, status: "ok" as const, range });
const failed = (accountId: string) => ({ accountId, status: "failed" as const });

const stored = async (userId: string, r: MetricRow) =>
  (
    await firestore.db.collection(`users/${userId}/${METRICS_COLLECTION}`).doc(metricDocId(r)).get()
  ).data();

const exactSpend = async (userId: string, r: MetricRow) =>
  (await exactDb.doc(`users/${userId}/${METRICS_COLLECTION}/${metricDocId(r)}`).get()).get(
    "spendMicros",
  ) as unknown;

const store = storer(() => firestore.db);

describe("storeMetrics", () => {
  it("writes new and changed rows, and nothing for unchanged ones", async () => {
    const userId = `metrics-${(users += 1)}`;
    const rows = [row("1", "10", "2026-11-26"), row("1", "10", "2026-11-27")];
    expect(await store(userId, rows, [ok("1")])).toEqual({ written: 2, unchanged: 0, zeroed: 0 });
    const restated = [rows[0]!, row("1", "10", "2026-11-27", 7)];
    expect(await store(userId, restated, [ok("1")])).toEqual({
      written: 1,
      unchanged: 1,
      zeroed: 0,
    });
    expect(await stored(userId, restated[1]!)).toMatchObject({ clicks: 7, jobId: "job-1" });
  });

  it("zeroes and marks a row the platform no longer returns, keeping its names, once", async () => {
    const userId = `metrics-${(users += 1)}`;
    const gone = row("1", "11", "2026-11-25");
    const kept = row("1", "10", "2026-11-25");
    await store(userId, [gone, kept], [ok("1")]);
    // Google omits all-zero rows; a deleted campaign is not returned at all.
    expect(await store(userId, [kept], [ok("1")], "job-2")).toEqual({
      written: 0,
      unchanged: 1,
      zeroed: 1,
    });
    expect(await stored(userId, gone)).toMatchObject({
      campaignName: "Campaign 11",
      impressions: 0,
      clicks: 0,
      spendMicros: 0,
      conversions: 0,
      conversionValueMicros: 0,
      absent: { reason: "not_returned" },
      jobId: "job-2",
    });
    // Already marked: the next run writes nothing.
    expect(await store(userId, [kept], [ok("1")], "job-3")).toEqual({
      written: 0,
      unchanged: 1,
      zeroed: 0,
    });
    // Returned again (a restatement brought it back): written whole, without the mark.
    expect(await store(userId, [gone, kept], [ok("1")], "job-4")).toMatchObject({ written: 1 });
    const back = await stored(userId, gone);
    expect(back).toMatchObject({ clicks: 5, jobId: "job-4" });
    expect(back).not.toHaveProperty("absent");
  });

  it("never touches a failed account's rows, nor rows outside the window", async () => {
    const userId = `metrics-${(users += 1)}`;
    const failedRow = row("2", "20", "2026-11-26");
    const old = row("1", "10", "2026-11-19");
    await store(userId, [failedRow, old], [ok("1"), ok("2")]);
    expect(await store(userId, [], [ok("1"), failed("2")])).toEqual({
      written: 0,
      unchanged: 0,
      zeroed: 0,
    });
    expect(await stored(userId, failedRow)).toMatchObject({ clicks: 5 });
    expect(await stored(userId, old)).toMatchObject({ clicks: 5 });
  });

  it("zeroes the window's rows of an account the integration no longer holds", async () => {
    const userId = `metrics-${(users += 1)}`;
    const removed = row("3", "30", "2026-11-24");
    const removedOld = row("3", "30", "2026-11-01");
    await store(userId, [removed, removedOld, row("1", "10", "2026-11-24")], [ok("1"), ok("3")]);
    expect(await store(userId, [row("1", "10", "2026-11-24")], [ok("1")])).toEqual({
      written: 0,
      unchanged: 1,
      zeroed: 1,
    });
    expect(await stored(userId, removed)).toMatchObject({
      clicks: 0,
      absent: { reason: "account_removed" },
    });
    expect(await stored(userId, removedOld)).toMatchObject({ clicks: 5 });
  });

  it("reconciles a window of more rows than one query page", async () => {
    const userId = `metrics-${(users += 1)}`;
    const days = ["2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23"];
    const rows = days.flatMap((date) =>
      Array.from({ length: 300 }, (_, i) => row("1", String(1_000 + i), date)),
    );
    expect(await store(userId, rows, [ok("1")])).toMatchObject({ written: 1_200 });
    // Campaigns 1000–1099 are deleted: 400 rows vanish from the re-pulled window.
    const remaining = rows.filter((r) => Number(r.campaignId) >= 1_100);
    expect(await store(userId, remaining, [ok("1")])).toEqual({
      written: 0,
      unchanged: 800,
      zeroed: 400,
    });
  });

  it("stores money past 2^53 micros exactly, as int64", async () => {
    const userId = `metrics-${(users += 1)}`;
    // 9,007,199,254.750123 IDR: past a double's exact integers.
    const large = { ...row("1", "10", "2026-11-26"), spendMicros: 9_007_199_254_750_123n };
    const small = row("1", "11", "2026-11-26");
    await store(userId, [large, small], [ok("1")]);
    // Read exactly through a client that decodes int64 as bigint.
    expect(await exactSpend(userId, large)).toBe(9_007_199_254_750_123n);
    expect(await exactSpend(userId, small)).toBe(5_000_000n);
    // The default client reads the large amount back rounded, but the digest compares the exact
    // amount: neither row is rewritten; a changed large amount is.
    expect(await store(userId, [large, small], [ok("1")])).toEqual({
      written: 0,
      unchanged: 2,
      zeroed: 0,
    });
    const larger = { ...large, spendMicros: large.spendMicros + 1n };
    expect(await store(userId, [larger, small], [ok("1")])).toEqual({
      written: 1,
      unchanged: 1,
      zeroed: 0,
    });
    expect(await exactSpend(userId, large)).toBe(9_007_199_254_750_124n);
  });

  it("never writes a spend the platform did not send as 0, and marks the row", async () => {
    const userId = `metrics-${(users += 1)}`;
    const known = row("1", "10", "2026-11-26");
    await store(userId, [known], [ok("1")]);
    const noCost = { ...known, clicks: 6, spendMicros: null };
    expect(await store(userId, [noCost], [ok("1")])).toMatchObject({ written: 1 });
    expect(await stored(userId, known)).toMatchObject({
      clicks: 6,
      spendMicros: 5_000_000,
      spendMissing: true,
    });
    expect(await store(userId, [noCost], [ok("1")])).toMatchObject({ written: 0, unchanged: 1 });
    expect(await store(userId, [known], [ok("1")])).toMatchObject({ written: 1 });
    expect(await stored(userId, known)).not.toHaveProperty("spendMissing");
  });
});
