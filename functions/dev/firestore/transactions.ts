/**
 * Transactions and document locks: pessimistic concurrency control, as the server client
 * libraries get from Firestore. "A read-write transaction obtains a pessimistic lock on all
 * documents that are read during the transaction. These locks block other transactions, batched
 * writes, and other non-transactional writes from changing that document"
 * (firebase-admin `Firestore.runTransaction` reference).
 *
 * - A lock is held from the first read (or the commit, for written documents) until the
 *   transaction commits, rolls back, is aborted or expires. Locks here are exclusive: simpler
 *   than Firestore's shared read locks, and still serializable.
 * - Conflicts resolve by wound-wait, the rule of Cloud Spanner that Firestore runs on
 *   (https://cloud.google.com/spanner/docs/concurrency-control): a transaction that wants a lock
 *   held by a younger one aborts ("wounds") it; a younger one waits. Waits therefore never form
 *   a cycle, the oldest transaction always progresses, and a retried transaction keeps its age.
 * - A wounded or timed-out transaction gets ABORTED on its next request, which the client
 *   answers by retrying the whole transaction.
 * - Writes outside a transaction lock like a transaction that begins at the write: they wait
 *   for the locks of the transactions already running (and, if wounded while waiting, the
 *   server retries them with their age rather than fail the client's write).
 */
import { randomBytes } from "node:crypto";

import { status } from "@grpc/grpc-js";

import { aborted, RpcError } from "./errors";

export interface TransactionSettings {
  /** How long a request waits for a lock before its transaction is aborted. */
  lockWaitTimeoutMs: number;
  /** A transaction with no request for this long expires and releases its locks. */
  idleTimeoutMs: number;
}

export const DEFAULT_TRANSACTION_SETTINGS: TransactionSettings = {
  lockWaitTimeoutMs: 10_000,
  idleTimeoutMs: 60_000,
};

interface Waiter {
  transaction: Transaction;
  lock: string;
  grant(): void;
  fail(error: RpcError): void;
  timer: NodeJS.Timeout;
}

export class Transaction {
  readonly locks = new Set<string>();
  /** Why the transaction is over, once it is. */
  endReason: string | undefined;
  waiter: Waiter | undefined;
  idleTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly id: Buffer,
    readonly database: string,
    /** Lower is older, and wins conflicts. */
    readonly age: number,
    /** Set for read-only transactions: the snapshot all their reads see. */
    readonly readTime: bigint | undefined,
  ) {}

  get readOnly(): boolean {
    return this.readTime !== undefined;
  }
}

interface Lock {
  holder: Transaction;
  waiters: Waiter[];
}

export type TransactionMode = { readTime: bigint } | { retrying: Uint8Array | undefined };

const WOUNDED =
  "Transaction aborted: an older transaction needs a document this transaction has locked.";
const LOCK_TIMEOUT = "Transaction lock timeout.";
const EXPIRED = "Transaction has expired: no request for too long.";
/** Ended transactions remembered, so that a late request gets ABORTED and a retry keeps its age. */
const ENDED_MEMORY = 10_000;

export class Transactions {
  private nextAge = 0;
  private readonly active = new Map<string, Transaction>();
  private readonly ended = new Map<string, { age: number; reason: string }>();
  private readonly locks = new Map<string, Lock>();

  constructor(private readonly settings: TransactionSettings = DEFAULT_TRANSACTION_SETTINGS) {}

  begin(database: string, mode: TransactionMode): Transaction {
    const id = randomBytes(16);
    let age: number | undefined;
    if ("retrying" in mode && mode.retrying?.length) {
      age = this.ended.get(Buffer.from(mode.retrying).toString("hex"))?.age;
    }
    const readTime = "readTime" in mode ? mode.readTime : undefined;
    const transaction = new Transaction(id, database, age ?? this.nextAge++, readTime);
    this.active.set(id.toString("hex"), transaction);
    this.touch(transaction);
    return transaction;
  }

  /**
   * The lock owner of a write outside any transaction: younger than every running transaction,
   * or as old as `age` when the write is being retried.
   */
  single(database: string, age?: number): Transaction {
    return new Transaction(randomBytes(16), database, age ?? this.nextAge++, undefined);
  }

