/**
 * The google.firestore.v1 gRPC service definition, and TypeScript shapes of the decoded messages
 * this server reads and writes.
 *
 * The definition is loaded from the protos that ship with `@google-cloud/firestore`, resolved
 * from `firebase-admin`'s own location: the server then speaks exactly the wire format of the
 * client under test, whatever version `firebase-admin` pulls in.
 */
import { readFileSync } from "node:fs";
import { dirname } from "node:path";

import type { ServiceDefinition } from "@grpc/grpc-js";
import { fromJSON } from "@grpc/proto-loader";

function loadFirestoreService(): ServiceDefinition {
  const adminFirestore = require.resolve("firebase-admin/firestore");
  const protoJson = require.resolve("@google-cloud/firestore/build/protos/v1.json", {
    paths: [dirname(adminFirestore)],
  });
  const json = JSON.parse(readFileSync(protoJson, "utf8")) as Parameters<typeof fromJSON>[0];
  // Decoded messages are plain objects: camelCase keys, int64 as strings (no precision loss),
  // enums as names, defaults filled in (so absent repeated fields are [] and absent messages
  // null), and oneof members present only when set.
  const definition = fromJSON(json, {
    keepCase: false,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const service = definition["google.firestore.v1.Firestore"];
  if (!service || !("Listen" in service)) {
    throw new Error(`google.firestore.v1.Firestore is missing from ${protoJson}`);
  }
  return service;
}

export const firestoreServiceDefinition = loadFirestoreService();

export interface Timestamp {
  seconds: string | number;
  nanos: number;
}

/** A Firestore value: exactly one of the members is set. */
export interface Value {
  nullValue?: "NULL_VALUE";
  booleanValue?: boolean;
  integerValue?: string;
  doubleValue?: number;
  timestampValue?: Timestamp;
  stringValue?: string;
  bytesValue?: Uint8Array;
  referenceValue?: string;
  geoPointValue?: { latitude: number; longitude: number };
  arrayValue?: { values: Value[] };
  mapValue?: { fields: Fields };
}

export type Fields = Record<string, Value>;

export interface Document {
  name: string;
  fields: Fields;
  createTime?: Timestamp | null;
  updateTime?: Timestamp | null;
}

export interface DocumentMask {
  fieldPaths: string[];
}

export interface Precondition {
  exists?: boolean;
  updateTime?: Timestamp;
}

export interface FieldTransform {
  fieldPath: string;
  setToServerValue?: "SERVER_VALUE_UNSPECIFIED" | "REQUEST_TIME";
  increment?: Value;
  maximum?: Value;
  minimum?: Value;
  appendMissingElements?: { values: Value[] };
  removeAllFromArray?: { values: Value[] };
}

export interface Write {
  update?: Document;
  delete?: string;
  transform?: { document: string; fieldTransforms: FieldTransform[] };
  updateMask?: DocumentMask | null;
  updateTransforms?: FieldTransform[];
  currentDocument?: Precondition | null;
}

export interface WriteResult {
  updateTime?: Timestamp | null;
  transformResults: Value[];
}

export interface FieldReference {
  fieldPath: string;
}

export type FieldFilterOperator =
  | "OPERATOR_UNSPECIFIED"
  | "LESS_THAN"
  | "LESS_THAN_OR_EQUAL"
  | "GREATER_THAN"
  | "GREATER_THAN_OR_EQUAL"
  | "EQUAL"
  | "NOT_EQUAL"
  | "ARRAY_CONTAINS"
  | "IN"
  | "ARRAY_CONTAINS_ANY"
  | "NOT_IN";

export type UnaryFilterOperator =
  "OPERATOR_UNSPECIFIED" | "IS_NAN" | "IS_NULL" | "IS_NOT_NAN" | "IS_NOT_NULL";

export interface Filter {
  compositeFilter?: { op: "OPERATOR_UNSPECIFIED" | "AND" | "OR"; filters: Filter[] };
  fieldFilter?: { field: FieldReference | null; op: FieldFilterOperator; value: Value | null };
  unaryFilter?: { op: UnaryFilterOperator; field?: FieldReference };
}

export type Direction = "DIRECTION_UNSPECIFIED" | "ASCENDING" | "DESCENDING";

export interface Order {
  field: FieldReference | null;
  direction: Direction;
}

export interface Cursor {
  values: Value[];
  before: boolean;
}

/** Optional members are optional so that unit tests can write queries the way clients do. */
export interface StructuredQuery {
  select?: { fields: FieldReference[] } | null;
  from: { collectionId: string; allDescendants?: boolean }[];
  where?: Filter | null;
  orderBy?: Order[];
  startAt?: Cursor | null;
  endAt?: Cursor | null;
  offset?: number;
  limit?: { value: number } | null;
  findNearest?: unknown;
}

export interface Aggregation {
  alias: string;
  count?: { upTo: { value: string | number } | null };
  sum?: { field: FieldReference | null };
  avg?: { field: FieldReference | null };
}

export interface TransactionOptions {
  readOnly?: { readTime?: Timestamp };
  readWrite?: { retryTransaction: Uint8Array };
}

/** The `consistency_selector` oneof shared by the read RPCs. */
export interface ConsistencySelector {
  transaction?: Uint8Array;
  newTransaction?: TransactionOptions;
  readTime?: Timestamp;
}

export interface BatchGetDocumentsRequest extends ConsistencySelector {
  database: string;
  documents: string[];
  mask: DocumentMask | null;
}

export interface RunQueryRequest extends ConsistencySelector {
  parent: string;
  structuredQuery?: StructuredQuery;
  explainOptions: unknown;
}

export interface RunAggregationQueryRequest extends ConsistencySelector {
  parent: string;
  structuredAggregationQuery?: { structuredQuery?: StructuredQuery; aggregations: Aggregation[] };
  explainOptions: unknown;
}

export interface BeginTransactionRequest {
  database: string;
  options: TransactionOptions | null;
}

export interface CommitRequest {
  database: string;
  writes: Write[];
  transaction: Uint8Array;
}

export interface RollbackRequest {
  database: string;
  transaction: Uint8Array;
}

export interface BatchWriteRequest {
  database: string;
  writes: Write[];
}

export interface ListCollectionIdsRequest {
  parent: string;
  pageSize: number;
  pageToken: string;
  readTime?: Timestamp;
}

export interface ListDocumentsRequest {
  parent: string;
  collectionId: string;
  pageSize: number;
  pageToken: string;
  orderBy: string;
  mask: DocumentMask | null;
  showMissing: boolean;
  transaction?: Uint8Array;
  readTime?: Timestamp;
}

export interface Target {
  targetId: number;
  query?: { parent: string; structuredQuery?: StructuredQuery };
  documents?: { documents: string[] };
}

export interface ListenRequest {
  database: string;
  addTarget?: Target;
  removeTarget?: number;
}
