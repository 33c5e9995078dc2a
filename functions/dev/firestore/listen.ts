/**
 * The Listen RPC: a bidirectional stream on which the client adds targets (a query, or a list
 * of documents) and the server streams their changes.
 *
 * Per target the server sends ADD, the matching documents, CURRENT; after that, on every commit
 * that changes the target's result, `document_change` for documents that entered or changed and
 * `document_delete`/`document_remove` for those that left. Each batch ends with a NO_CHANGE
 * target change without target ids and with a read time: the client's signal that its view is
 * consistent, on which it raises a snapshot (see firestore.proto, TargetChange).
 */
import type { ServerDuplexStream } from "@grpc/grpc-js";

import { toStatus } from "./errors";
import type { ListenRequest, Target } from "./proto";
import { runQuery } from "./query";
import { type Database, type Store, type StoredDocument, toDocument } from "./store";
import { microsTimestamp } from "./values";

interface WatchedTarget {
  id: number;
  evaluate(): StoredDocument[];
  /** Update time of each document last sent for this target. */
  sent: Map<string, bigint>;
}

function evaluator(database: Database, target: Target): () => StoredDocument[] {
  const { query, documents } = target;
  if (query?.structuredQuery) {
    const structuredQuery = query.structuredQuery;
    return () => runQuery(query.parent, structuredQuery, database.documents());
  }
  const names = documents?.documents ?? [];
  return () =>
    names
      .map((name) => database.get(name))
      .filter((document): document is StoredDocument => document !== undefined);
}

type Send = (response: object) => void;

/** Sends what changed for `target` since its last send; true when anything did. */
function sendChanges(database: Database, target: WatchedTarget, send: Send, readTime: bigint) {
  const documents = target.evaluate();
  const current = new Map(documents.map((document) => [document.name, document.updateTime]));
  let changed = false;
  for (const document of documents) {
    if (target.sent.get(document.name) !== document.updateTime) {
      send({ documentChange: { document: toDocument(document), targetIds: [target.id] } });
      changed = true;
    }
  }
  for (const name of target.sent.keys()) {
    if (!current.has(name)) {
      // Deleted, or still there but no longer matching.
      const kind = database.get(name) ? "documentRemove" : "documentDelete";
      send({
        [kind]: {
          document: name,
          removedTargetIds: [target.id],
          readTime: microsTimestamp(readTime),
        },
      });
      changed = true;
    }
  }
  target.sent = current;
  return changed;
}

export function serveListen(store: Store) {
  return (call: ServerDuplexStream<ListenRequest, object>): void => {
    const targets = new Map<number, WatchedTarget>();
    const send: Send = (response) => call.write(response);
    const consistent = (readTime: bigint) =>
      send({
        targetChange: {
          targetChangeType: "NO_CHANGE",
          targetIds: [],
          readTime: microsTimestamp(readTime),
        },
      });
    let stopWatching: (() => void) | undefined;

    const onRequest = (request: ListenRequest) => {
      const database = store.database(request.database);
      stopWatching ??= database.onChange((commitTime) => {
        let changed = false;
        for (const target of targets.values()) {
          changed = sendChanges(database, target, send, commitTime) || changed;
        }
        if (changed) {
          consistent(commitTime);
        }
      });
      if (request.addTarget) {
        const target: WatchedTarget = {
          id: request.addTarget.targetId,
          evaluate: evaluator(database, request.addTarget),
          sent: new Map(),
        };
        targets.set(target.id, target);
        const readTime = database.readTime();
        send({ targetChange: { targetChangeType: "ADD", targetIds: [target.id] } });
        sendChanges(database, target, send, readTime);
        send({
          targetChange: {
            targetChangeType: "CURRENT",
            targetIds: [target.id],
            readTime: microsTimestamp(readTime),
          },
        });
        consistent(readTime);
      } else if (request.removeTarget !== undefined) {
        targets.delete(request.removeTarget);
        send({ targetChange: { targetChangeType: "REMOVE", targetIds: [request.removeTarget] } });
      }
    };

    const stop = () => {
      stopWatching?.();
      targets.clear();
    };
    call.on("data", (request: ListenRequest) => {
      try {
        onRequest(request);
      } catch (error) {
        stop();
        call.emit("error", toStatus(error));
      }
    });
    call.on("end", () => {
      stop();
      call.end();
    });
    call.on("cancelled", stop);
  };
}