  wasWounded(transaction: Transaction): boolean {
    return transaction.endReason === WOUNDED;
  }

  /** The running transaction `id`; ABORTED when it is over. Counts as activity. */
  find(database: string, id: Uint8Array): Transaction {
    const key = Buffer.from(id).toString("hex");
    const transaction = this.active.get(key);
    if (transaction?.database === database) {
      this.touch(transaction);
      return transaction;
    }
    const ended = this.ended.get(key);
    if (ended) {
      throw aborted(ended.reason);
    }
    throw new RpcError(status.INVALID_ARGUMENT, "Invalid transaction.");
  }

  /** Throws ABORTED when `transaction` is over (for instance wounded while it waited). */
  ensureRunning(transaction: Transaction): void {
    if (transaction.endReason !== undefined) {
      throw aborted(transaction.endReason);
    }
  }

  /** Locks `names` for `transaction`, waiting as wound-wait says. */
  async lock(transaction: Transaction, names: Iterable<string>): Promise<void> {
    for (const name of [...new Set(names)].sort()) {
      await this.acquire(transaction, name);
    }
  }

  private acquire(transaction: Transaction, name: string): Promise<void> | undefined {
    this.ensureRunning(transaction);
    if (transaction.locks.has(name)) {
      return undefined;
    }
    const lock = this.locks.get(name);
    if (!lock) {
      this.locks.set(name, { holder: transaction, waiters: [] });
      transaction.locks.add(name);
      return undefined;
    }
    return new Promise<void>((grant, fail) => {
      const waiter: Waiter = {
        transaction,
        lock: name,
        grant,
        fail,
        timer: setTimeout(
          () => this.end(transaction, LOCK_TIMEOUT),
          this.settings.lockWaitTimeoutMs,
        ),
      };
      waiter.timer.unref();
      lock.waiters.push(waiter);
      transaction.waiter = waiter;
      if (transaction.age < lock.holder.age) {
        // Wounding releases the holder's locks, which grants this one to its oldest waiter.
        this.end(lock.holder, WOUNDED);
      }
    });
  }

  /** Ends `transaction` (commit, rollback or abort): fails its wait and releases its locks. */
  end(transaction: Transaction, reason: string): void {
    if (transaction.endReason !== undefined) {
      return;
    }
    transaction.endReason = reason;
    clearTimeout(transaction.idleTimer);
    const { waiter } = transaction;
    if (waiter) {
      transaction.waiter = undefined;
      clearTimeout(waiter.timer);
      const lock = this.locks.get(waiter.lock);
      if (lock) {
        lock.waiters = lock.waiters.filter((other) => other !== waiter);
      }
      waiter.fail(aborted(reason));
    }
    for (const name of transaction.locks) {
      this.release(name, transaction);
    }
    transaction.locks.clear();
    const key = transaction.id.toString("hex");
    if (this.active.delete(key)) {
      this.ended.set(key, { age: transaction.age, reason });
      if (this.ended.size > ENDED_MEMORY) {
        this.ended.delete(this.ended.keys().next().value as string);
      }
    }
  }

  /** Passes the lock to its oldest waiter, or frees it. */
  private release(name: string, holder: Transaction): void {
    const lock = this.locks.get(name);
    if (lock?.holder !== holder) {
      return;
    }
    const next = lock.waiters.reduce<Waiter | undefined>(
      (oldest, waiter) =>
        oldest && oldest.transaction.age < waiter.transaction.age ? oldest : waiter,
      undefined,
    );
    if (!next) {
      this.locks.delete(name);
      return;
    }
    lock.waiters = lock.waiters.filter((waiter) => waiter !== next);
    clearTimeout(next.timer);
    next.transaction.waiter = undefined;
    lock.holder = next.transaction;
    next.transaction.locks.add(name);
    next.grant();
  }

  private touch(transaction: Transaction): void {
    clearTimeout(transaction.idleTimer);
    transaction.idleTimer = setTimeout(() => {
      // A transaction waiting for a lock is inside a request, not idle.
      if (transaction.waiter) {
        this.touch(transaction);
      } else {
        this.end(transaction, EXPIRED);
      }
    }, this.settings.idleTimeoutMs);
    transaction.idleTimer.unref();
  }
}
