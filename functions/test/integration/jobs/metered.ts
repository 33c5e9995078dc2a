/**
 * A firebase-admin Firestore client that counts what it asks the server for, as Firestore bills
 * it, while the code under test runs unchanged on the same instance:
 *
 * - document reads: each document a query returns (an empty result still costs one), and each
 *   document `getAll` or a `DocumentReference.get` fetches (it calls the instance's `getAll`);
 *   reads inside transactions are not counted (the enqueue runs none);
 * - commits and their writes: every Commit RPC — batches, single-document writes, transaction
 *   commits — as the client's `request("commit", …)` sends it.
 *
 * The counters wrap the instance's own `getAll` and `request` and, for queries of this instance
 * only, `Query.prototype.get`. `request` is internal to @google-cloud/firestore (9.x), so
 * `metered` refuses a client that lacks it rather than count nothing.
 *
 * Each kind also sums the time its calls took (from call to answer; calls in flight together
 * each count in full), for a benchmark to say where a run's time went.
 *
 * Hooks let a test act at those points: `afterQuery` (e.g. move a manual clock per page) and
 * `beforeCommit` (e.g. change a document between a page's read and its commit).
 */
import { type Firestore, Query } from "firebase-admin/firestore";

export interface Meter {
  /** Queries run, and the documents they returned (one read for an empty result). */
  queries: number;
  queryReads: number;
  /** Documents fetched by `getAll` / `get`. */
  lookupReads: number;
  commits: number;
  writes: number;
  /** Milliseconds spent waiting for queries, lookups and commits. */
  queryMs: number;
  lookupMs: number;
  commitMs: number;
}

export interface MeterHooks {
  afterQuery?: (size: number) => void;
  /** Runs before each commit is sent; its own writes are sent (and counted) as usual. */
  beforeCommit?: (writes: number) => Promise<void>;
}

export interface Metered {
  meter: Meter;
  hooks: MeterHooks;
  /** Document reads of every kind. */
  reads(): number;
  reset(): void;
}

const zero = (): Meter => ({
  queries: 0,
  queryReads: 0,
  lookupReads: 0,
  commits: 0,
  writes: 0,
  queryMs: 0,
  lookupMs: 0,
  commitMs: 0,
});

/** `work`, its duration added to `meter[field]`. */
async function timed<T>(
  meter: Meter,
  field: "queryMs" | "lookupMs" | "commitMs",
  work: () => Promise<T>,
): Promise<T> {
  const started = performance.now();
  try {
    return await work();
  } finally {
    meter[field] += performance.now() - started;
  }
}

const meters = new WeakMap<Firestore, Metered>();
let queriesPatched = false;

function patchQueries(): void {
  if (queriesPatched) {
    return;
  }
  queriesPatched = true;
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const get = Query.prototype.get;
  Query.prototype.get = async function metering(this: Query) {
    const metered = meters.get(this.firestore);
    if (!metered) {
      return get.call(this);
    }
    const snapshot = await timed(metered.meter, "queryMs", () => get.call(this));
    metered.meter.queries += 1;
    metered.meter.queryReads += Math.max(1, snapshot.size);
    metered.hooks.afterQuery?.(snapshot.size);
    return snapshot;
  };
}

type Request = (method: string, request: { writes?: unknown[] }, ...rest: unknown[]) => unknown;

/** Starts counting on `db` (idempotent: the same meter for the same client). */
export function metered(db: Firestore): Metered {
  const existing = meters.get(db);
  if (existing) {
    return existing;
  }
  const internal = db as unknown as { request?: Request };
  const request = internal.request;
  if (typeof request !== "function") {
    throw new Error(
      "this @google-cloud/firestore has no request(): the meter cannot count commits",
    );
  }
  const meter = zero();
  const result: Metered = {
    meter,
    hooks: {},
    reads: () => meter.queryReads + meter.lookupReads,
    reset: () => Object.assign(meter, zero()),
  };
  let inHook = false;
  internal.request = async function metering(method, body, ...rest) {
    const send = () => Promise.resolve(request.call(db, method, body, ...rest));
    if (method !== "commit") {
      return send();
    }
    const writes = body.writes?.length ?? 0;
    if (result.hooks.beforeCommit && !inHook) {
      inHook = true;
      try {
        await result.hooks.beforeCommit(writes);
      } finally {
        inHook = false;
      }
    }
    meter.commits += 1;
    meter.writes += writes;
    return timed(meter, "commitMs", send);
  };
  const getAll = db.getAll.bind(db);
  db.getAll = (...refsOrOptions: Parameters<Firestore["getAll"]>) => {
    meter.lookupReads += refsOrOptions.filter((item) => "path" in item).length;
    return timed(meter, "lookupMs", () => getAll(...refsOrOptions));
  };
  meters.set(db, result);
  patchQueries();
  return result;
}
