/**
 * StructuredQuery evaluation over a set of documents, as a pure function. The stages run in the
 * order google/firestore/v1/query.proto gives: from, where, order by + cursors, offset, limit,
 * then the projection.
 */
import { status } from "@grpc/grpc-js";

import { compareStrings } from "./compare";
import { invalidArgument, RpcError } from "./errors";
import { compareResourceNames, getField, parseFieldPath, projectFields } from "./paths";
import type {
  Aggregation,
  Cursor,
  FieldFilterOperator,
  Filter,
  StructuredQuery,
  Value,
} from "./proto";
import type { StoredDocument } from "./store";
import {
  compareValues,
  integer,
  integerValue,
  isNaNValue,
  isNumber,
  NULL_VALUE,
  toDouble,
  typeOrder,
  valuesEqual,
} from "./values";

const NAME = "__name__";

type Predicate = (document: StoredDocument) => boolean;
type FieldReader = (document: StoredDocument) => Value | undefined;

function fieldReader(fieldPath: string): FieldReader {
  if (fieldPath === NAME) {
    return (document) => ({ referenceValue: document.name });
  }
  const path = parseFieldPath(fieldPath);
  return (document) => getField(document.fields, path);
}

const isNull = (value: Value | undefined): boolean => value?.nullValue !== undefined;

const arrayValues = (value: Value | null | undefined): Value[] => value?.arrayValue?.values ?? [];

const contains = (values: Value[], value: Value): boolean =>
  values.some((candidate) => valuesEqual(candidate, value));

/**
 * Field filter semantics. A document without the field never matches, whatever the operator:
 * "a field that does not exist ... is not matched by != or not-in" either
 * (https://firebase.google.com/docs/firestore/query-data/queries#not_equal_).
 * Range and equality operators only match values of the operand's type (numbers count as one
 * type); `!=` and `not-in` also exclude `null`.
 */
function fieldFilterMatches(op: FieldFilterOperator, value: Value, operand: Value): boolean {
  const sameType = typeOrder(value) === typeOrder(operand);
  switch (op) {
    case "LESS_THAN":
      return sameType && compareValues(value, operand) < 0;
    case "LESS_THAN_OR_EQUAL":
      return sameType && compareValues(value, operand) <= 0;
    case "GREATER_THAN":
      return sameType && compareValues(value, operand) > 0;
    case "GREATER_THAN_OR_EQUAL":
      return sameType && compareValues(value, operand) >= 0;
    case "EQUAL":
      return valuesEqual(value, operand);
    case "NOT_EQUAL":
      return !isNull(value) && !valuesEqual(value, operand);
    case "ARRAY_CONTAINS":
      return contains(arrayValues(value), operand);
    case "IN":
      return contains(arrayValues(operand), value);
    case "ARRAY_CONTAINS_ANY":
      return arrayValues(value).some((element) => contains(arrayValues(operand), element));
    case "NOT_IN":
      return (
        !contains(arrayValues(operand), NULL_VALUE) &&
        !isNull(value) &&
        !contains(arrayValues(operand), value)
      );
    case "OPERATOR_UNSPECIFIED":
      throw invalidArgument("field filter without operator");
  }
}

function compileFilter(filter: Filter): Predicate {
  if (filter.compositeFilter) {
    const parts = filter.compositeFilter.filters.map(compileFilter);
    switch (filter.compositeFilter.op) {
      case "AND":
        return (document) => parts.every((part) => part(document));
      case "OR":
        return (document) => parts.some((part) => part(document));
      case "OPERATOR_UNSPECIFIED":
        throw invalidArgument("composite filter without operator");
    }
  }
  if (filter.fieldFilter) {
    const { field, op, value: operand } = filter.fieldFilter;
    if (!field || !operand) {
      throw invalidArgument("field filter without field or value");
    }
    const read = fieldReader(field.fieldPath);
    return (document) => {
      const value = read(document);
      return value !== undefined && fieldFilterMatches(op, value, operand);
    };
  }
  if (filter.unaryFilter?.field) {
    const read = fieldReader(filter.unaryFilter.field.fieldPath);
    switch (filter.unaryFilter.op) {
      case "IS_NAN":
        return (document) => isNaNValue(read(document));
      case "IS_NULL":
        return (document) => isNull(read(document));
      case "IS_NOT_NAN":
        return (document) => {
          const value = read(document);
          return value !== undefined && !isNull(value) && !isNaNValue(value);
        };
      case "IS_NOT_NULL":
        return (document) => {
          const value = read(document);
          return value !== undefined && !isNull(value);
        };
      case "OPERATOR_UNSPECIFIED":
        throw invalidArgument("unary filter without operator");
    }
  }
  throw invalidArgument("empty filter");
}

