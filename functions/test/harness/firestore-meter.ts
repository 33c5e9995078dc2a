/**
 * What one firebase-admin Firestore client asks the server for, counted as Firestore bills it,
 * while the code under test runs unchanged on the same instance:
 *
 * - reads: every document a query or a batch get returns (a lookup of a missing document too),
 *   and one for a query that returns none; transactions' reads included. A query the reader
 *   stops early counts what the server had sent by then. Aggregations (`count()`) are not
 *   counted;
 * - commits and their writes: every Commit RPC — batches, single-document writes, transaction
 *   commits. A commit `failCommit` or a hook stops is never sent, and not counted.
 *
 * It wraps the instance's internal `request` (unary calls: commits) and `requestStream` (queries
 * and batch gets; each response is seen as the SDK takes it off the stream), so only this client
 * is metered and nothing of the SDK's API surface is faked; for `afterDocument` it also wraps
 * `Query.prototype.stream`'s iterator, for this instance's queries only. Both internals are
 * @google-cloud/firestore's (9.x): `meterFirestore` refuses a client that lacks them rather than
 * count nothing.
 *
 * Each kind also sums the time its calls took (from the RPC to its answer — for a stream, to its
 * end or its reader's stop; calls in flight together each count in full), for a benchmark to say
 * where a run's time went, and the most commits in flight at once.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { Readable } from "node:stream";

import { type Firestore, Query } from "firebase-admin/firestore";

export interface Usage {
  /** Queries sent (a query restarted after a stream error is sent, and billed, again). */
  queries: number;
  /** Documents queries returned, and one for each query that returned none. */
  queryReads: number;
  /** Documents batch gets (`get`, `getAll`, a transaction's `get`) returned, found or missing. */
  lookupReads: number;
  /** `queryReads + lookupReads`. */
  reads: number;
  commits: number;
  writes: number;
  /**
   * Reads and writes by the collection the document is in (its parent's id); an empty query's
   * read is its collection's.
   */
  readsIn: Record<string, number>;
  writesIn: Record<string, number>;
  /** The most commits sent and not yet answered at one time. */
  maxCommitsInFlight: number;
  /** Milliseconds spent waiting for queries, lookups and commits. */
  queryMs: number;
  lookupMs: number;
  commitMs: number;
}

export interface MeterHooks {
  /** After each document a streamed query hands its reader (`count`: its number, from 1). */
  afterDocument?: (count: number) => void;
  /**
   * Runs before each commit is sent (e.g. change a document between a page's read and its
   * commit, or sample memory), also for commits sent side by side; the commits it sends itself
   * are sent (and counted) as usual, without the hook.
   */
  beforeCommit?: (writes: number) => void | Promise<void>;
}

export interface FirestoreMeter {
  /** The counts since the meter was made or last reset (a copy). */
  usage(): Usage;
  hooks: MeterHooks;
  /** When each commit was sent (ms since the epoch) and the collections it wrote. */
  commitLog: Array<{ at: number; collections: string[] }>;
  /**
   * Fails the first commit from now whose writes' collections satisfy `when`, before it is
   * sent, as a crash between two commits would leave things; it then rejects with "simulated
   * crash".
   */
  failCommit(when: (collections: string[]) => boolean): void;
  reset(): void;
  /** Stops metering: the client's own methods again. */
  restore(): void;
}

interface ProtoWrite {
  update?: { name?: string };
  delete?: string;
  transform?: { document?: string };
}

interface StreamRequest {
  documents?: string[];
  structuredQuery?: { from?: Array<{ collectionId?: string }> };
}

interface StreamResponse {
  document?: { name?: string };
  found?: { name?: string };
  missing?: string;
}

interface Funnel {
  request(method: string, request: { writes?: ProtoWrite[] }, ...rest: unknown[]): Promise<unknown>;
  requestStream(
    method: string,
    bidirectional: boolean,
    request: StreamRequest,
    ...rest: unknown[]
  ): Promise<Readable>;
}

/** The id of the collection a document name (`projects/…/documents/a/b/c/d`) is in. */
const collectionOf = (name: string | undefined): string => name?.split("/").at(-2) ?? "?";

const zero = (): Usage => ({
  queries: 0,
  queryReads: 0,
  lookupReads: 0,
  reads: 0,
  commits: 0,
  writes: 0,
  readsIn: {},
  writesIn: {},
  maxCommitsInFlight: 0,
  queryMs: 0,
  lookupMs: 0,
  commitMs: 0,
});

const meters = new WeakMap<Firestore, FirestoreMeter>();

