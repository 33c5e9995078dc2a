/**
 * Conformance: writes, batches, preconditions and field transforms, as Firestore documents them
 * (https://firebase.google.com/docs/firestore/manage-data/add-data,
 * https://firebase.google.com/docs/firestore/manage-data/transactions#batched-writes and the
 * comments of google/firestore/v1/write.proto).
 */
import { status } from "@grpc/grpc-js";
import { FieldPath, FieldValue, Timestamp } from "firebase-admin/firestore";

import { testFirestore } from "../harness/firestore";
import { expectNoneApplied } from "./helpers";

const firestore = testFirestore("cf-writes");
const { db } = firestore;
afterAll(() => firestore.close());

const collection = () => db.collection("writes");

describe("atomic batches", () => {
  // "A batch of writes completes atomically ... either all of the operations succeed, or none
  // of them are applied."
  test("a batch whose last write is create() of an existing document applies none of its writes", async () => {
    const changed = collection().doc();
    const fresh = collection().doc();
    const existing = collection().doc();
    await Promise.all([changed.set({ v: 0 }), existing.set({ v: 0 })]);

    const batch = db
      .batch()
      .update(changed, { v: 1 })
      .set(fresh, { v: 1 })
      .create(existing, { v: 1 });

    await expectNoneApplied(batch.commit(), status.ALREADY_EXISTS, [
      [changed, { v: 0 }],
      [fresh, undefined],
      [existing, { v: 0 }],
    ]);
  });

  test("a batch whose last write is update() of a missing document applies none of its writes", async () => {
    const kept = collection().doc();
    const fresh = collection().doc();
    const missing = collection().doc();
    await kept.set({ v: 0 });

    const batch = db.batch().delete(kept).set(fresh, { v: 1 }).update(missing, { v: 1 });

    await expectNoneApplied(batch.commit(), status.NOT_FOUND, [
      [kept, { v: 0 }],
      [fresh, undefined],
      [missing, undefined],
    ]);
  });
});

describe("preconditions", () => {
  test("create() of an existing document fails with ALREADY_EXISTS; of 10 concurrent creates exactly one succeeds", async () => {
    const doc = collection().doc();
    const outcomes = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => doc.create({ by: i })),
    );

    const created = outcomes.filter((outcome) => outcome.status === "fulfilled");
    const rejected = outcomes.filter((outcome) => outcome.status === "rejected");
    expect(created).toHaveLength(1);
    expect(rejected.map((outcome) => (outcome.reason as { code: number }).code)).toEqual(
      Array<number>(9).fill(status.ALREADY_EXISTS),
    );
  });

  test("update() of a missing document fails with NOT_FOUND and creates nothing", async () => {
    const doc = collection().doc();
    await expect(doc.update({ v: 1 })).rejects.toMatchObject({ code: status.NOT_FOUND });
    expect((await doc.get()).exists).toBe(false);
  });

  test("update() with a lastUpdateTime precondition applies only to that version", async () => {
    const doc = collection().doc();
    await doc.set({ v: 1 });
    const version1 = (await doc.get()).updateTime as Timestamp;

    await doc.update({ v: 2 }, { lastUpdateTime: version1 });
    const stale = doc.update({ v: 3 }, { lastUpdateTime: version1 });

    await expect(stale).rejects.toMatchObject({ code: status.FAILED_PRECONDITION });
    expect((await doc.get()).get("v")).toBe(2);
  });

  test("delete() honours exists and lastUpdateTime preconditions", async () => {
    const doc = collection().doc();
    await expect(doc.delete({ exists: true })).rejects.toMatchObject({ code: status.NOT_FOUND });
    // Without a precondition, deleting a missing document succeeds.
    await doc.delete();

    await doc.set({ v: 1 });
    const version1 = (await doc.get()).updateTime as Timestamp;
    await doc.set({ v: 2 });
    await expect(doc.delete({ lastUpdateTime: version1 })).rejects.toMatchObject({
      code: status.FAILED_PRECONDITION,
    });
    expect((await doc.get()).exists).toBe(true);

    const version2 = (await doc.get()).updateTime as Timestamp;
    await doc.delete({ lastUpdateTime: version2 });
    expect((await doc.get()).exists).toBe(false);
  });

  test("a write's result carries the document's new update time", async () => {
    const doc = collection().doc();
    const result = await doc.set({ v: 1 });
    const snapshot = await doc.get();
    expect(result.writeTime.isEqual(snapshot.updateTime as Timestamp)).toBe(true);
    expect(snapshot.createTime?.isEqual(snapshot.updateTime as Timestamp)).toBe(true);

    await doc.update({ v: 2 });
    const updated = await doc.get();
    expect(updated.createTime?.isEqual(snapshot.createTime as Timestamp)).toBe(true);
    // Timestamp.valueOf() is a string that sorts in time order.
    expect(
      (updated.updateTime as Timestamp).valueOf() > (snapshot.updateTime as Timestamp).valueOf(),
    ).toBe(true);
  });
});

