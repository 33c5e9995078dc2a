import { status } from "@grpc/grpc-js";

import {
  type Transaction,
  Transactions,
  type TransactionSettings,
} from "../../../dev/firestore/transactions";
import { DB, thrownCode } from "./build";

const LONG = 10_000;
const SHORT = 20;
const readWrite = { retrying: undefined };

const begin = (transactions: Transactions, count: number) =>
  Array.from({ length: count }, () => transactions.begin(DB, readWrite));

function setUp(settings: Partial<TransactionSettings> = {}) {
  return new Transactions({ lockWaitTimeoutMs: LONG, idleTimeoutMs: LONG, ...settings });
}

test("a younger transaction waits for the lock; it gets it when the holder ends", async () => {
  const transactions = setUp();
  const [older, younger] = begin(transactions, 2) as [Transaction, Transaction];
  await transactions.lock(older, ["doc"]);

  const waiting = transactions.lock(younger, ["doc"]);
  expect(younger.locks.has("doc")).toBe(false);
  transactions.end(older, "committed");
  await waiting;
  expect(younger.locks.has("doc")).toBe(true);
});

test("an older transaction wounds the younger holder, whose next request is ABORTED", async () => {
  const transactions = setUp();
  const [older, younger] = begin(transactions, 2) as [Transaction, Transaction];
  await transactions.lock(younger, ["doc"]);

  await transactions.lock(older, ["doc"]);
  expect(older.locks.has("doc")).toBe(true);
  expect(thrownCode(() => transactions.find(DB, younger.id))).toBe(status.ABORTED);
  // A retry keeps the original age, so it wins against transactions begun since.
  expect(transactions.begin(DB, { retrying: younger.id }).age).toBe(younger.age);
});

test("waiters get the lock oldest first", async () => {
  const transactions = setUp();
  const [holder, first, second, third] = begin(transactions, 4);
  await transactions.lock(holder as Transaction, ["doc"]);
  const granted: Transaction[] = [];
  const waits = [third, first, second].map(async (transaction) => {
    await transactions.lock(transaction as Transaction, ["doc"]);
    granted.push(transaction as Transaction);
    transactions.end(transaction as Transaction, "committed");
  });

  transactions.end(holder as Transaction, "committed");
  await Promise.all(waits);
  expect(granted).toEqual([first, second, third]);
});

test("a lock wait times out with ABORTED and releases the waiter's locks", async () => {
  const transactions = setUp({ lockWaitTimeoutMs: SHORT });
  const [holder, waiter, other] = begin(transactions, 3) as [Transaction, Transaction, Transaction];
  await transactions.lock(holder, ["a"]);
  await transactions.lock(waiter, ["b"]);

  await expect(transactions.lock(waiter, ["a"])).rejects.toMatchObject({ code: status.ABORTED });
  await transactions.lock(other, ["b"]);
  expect(other.locks.has("b")).toBe(true);
});

test("an idle transaction expires and releases its locks", async () => {
  const transactions = setUp({ idleTimeoutMs: SHORT });
  const [idle, next] = begin(transactions, 2) as [Transaction, Transaction];
  await transactions.lock(idle, ["doc"]);

  // `next` is waiting, not idle: it outlives `idle` and gets the lock.
  await transactions.lock(next, ["doc"]);
  expect(next.locks.has("doc")).toBe(true);
  expect(thrownCode(() => transactions.find(DB, idle.id))).toBe(status.ABORTED);
});
