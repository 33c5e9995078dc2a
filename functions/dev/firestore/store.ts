/**
 * In-memory, multi-version document storage. Every commit gets a unique, increasing commit time
 * and appends a version to each document it changes, so reads at an earlier `read_time` (and
 * read-only transactions) see a consistent snapshot, as in Firestore.
 */
import { parseFieldPath, projectFields } from "./paths";
import type { Document, DocumentMask, Fields } from "./proto";
import { microsTimestamp } from "./values";

export interface StoredDocument {
  name: string;
  fields: Fields;
  /** Microseconds since the epoch: Firestore's timestamps have microsecond precision. */
  createTime: bigint;
  updateTime: bigint;
}

/** The wire form of a stored document, limited to the `mask` paths when there is a mask. */
export function toDocument(document: StoredDocument, mask?: DocumentMask | null): Document {
  return {
    name: document.name,
    fields: mask
      ? projectFields(document.fields, mask.fieldPaths.map(parseFieldPath))
      : document.fields,
    createTime: microsTimestamp(document.createTime),
    updateTime: microsTimestamp(document.updateTime),
  };
}

interface Version {
  time: bigint;
  document: StoredDocument | undefined;
}

/** Firestore serves reads at a `read_time` up to one hour old; older versions can go. */
const RETENTION_MICROS = 3_600_000_000n;

function nowMicros(): bigint {
  return BigInt(Math.floor((performance.timeOrigin + performance.now()) * 1000));
}

export type ChangeListener = (commitTime: bigint) => void;

export class Database {
  private readonly versions = new Map<string, Version[]>();
  private readonly listeners = new Set<ChangeListener>();

  constructor(private readonly clock: Clock) {}

  /** The document as of `readTime` (the latest state when omitted). */
  get(name: string, readTime?: bigint): StoredDocument | undefined {
    const history = this.versions.get(name) ?? [];
    for (let i = history.length - 1; i >= 0; i--) {
      const version = history[i] as Version;
      if (readTime === undefined || version.time <= readTime) {
        return version.document;
      }
    }
    return undefined;
  }

  /** Every document that exists as of `readTime`. */
  documents(readTime?: bigint): StoredDocument[] {
    const documents: StoredDocument[] = [];
    for (const name of this.versions.keys()) {
      const document = this.get(name, readTime);
      if (document) {
        documents.push(document);
      }
    }
    return documents;
  }

  /** Applies the new states of the changed documents as one commit at `commitTime`. */
  apply(changes: Map<string, StoredDocument | undefined>, commitTime: bigint): void {
    const horizon = commitTime - RETENTION_MICROS;
    for (const [name, document] of changes) {
      const history = this.versions.get(name) ?? [];
      history.push({ time: commitTime, document });
      // Keep the newest version at or before the horizon: it is still the state at the horizon.
      const firstNeeded = history.findLastIndex((version) => version.time <= horizon);
      this.versions.set(name, firstNeeded > 0 ? history.slice(firstNeeded) : history);
    }
    if (changes.size > 0) {
      for (const listener of this.listeners) {
        listener(commitTime);
      }
    }
  }

  /** Calls `listener` after every commit that changed documents; returns the unsubscribe. */
  onChange(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A read time at which every commit so far is visible. */
  readTime(): bigint {
    return this.clock.now();
  }

  nextCommitTime(): bigint {
    return this.clock.next();
  }
}

/**
 * Microsecond clock that never runs backwards; every commit time is later than every read time
 * handed out before it, so a snapshot at a read time never gains a later commit.
 */
export class Clock {
  private last = 0n;

  now(): bigint {
    const now = nowMicros();
    this.last = now > this.last ? now : this.last;
    return this.last;
  }

  next(): bigint {
    const now = nowMicros();
    this.last = now > this.last ? now : this.last + 1n;
    return this.last;
  }
}

export class Store {
  private readonly clock = new Clock();
  private readonly databases = new Map<string, Database>();

  /** The database `projects/p/databases/d`, created empty on first use. */
  database(name: string): Database {
    let database = this.databases.get(name);
    if (!database) {
      database = new Database(this.clock);
      this.databases.set(name, database);
    }
    return database;
  }
}