const INEQUALITIES = new Set<string>([
  "LESS_THAN",
  "LESS_THAN_OR_EQUAL",
  "GREATER_THAN",
  "GREATER_THAN_OR_EQUAL",
  "NOT_EQUAL",
  "NOT_IN",
  "IS_NOT_NAN",
  "IS_NOT_NULL",
]);

function inequalityFields(filter: Filter | null | undefined, into: Set<string>): Set<string> {
  if (filter?.compositeFilter) {
    filter.compositeFilter.filters.forEach((part) => inequalityFields(part, into));
  }
  const simple = filter?.fieldFilter ?? filter?.unaryFilter;
  if (simple?.field && INEQUALITIES.has(simple.op)) {
    into.add(simple.field.fieldPath);
  }
  return into;
}

interface NormalizedOrder {
  fieldPath: string;
  read: FieldReader;
  descending: boolean;
}

/**
 * The order Firestore actually applies (query.proto, `order_by`): the explicit orders, then any
 * inequality field not already ordered (lexicographically), then `__name__`, each appended with
 * the direction of the last explicit order.
 */
function normalizedOrder(query: StructuredQuery): NormalizedOrder[] {
  const orders = (query.orderBy ?? []).map(({ field, direction }) => {
    if (!field) {
      throw invalidArgument("order without field");
    }
    return { fieldPath: field.fieldPath, descending: direction === "DESCENDING" };
  });
  const descending = orders.at(-1)?.descending ?? false;
  const ordered = new Set(orders.map((order) => order.fieldPath));
  const implicit = [...inequalityFields(query.where, new Set())]
    .filter((fieldPath) => fieldPath !== NAME && !ordered.has(fieldPath))
    .sort(compareStrings);
  for (const fieldPath of implicit) {
    orders.push({ fieldPath, descending });
  }
  if (!ordered.has(NAME)) {
    orders.push({ fieldPath: NAME, descending });
  }
  return orders.map((order) => ({ ...order, read: fieldReader(order.fieldPath) }));
}

function compareByOrder(orders: NormalizedOrder[], a: StoredDocument, b: StoredDocument): number {
  for (const order of orders) {
    const byField =
      order.fieldPath === NAME
        ? compareResourceNames(a.name, b.name)
        : compareValues(order.read(a) as Value, order.read(b) as Value);
    if (byField !== 0) {
      return order.descending ? -byField : byField;
    }
  }
  return 0;
}

/** Where `document` sits relative to a cursor position: <0 before it, 0 at it, >0 after it. */
function compareToCursor(orders: NormalizedOrder[], document: StoredDocument, cursor: Cursor) {
  if (cursor.values.length > orders.length) {
    throw invalidArgument("cursor has more values than the query has orders");
  }
  for (const [i, position] of cursor.values.entries()) {
    const order = orders[i] as NormalizedOrder;
    const byField = compareValues(order.read(document) as Value, position);
    if (byField !== 0) {
      return order.descending ? -byField : byField;
    }
  }
  return 0;
}