/** Starts counting on `db` (idempotent: the same meter for the same client until `restore`). */
export function meterFirestore(db: Firestore): FirestoreMeter {
  const existing = meters.get(db);
  if (existing) {
    return existing;
  }
  const funnel = db as unknown as Partial<Funnel>;
  if (typeof funnel.request !== "function" || typeof funnel.requestStream !== "function") {
    throw new Error(
      "this @google-cloud/firestore has no request()/requestStream(): the meter cannot count",
    );
  }
  const original = {
    request: funnel.request.bind(db),
    requestStream: funnel.requestStream.bind(db),
  };
  let usage = zero();
  let failing: ((collections: string[]) => boolean) | undefined;
  const meter: FirestoreMeter = {
    usage: () => structuredClone({ ...usage, reads: usage.queryReads + usage.lookupReads }),
    hooks: {},
    commitLog: [],
    failCommit: (when) => {
      failing = when;
    },
    reset: () => {
      usage = zero();
      meter.commitLog.length = 0;
    },
    restore: () => {
      for (const method of Object.keys(original)) {
        Reflect.deleteProperty(funnel, method);
      }
      meters.delete(db);
    },
  };
  const read = (collection: string, kind: "queryReads" | "lookupReads") => {
    usage[kind] += 1;
    usage.readsIn[collection] = (usage.readsIn[collection] ?? 0) + 1;
  };

  // Marks the hook's own calls (whatever they await), so that its commits skip it while the
  // code under test's other commits, in flight meanwhile, still run it.
  const inHook = new AsyncLocalStorage<true>();
  let inFlight = 0;
  funnel.request = async (method, request, ...rest) => {
    if (method !== "commit") {
      return original.request(method, request, ...rest);
    }
    const collections = (request.writes ?? []).map((write) =>
      collectionOf(write.update?.name ?? write.delete ?? write.transform?.document),
    );
    const hook = meter.hooks.beforeCommit;
    if (hook && inHook.getStore() === undefined) {
      await inHook.run(true, () => hook(collections.length));
    }
    if (failing?.(collections)) {
      failing = undefined;
      throw new Error("simulated crash");
    }
    const counted = usage;
    counted.commits += 1;
    counted.writes += collections.length;
    for (const collection of collections) {
      counted.writesIn[collection] = (counted.writesIn[collection] ?? 0) + 1;
    }
    meter.commitLog.push({ at: Date.now(), collections });
    inFlight += 1;
    counted.maxCommitsInFlight = Math.max(counted.maxCommitsInFlight, inFlight);
    const started = performance.now();
    try {
      return await original.request(method, request, ...rest);
    } finally {
      inFlight -= 1;
      counted.commitMs += performance.now() - started;
    }
  };

  funnel.requestStream = async (method, bidirectional, request, ...rest) => {
    const kind =
      method === "runQuery" ? "query" : method === "batchGetDocuments" ? "lookup" : undefined;
    if (kind === undefined) {
      return original.requestStream(method, bidirectional, request, ...rest);
    }
    // A reset while the call is in flight leaves its counts to the usage it started in.
    const counted = usage;
    const started = performance.now();
    if (kind === "query") {
      counted.queries += 1;
    }
    const stream = await original.requestStream(method, bidirectional, request, ...rest);
    let documents = 0;
    // Every response reaches its reader as a "data" event, whether the stream flows or is read;
    // listening to the event instead would change the stream's mode.
    const emit = stream.emit.bind(stream);
    stream.emit = (event: string | symbol, ...args: unknown[]) => {
      const response = args[0] as StreamResponse | undefined;
      if (event === "data" && response !== undefined) {
        const name = response.document?.name ?? response.found?.name ?? response.missing;
        if (name !== undefined) {
          documents += 1;
          read(collectionOf(name), kind === "query" ? "queryReads" : "lookupReads");
        }
      }
      return emit(event, ...args);
    };
    stream.once("close", () => {
      if (kind === "query") {
        if (documents === 0) {
          // Firestore bills a query that returns nothing one read.
          counted.queryReads += 1;
          const collection = request.structuredQuery?.from?.[0]?.collectionId ?? "?";
          counted.readsIn[collection] = (counted.readsIn[collection] ?? 0) + 1;
        }
        counted.queryMs += performance.now() - started;
      } else {
        counted.lookupMs += performance.now() - started;
      }
    });
    return stream;
  };

  meters.set(db, meter);
  patchQueryStream();
  return meter;
}

let streamPatched = false;

/**
 * Runs `afterDocument` as the reader of a metered client's `Query.stream()` takes each
 * document: the reader's `for await` runs the generator below, and its `break` reaches the
 * source's iterator, which destroys the stream.
 */
function patchQueryStream(): void {
  if (streamPatched) {
    return;
  }
  streamPatched = true;
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const stream = Query.prototype.stream;
  Query.prototype.stream = function metering(this: Query) {
    const source = stream.call(this);
    const meter = meters.get(this.firestore);
    if (!meter) {
      return source;
    }
    const iterate = source[Symbol.asyncIterator].bind(source);
    source[Symbol.asyncIterator] = async function* handing() {
      let count = 0;
      for await (const doc of { [Symbol.asyncIterator]: iterate }) {
        count += 1;
        meter.hooks.afterDocument?.(count);
        yield doc;
      }
    };
    return source;
  };
}
