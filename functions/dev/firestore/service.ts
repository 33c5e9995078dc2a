/**
 * The google.firestore.v1.Firestore RPCs that firebase-admin uses, on top of the store, the
 * query engine and the lock manager. RPCs left out (GetDocument, CreateDocument, UpdateDocument,
 * DeleteDocument, Write, PartitionQuery) answer UNIMPLEMENTED; firebase-admin does not call them.
 */
import {
  type sendUnaryData,
  type ServerUnaryCall,
  type ServerWritableStream,
  status,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";

import { compareStrings } from "./compare";
import { invalidArgument, RpcError, toStatus } from "./errors";
import { serveListen } from "./listen";
import { compareResourceNames, databaseOf } from "./paths";
import type {
  BatchGetDocumentsRequest,
  BatchWriteRequest,
  BeginTransactionRequest,
  CommitRequest,
  ConsistencySelector,
  Document,
  ListCollectionIdsRequest,
  ListDocumentsRequest,
  RollbackRequest,
  RunAggregationQueryRequest,
  RunQueryRequest,
  StructuredQuery,
  Timestamp,
  TransactionOptions,
  Write,
  WriteResult,
} from "./proto";
import { aggregate, runQuery } from "./query";
import { type Database, type Store, type StoredDocument, toDocument } from "./store";
import { type Transaction, type Transactions } from "./transactions";
import { microsTimestamp, timestampMicros } from "./values";
import { applyWrite, writeTarget } from "./writes";

function unary<Request, Response>(handler: (request: Request) => Promise<Response> | Response) {
  return (call: ServerUnaryCall<Request, Response>, callback: sendUnaryData<Response>) => {
    Promise.resolve()
      .then(() => handler(call.request))
      .then(
        (response) => callback(null, response),
        (error: unknown) => callback(toStatus(error)),
      );
  };
}

function serverStream<Request, Response>(
  handler: (request: Request, send: (response: Response) => void) => Promise<void>,
) {
  return (call: ServerWritableStream<Request, Response>) => {
    handler(call.request, (response) => call.write(response)).then(
      () => call.end(),
      (error: unknown) => call.emit("error", toStatus(error)),
    );
  };
}

const COMMITTED = "Transaction already committed.";
const ROLLED_BACK = "Transaction rolled back.";
const FAILED_READ = "The read that began this transaction failed.";

interface ReadContext {
  transaction?: Transaction;
  /** The transaction this read began (its id goes first in the response). */
  began?: Transaction;
  /** The snapshot to read; the latest state when undefined. */
  snapshot?: bigint;
}

/** A page of `items` (sorted by `key`) after `pageToken`, and the token of the next page. */
function paginate<T>(items: T[], key: (item: T) => string, pageSize: number, pageToken: string) {
  const start = pageToken ? items.findIndex((item) => key(item) === pageToken) + 1 : 0;
  const end = pageSize > 0 ? start + pageSize : items.length;
  const page = items.slice(start, end);
  const last = page.at(-1);
  return { page, nextPageToken: end < items.length && last ? key(last) : "" };
}

export function createFirestoreService(
  store: Store,
  transactions: Transactions,
): UntypedServiceImplementation {
  function begin(database: Database, name: string, options: TransactionOptions | null | undefined) {
    const readTime = options?.readOnly?.readTime;
    return options?.readWrite
      ? transactions.begin(name, { retrying: options.readWrite.retryTransaction })
      : transactions.begin(name, {
          readTime: readTime ? timestampMicros(readTime) : database.readTime(),
        });
  }

  function openRead(database: Database, name: string, selector: ConsistencySelector): ReadContext {
    if (selector.transaction) {
      const transaction = transactions.find(name, selector.transaction);
      return { transaction, snapshot: transaction.readTime };
    }
    if (selector.newTransaction) {
      const transaction = begin(database, name, selector.newTransaction);
      return { transaction, began: transaction, snapshot: transaction.readTime };
    }
    return { snapshot: selector.readTime ? timestampMicros(selector.readTime) : undefined };
  }

  /**
   * Runs `read` consistently: at the snapshot, or, in a read-write transaction, on the latest
   * state with every document it returns locked — reading again after waiting for locks,
   * since the documents may have changed meanwhile.
   */
  async function readConsistently<T>(
    database: Database,
    context: ReadContext,
    read: (snapshot: bigint | undefined) => { result: T; names: string[] },
  ): Promise<{ result: T; readTime: Timestamp }> {
    const { transaction, snapshot } = context;
    if (!transaction || transaction.readOnly) {
      const readTime = snapshot ?? database.readTime();
      return { result: read(readTime).result, readTime: microsTimestamp(readTime) };
    }
    for (;;) {
      const attempt = read(undefined);
      const unlocked = attempt.names.filter((name) => !transaction.locks.has(name));
      if (unlocked.length === 0) {
        transactions.ensureRunning(transaction);
        return { result: attempt.result, readTime: microsTimestamp(database.readTime()) };
      }
      await transactions.lock(transaction, unlocked);
    }
  }

  /** A read's result, with the document names a read-write transaction must lock. */
  const withNames = <D extends { name: string }>(documents: D[]) => ({
    result: documents,
    names: documents.map((document) => document.name),
  });

  /** Opens the read context of `selector`, runs `body`, and drops a transaction it began on failure. */
  async function withRead<T>(
    databaseName: string,
    selector: ConsistencySelector,
    body: (database: Database, context: ReadContext) => Promise<T>,
  ): Promise<T> {
    const database = store.database(databaseName);
    const context = openRead(database, databaseName, selector);
    try {
      return await body(database, context);
    } catch (error) {
      if (context.began) {
        transactions.end(context.began, FAILED_READ);
      }
      throw error;
    }
  }

  /** Runs `query` under `parent` in the read context of `selector`, then `respond`s. */
  function readQuery(
    parent: string,
    selector: ConsistencySelector,
    query: StructuredQuery,
    respond: (context: ReadContext, result: StoredDocument[], readTime: Timestamp) => void,
  ): Promise<void> {
    return withRead(databaseOf(parent), selector, async (database, context) => {
      const { result, readTime } = await readConsistently(database, context, (at) =>
        withNames(runQuery(parent, query, database.documents(at))),
      );
      respond(context, result, readTime);
    });
  }

  /** Applies `writes` atomically once `owner` holds their locks: all of them, or none. */
  async function applyCommit(database: Database, owner: Transaction, writes: Write[]) {
    await transactions.lock(owner, writes.map(writeTarget));
    transactions.ensureRunning(owner);
    const commitTime = database.nextCommitTime();
    const staged = new Map<string, StoredDocument | undefined>();
    const writeResults = writes.map((write) => {
      const name = writeTarget(write);
      const current = staged.has(name) ? staged.get(name) : database.get(name);
      const applied = applyWrite(current, write, commitTime);
      staged.set(name, applied.document);
      return applied.result;
    });
    // Only now, with every write validated, does anything change.
    const changed = new Map(
      [...staged].filter(([name, document]) => document !== database.get(name)),
    );
    database.apply(changed, commitTime);
    return { writeResults, commitTime: microsTimestamp(commitTime) };
  }

  async function commit(databaseName: string, writes: Write[], transactionId?: Uint8Array) {
    const database = store.database(databaseName);
    if (transactionId?.length) {
      const transaction = transactions.find(databaseName, transactionId);
      if (transaction.readOnly) {
        transactions.end(transaction, COMMITTED);
        throw invalidArgument("Cannot modify entities in a read-only transaction.");
      }
      try {
        return await applyCommit(database, transaction, writes);
      } finally {
        transactions.end(transaction, COMMITTED);
      }
    }
    let age: number | undefined;
    for (;;) {
      const owner = transactions.single(databaseName, age);
      age = owner.age;
      try {
        return await applyCommit(database, owner, writes);
      } catch (error) {
        if (!transactions.wasWounded(owner)) {
          throw error;
        }
      } finally {
        transactions.end(owner, COMMITTED);
      }
    }
  }

  function listDocuments(database: Database, request: ListDocumentsRequest, at?: bigint) {
    const prefix = `${request.parent}/`;
    const found = new Map<string, Document>();
    for (const document of database.documents(at)) {
      if (!document.name.startsWith(prefix)) {
        continue;
      }
      const [collectionId, id, ...below] = document.name.slice(prefix.length).split("/");
      if (request.collectionId && collectionId !== request.collectionId) {
        continue;
      }
      const name = `${prefix}${collectionId}/${id}`;
      if (below.length === 0) {
        found.set(name, toDocument(document, request.mask));
      } else if (request.showMissing && !found.has(name) && !database.get(name, at)) {
        // A missing document: it does not exist, but documents exist below it.
        found.set(name, { name, fields: {} });
      }
    }
    return [...found.values()].sort((a, b) => compareResourceNames(a.name, b.name));
  }

  function structuredQuery(query: StructuredQuery | undefined, explainOptions: unknown) {
    if (explainOptions) {
      throw new RpcError(status.UNIMPLEMENTED, "Query explain is not supported by this server.");
    }
    if (!query) {
      throw invalidArgument("structured query required");
    }
    return query;
  }

  return {
    BatchGetDocuments: serverStream<BatchGetDocumentsRequest, object>((request, send) =>
      withRead(request.database, request, async (database, context) => {
        const names = [...new Set(request.documents)];
        const { result, readTime } = await readConsistently(database, context, (at) => ({
          result: names.map((name) => ({ name, document: database.get(name, at) })),
          names,
        }));
        if (context.began) {
          send({ transaction: context.began.id });
        }
        for (const { name, document } of result) {
          send(
            document
              ? { found: toDocument(document, request.mask), readTime }
              : { missing: name, readTime },
          );
        }
      }),
    ),

    RunQuery: serverStream<RunQueryRequest, object>((request, send) => {
      const query = structuredQuery(request.structuredQuery, request.explainOptions);
      return readQuery(request.parent, request, query, (context, result, readTime) => {
        if (context.began) {
          send({ transaction: context.began.id });
        }
        for (const document of result) {
          send({ document: toDocument(document), readTime });
        }
        if (result.length === 0) {
          send({ readTime });
        }
      });
    }),

    RunAggregationQuery: serverStream<RunAggregationQueryRequest, object>((request, send) => {
      const aggregation = request.structuredAggregationQuery;
      const query = structuredQuery(aggregation?.structuredQuery, request.explainOptions);
      return readQuery(request.parent, request, query, (context, result, readTime) =>
        send({
          result: { aggregateFields: aggregate(result, aggregation?.aggregations ?? []) },
          readTime,
          ...(context.began ? { transaction: context.began.id } : {}),
        }),
      );
    }),

    BeginTransaction: unary((request: BeginTransactionRequest) => {
      // A BeginTransaction without options starts a read-write transaction (firestore.proto).
      const options = request.options ?? { readWrite: { retryTransaction: new Uint8Array() } };
      return { transaction: begin(store.database(request.database), request.database, options).id };
    }),

    Commit: unary((request: CommitRequest) =>
      commit(request.database, request.writes, request.transaction),
    ),

    Rollback: unary((request: RollbackRequest) => {
      transactions.end(transactions.find(request.database, request.transaction), ROLLED_BACK);
      return {};
    }),

    // BatchWrite applies each write on its own, not atomically (firestore.proto).
    BatchWrite: unary(async (request: BatchWriteRequest) => {
      const targets = request.writes.map(writeTarget);
      if (new Set(targets).size !== targets.length) {
        throw invalidArgument("BatchWrite does not allow more than one write per document.");
      }
      const outcomes = await Promise.all(
        request.writes.map((write) =>
          commit(request.database, [write]).then(
            ({ writeResults: [writeResult] }) => ({ writeResult, status: { code: status.OK } }),
            (error: unknown) => {
              const failure = toStatus(error);
              const writeResult: WriteResult = { transformResults: [] };
              return { writeResult, status: { code: failure.code, message: failure.message } };
            },
          ),
        ),
      );
      return {
        writeResults: outcomes.map((outcome) => outcome.writeResult),
        status: outcomes.map((outcome) => outcome.status),
      };
    }),

    ListCollectionIds: unary((request: ListCollectionIdsRequest) => {
      const database = store.database(databaseOf(request.parent));
      const at = request.readTime ? timestampMicros(request.readTime) : undefined;
      const prefix = `${request.parent}/`;
      const ids = new Set<string>();
      for (const { name } of database.documents(at)) {
        if (name.startsWith(prefix)) {
          ids.add(name.slice(prefix.length).split("/")[0] as string);
        }
      }
      const sorted = [...ids].sort(compareStrings);
      const { page, nextPageToken } = paginate(
        sorted,
        (id) => id,
        request.pageSize,
        request.pageToken,
      );
      return { collectionIds: page, nextPageToken };
    }),

    ListDocuments: unary((request: ListDocumentsRequest) =>
      withRead(databaseOf(request.parent), request, async (database, context) => {
        const { result } = await readConsistently(database, context, (at) =>
          withNames(listDocuments(database, request, at)),
        );
        const { page, nextPageToken } = paginate(
          result,
          (document) => document.name,
          request.pageSize,
          request.pageToken,
        );
        return { documents: page, nextPageToken };
      }),
    ),

    Listen: serveListen(store),
  };
}