function inScope(parent: string, query: StructuredQuery): Predicate {
  const [from, ...more] = query.from;
  if (!from || more.length > 0) {
    throw invalidArgument("a query selects exactly one collection");
  }
  const prefix = `${parent}/`;
  return ({ name }) => {
    if (!name.startsWith(prefix)) {
      return false;
    }
    const rest = name.slice(prefix.length).split("/");
    if (!from.allDescendants) {
      return rest.length === 2 && rest[0] === from.collectionId;
    }
    // All descendants: any depth, in collections with that id (any id when kindless).
    return from.collectionId === "" || rest[rest.length - 2] === from.collectionId;
  };
}

/** Runs `query` (under `parent`) over `documents`, which may hold any documents. */
export function runQuery(
  parent: string,
  query: StructuredQuery,
  documents: Iterable<StoredDocument>,
): StoredDocument[] {
  if (query.findNearest) {
    throw new RpcError(status.UNIMPLEMENTED, "findNearest is not supported by this server");
  }
  const scope = inScope(parent, query);
  const where = query.where ? compileFilter(query.where) : () => true;
  const orders = normalizedOrder(query);
  // A document that lacks an ordered field is not in the result
  // (https://firebase.google.com/docs/firestore/query-data/order-limit-data#limitations).
  const ordered = orders.filter((order) => order.fieldPath !== NAME);
  const { startAt, endAt } = query;
  let results = [...documents]
    .filter((document) => scope(document) && where(document))
    .filter((document) => ordered.every((order) => order.read(document) !== undefined))
    .sort((a, b) => compareByOrder(orders, a, b))
    .filter((document) => {
      if (startAt) {
        const position = compareToCursor(orders, document, startAt);
        if (startAt.before ? position < 0 : position <= 0) {
          return false;
        }
      }
      if (endAt) {
        const position = compareToCursor(orders, document, endAt);
        if (endAt.before ? position >= 0 : position > 0) {
          return false;
        }
      }
      return true;
    })
    .slice(query.offset ?? 0);
  if (query.limit) {
    results = results.slice(0, query.limit.value);
  }
  const selected = query.select?.fields ?? [];
  if (selected.length === 0) {
    return results;
  }
  const paths = selected
    .filter(({ fieldPath }) => fieldPath !== NAME)
    .map(({ fieldPath }) => parseFieldPath(fieldPath));
  return results.map((document) => ({
    ...document,
    fields: projectFields(document.fields, paths),
  }));
}

/**
 * sum/avg over the numeric values of a field (query.proto, `Aggregation.Sum`): non-numbers are
 * skipped; a sum of integers stays an integer unless it overflows int64.
 */
function numericValues(documents: StoredDocument[], fieldPath: string): Value[] {
  const read = fieldReader(fieldPath);
  return documents.map(read).filter((value): value is Value => isNumber(value));
}

function sum(values: Value[]): Value {
  if (values.every((value) => value.integerValue !== undefined)) {
    const total = values.reduce((acc, value) => acc + integer(value), 0n);
    if (total >= -(2n ** 63n) && total < 2n ** 63n) {
      return integerValue(total);
    }
  }
  return { doubleValue: values.reduce((acc, value) => acc + toDouble(value), 0) };
}

export function aggregate(
  documents: StoredDocument[],
  aggregations: Aggregation[],
): Record<string, Value> {
  const results: Record<string, Value> = {};
  aggregations.forEach((aggregation, i) => {
    const alias = aggregation.alias || `field_${i + 1}`;
    if (aggregation.count) {
      const upTo = aggregation.count.upTo ? BigInt(aggregation.count.upTo.value) : undefined;
      const count = BigInt(documents.length);
      results[alias] = integerValue(upTo !== undefined && upTo < count ? upTo : count);
    } else if (aggregation.sum?.field) {
      results[alias] = sum(numericValues(documents, aggregation.sum.field.fieldPath));
    } else if (aggregation.avg?.field) {
      const values = numericValues(documents, aggregation.avg.field.fieldPath);
      const total = values.reduce((acc, value) => acc + toDouble(value), 0);
      results[alias] = values.length === 0 ? NULL_VALUE : { doubleValue: total / values.length };
    } else {
      throw invalidArgument(`aggregation ${alias} has no operator`);
    }
  });
  return results;
}
