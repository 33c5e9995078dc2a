/**
 * Conformance: transactions. Written against Firestore's documented behaviour, so it must pass
 * against any correct Firestore server (ours, or the official emulator via `npm run
 * test:emulator`). Server client libraries get serializable transactions: "A read-write
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
// for a few of those there. Against our server they take milliseconds.
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

test("a transaction whose read document is changed by another commit before it commits is retried and never overwrites that commit", async () => {
  const account = collection().doc();
  const other = collection().doc();
  await Promise.all([account.set({ balance: 0 }), other.set({ balance: 0 })]);

  // The "older" transaction begins first (its first read starts it), then waits until the
  // younger one has read `account`; only then does it read and write `account` itself. The
  // younger one waits for the older one's commit before it commits. Whatever the server's
  // concurrency control, the younger one cannot commit the balance it read: with pessimistic
  // locks the older transaction wins the conflict and aborts the younger (wound-wait, as in
  // Cloud Spanner: https://cloud.google.com/spanner/docs/concurrency-control), with optimistic
  // control the younger one's commit fails because its read is stale. Either way the client
  // runs the younger update function again, on the new balance.
  const olderBegan = deferred();
  const youngerRead = deferred();
  const older = db.runTransaction(async (tx) => {
    await tx.get(other);
    olderBegan.resolve();
    await youngerRead.promise;
    const snapshot = await tx.get(account);
    tx.update(account, { balance: (snapshot.get("balance") as number) + 10 });
  });
  await olderBegan.promise;

  const balancesSeenByYounger: number[] = [];
  const younger = db.runTransaction(async (tx) => {
    const snapshot = await tx.get(account);
    balancesSeenByYounger.push(snapshot.get("balance") as number);
    if (balancesSeenByYounger.length === 1) {
      youngerRead.resolve();
      await older;
    }
    tx.update(account, { balance: (snapshot.get("balance") as number) + 1 });
  });
  await Promise.all([older, younger]);

  expect(balancesSeenByYounger).toEqual([0, 10]);
  expect((await account.get()).get("balance")).toBe(11);
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
