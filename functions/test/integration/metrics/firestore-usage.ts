/**
 * What one Firestore client costs, counted at its request funnel as Firestore bills it: every
 * document a batch get or query returns (found or missing) is a read, every write of a commit a
 * write. The client's internal `request` (unary calls: commits), `requestStream` (queries and
 * batch gets) and `snapshot_` (every document the server returns) are wrapped on the instance,
 * so only this client is metered and nothing of the SDK's API surface is faked. It can also fail
 * a chosen commit before it is sent, as a crash between two commits would leave things.
 */
import type { Firestore } from "firebase-admin/firestore";

interface ProtoWrite {
  update?: { name?: string };
  delete?: string;
  transform?: { document?: string };
}

interface Funnel {
  request(method: string, request: { writes?: ProtoWrite[] }, ...rest: unknown[]): Promise<unknown>;
  requestStream(method: string, ...rest: unknown[]): Promise<unknown>;
  snapshot_(document: string | { name?: string }, ...rest: unknown[]): unknown;
}

export interface Usage {
  reads: number;
  queries: number;
  commits: number;
  writes: number;
  /** Reads and writes by the collection the document is in (its parent's id). */
  readsIn: Record<string, number>;
  writesIn: Record<string, number>;
}

/** The id of the collection a document name (`projects/…/documents/a/b/c/d`) is in. */
const collectionOf = (name: string | undefined): string => name?.split("/").at(-2) ?? "?";

export interface Meter {
  usage(): Usage;
  reset(): void;
  /**
   * Fails the first commit from now whose writes' collections satisfy `when`, before it is
   * sent; it then rejects with "simulated crash".
   */
  failCommit(when: (collections: string[]) => boolean): void;
  /** When each commit was sent (ms since the epoch) and the collections it wrote. */
  commitLog: Array<{ at: number; collections: string[] }>;
  /** Called as each commit is sent (a benchmark samples memory there). */
  onCommit?: () => void;
  restore(): void;
}

export function meterFirestore(db: Firestore): Meter {
  const funnel = db as unknown as Funnel;
  const original = {
    request: funnel.request.bind(funnel),
    requestStream: funnel.requestStream.bind(funnel),
    snapshot_: funnel.snapshot_.bind(funnel),
  };
  let usage: Usage;
  const reset = () => {
    usage = { reads: 0, queries: 0, commits: 0, writes: 0, readsIn: {}, writesIn: {} };
    meter.commitLog.length = 0;
  };
  let failing: ((collections: string[]) => boolean) | undefined;
  const meter: Meter = {
    usage: () => structuredClone(usage),
    reset,
    failCommit: (when) => {
      failing = when;
    },
    commitLog: [],
    restore: () => {
      for (const method of Object.keys(original)) {
        Reflect.deleteProperty(funnel, method);
      }
    },
  };
  reset();
  funnel.request = (method, request, ...rest) => {
    if (method === "commit") {
      const collections = (request.writes ?? []).map((write) =>
        collectionOf(write.update?.name ?? write.delete ?? write.transform?.document),
      );
      if (failing?.(collections)) {
        failing = undefined;
        return Promise.reject(new Error("simulated crash"));
      }
      usage.commits += 1;
      usage.writes += collections.length;
      for (const collection of collections) {
        usage.writesIn[collection] = (usage.writesIn[collection] ?? 0) + 1;
      }
      meter.commitLog.push({ at: Date.now(), collections });
      meter.onCommit?.();
    }
    return original.request(method, request, ...rest);
  };
  funnel.requestStream = (method, ...rest) => {
    if (method === "runQuery") {
      usage.queries += 1;
    }
    return original.requestStream(method, ...rest);
  };
  funnel.snapshot_ = (document, ...rest) => {
    const collection = collectionOf(typeof document === "string" ? document : document.name);
    usage.reads += 1;
    usage.readsIn[collection] = (usage.readsIn[collection] ?? 0) + 1;
    return original.snapshot_(document, ...rest);
  };
  return meter;
}
