/**
 * Conformance: transactions. Written against Firestore's documented behaviour, so it must pass
 * against any correct Firestore server; the suite runs it on the official emulator. Server client libraries get serializable transactions: "A read-write
 * transaction obtains a pessimistic lock on all documents that are read during the transaction.
 * These locks block other transactions, batched writes, and other non-transactional writes ...
 * If a read-write transaction fails with contention, the transaction is retried up to five times.
 * The updateFunction is invoked once for each attempt."
 * (https://firebase.google.com/docs/reference/admin/node/firebase-admin.firestore.firestore#firestoreruntransaction)
 */
import { status } from "@grpc/grpc-js";

import { testFirestore } from "../harness/firestore";
import { deferred, expectNoneApplied } from "./helpers";

// The official emulator resolves some lock conflicts only by a lock timeout of about 30 s
// (https://firebase.google.com/docs/emulator-suite/connect_firestore#how_the_emulator_differs_from_production:
// "In some cases, locks may take up to 30 seconds to be released"), so contention tests get room
// for a few of those.
jest.setTimeout(120_000);

const firestore = testFirestore("cf-tx");
const { db } = firestore;
afterAll(() => firestore.close());

const collection = () => db.collection("transactions");

test("20 concurrent read-modify-write transactions on one document all take effect", async () => {
  const counter = collection().doc();
  await counter.set({ count: 0 });

  await Promise.all(
    Array.from({ length: 20 }, () =>
      db.runTransaction(async (tx) => {
        const snapshot = await tx.get(counter);
        tx.update(counter, { count: (snapshot.get("count") as number) + 1 });
      }),
    ),
  );

  expect((await counter.get()).get("count")).toBe(20);
});

test("10 concurrent get-or-create transactions create the document exactly once", async () => {
  const lazy = collection().doc();

  const creators = await Promise.all(
    Array.from({ length: 10 }, (_, i) =>
      db.runTransaction(async (tx) => {
        const snapshot = await tx.get(lazy);
        if (snapshot.exists) {
          tx.update(lazy, { count: (snapshot.get("count") as number) + 1 });
          return undefined;
        }
        tx.create(lazy, { count: 1, createdBy: i });
        return i;
      }),
    ),
  );

  const created = creators.filter((creator) => creator !== undefined);
  expect(created).toHaveLength(1);
  expect((await lazy.get()).data()).toEqual({ count: 10, createdBy: created[0] });
});

test("contending transactions abort and are retried on the latest value: no update is lost", async () => {
  // Firestore resolves contention by aborting (ABORTED) one side; the client library then runs
  // the update function again, on what the winner committed. Five transactions read the same
  // document, then all wait until every one has read it, so at most one can commit its first
  // attempt: the others must have been retried, and the final balance counts each exactly once.
  const account = collection().doc();
  await account.set({ balance: 0 });
  const contenders = 5;
  const firstReads = deferred();
  let reads = 0;
  const seen: number[][] = Array.from({ length: contenders }, () => []);
  await Promise.all(
    seen.map((attempts) =>
      db.runTransaction(async (tx) => {
        const balance = (await tx.get(account)).get("balance") as number;
        attempts.push(balance);
        if (attempts.length === 1) {
          reads += 1;
          if (reads === contenders) {
            firstReads.resolve();
          }
          await firstReads.promise;
        }
        tx.update(account, { balance: balance + 1 });
      }),
    ),
  );
  expect((await account.get()).get("balance")).toBe(contenders);
  const retried = seen.filter((attempts) => attempts.length > 1);
  expect(retried.length).toBeGreaterThanOrEqual(contenders - 1);
  // Serializable: the attempts that committed read 0, 1, …, n-1, each on the one before it (a
  // retry may read the same value again when every contender was aborted in that round).
  expect(seen.map((attempts) => attempts.at(-1)).sort()).toEqual(
    Array.from({ length: contenders }, (_, i) => i),
  );
});

test("a transaction whose last write is create() of an existing document applies none of its writes", async () => {
  const read = collection().doc();
  const fresh = collection().doc();
  const existing = collection().doc();
  await Promise.all([read.set({ v: 0 }), existing.set({ v: 0 })]);

  const attempt = db.runTransaction(async (tx) => {
    const snapshot = await tx.get(read);
    tx.update(read, { v: (snapshot.get("v") as number) + 1 });
    tx.set(fresh, { v: 1 });
    tx.create(existing, { v: 1 });
  });

  await expectNoneApplied(attempt, status.ALREADY_EXISTS, [
    [read, { v: 0 }],
    [fresh, undefined],
    [existing, { v: 0 }],
  ]);
});

test("a transaction whose last write is update() of a missing document applies none of its writes", async () => {
  const read = collection().doc();
  const missing = collection().doc();
  await read.set({ v: 0 });

  const attempt = db.runTransaction(async (tx) => {
    const snapshot = await tx.get(read);
    tx.set(read, { v: (snapshot.get("v") as number) + 1 });
    tx.update(missing, { v: 1 });
  });

  await expectNoneApplied(attempt, status.NOT_FOUND, [
    [read, { v: 0 }],
    [missing, undefined],
  ]);
});

test("a read-only transaction reads one consistent snapshot", async () => {
  const doc = collection().doc();
  await doc.set({ v: 1 });

  // Read-only transactions "do not lock documents. They can be used to read documents at a
  // consistent snapshot in time" (runTransaction reference), so the write below does not wait,
  // and the second read still sees the first read's snapshot.
  const reads = await db.runTransaction(
    async (tx) => {
      const first = (await tx.get(doc)).get("v") as number;
      await doc.set({ v: 2 });
      const second = (await tx.get(doc)).get("v") as number;
      return [first, second];
    },
    { readOnly: true },
  );

  expect(reads).toEqual([1, 1]);
  expect((await doc.get()).get("v")).toBe(2);
});