describe("field values and field paths", () => {
  test("serverTimestamp() gives every field written in one commit the same server time", async () => {
    const a = collection().doc();
    const b = collection().doc();
    const before = Date.now();
    await db
      .batch()
      .set(a, { at: FieldValue.serverTimestamp(), nested: { at: FieldValue.serverTimestamp() } })
      .set(b, { at: FieldValue.serverTimestamp() })
      .commit();
    const after = Date.now();

    const [snapA, snapB] = await db.getAll(a, b);
    const at = snapA?.get("at") as Timestamp;
    expect(at).toBeInstanceOf(Timestamp);
    // "If used on multiple fields (same or different documents) in a transaction, all the fields
    // will get the same server timestamp" (write.proto, ServerValue.REQUEST_TIME).
    expect(at.isEqual(snapA?.get("nested.at") as Timestamp)).toBe(true);
    expect(at.isEqual(snapB?.get("at") as Timestamp)).toBe(true);
    // A server clock, not the client's: allow a minute of skew either way.
    expect(at.toMillis()).toBeGreaterThanOrEqual(before - 60_000);
    expect(at.toMillis()).toBeLessThanOrEqual(after + 60_000);
  });

  test("increment() is atomic and follows integer/double arithmetic", async () => {
    const doc = collection().doc();
    await doc.set({ count: 0, price: 1, label: "x" });

    await Promise.all(
      Array.from({ length: 20 }, () => doc.update({ count: FieldValue.increment(1) })),
    );
    await doc.update({
      price: FieldValue.increment(0.5),
      label: FieldValue.increment(3),
      absent: FieldValue.increment(7),
    });

    // A non-numeric or missing field is set to the operand (write.proto, `increment`).
    expect((await doc.get()).data()).toEqual({ count: 20, price: 1.5, label: 3, absent: 7 });
  });

  test("arrayUnion() adds only missing elements; arrayRemove() removes every instance", async () => {
    const doc = collection().doc();
    await doc.set({ tags: ["a", "b", "b"], scores: [1, 2, 1, 3] });

    await doc.update({
      tags: FieldValue.arrayUnion("b", "c", "c"),
      scores: FieldValue.arrayRemove(1, 3),
      created: FieldValue.arrayUnion("x"),
      cleared: FieldValue.arrayRemove("x"),
    });

    expect((await doc.get()).data()).toEqual({
      tags: ["a", "b", "b", "c"],
      scores: [2],
      created: ["x"],
      cleared: [],
    });
  });

  test("FieldValue.delete() removes top-level and nested fields", async () => {
    const doc = collection().doc();
    await doc.set({ keep: 1, drop: 2, nested: { keep: 3, drop: 4 } });

    await doc.update({ drop: FieldValue.delete(), "nested.drop": FieldValue.delete() });
    expect((await doc.get()).data()).toEqual({ keep: 1, nested: { keep: 3 } });

    await doc.set({ keep: FieldValue.delete() }, { merge: true });
    expect((await doc.get()).data()).toEqual({ nested: { keep: 3 } });
  });

  test("update() with dotted paths changes only the named nested fields", async () => {
    const doc = collection().doc();
    await doc.set({ stats: { views: 1, likes: 2 }, title: "t" });

    await doc.update({ "stats.views": 10, "stats.shares.today": 1 });

    expect((await doc.get()).data()).toEqual({
      stats: { views: 10, likes: 2, shares: { today: 1 } },
      title: "t",
    });
  });

  test("a FieldPath segment may contain dots: it names one field, not a path", async () => {
    const doc = collection().doc();
    await doc.set({ "example.com": { visits: 1 }, example: { com: 5 } });

    await doc.update(new FieldPath("example.com", "visits"), 2);

    const snapshot = await doc.get();
    expect(snapshot.get(new FieldPath("example.com", "visits"))).toBe(2);
    expect(snapshot.get("example.com")).toBe(5);
  });

  test("set() replaces the document; set() with merge or mergeFields changes only the given fields", async () => {
    const doc = collection().doc();
    await doc.set({ a: 1, b: { c: 2, d: 3 } });

    await doc.set({ b: { c: 20 } }, { merge: true });
    expect((await doc.get()).data()).toEqual({ a: 1, b: { c: 20, d: 3 } });

    await doc.set({ a: 100, b: { d: 30 }, ignored: true }, { mergeFields: ["a", "b.d"] });
    expect((await doc.get()).data()).toEqual({ a: 100, b: { c: 20, d: 30 } });

    await doc.set({ only: true });
    expect((await doc.get()).data()).toEqual({ only: true });
  });
});
