/**
 * Firestore values: their type ordering, comparison and equality, as documented in
 * https://firebase.google.com/docs/firestore/manage-data/data-types#value_type_ordering
 * ("Integer and floating-point values are sorted together in numeric order"; NaN sorts before
 * every other number; strings compare by their UTF-8 encoding; references by path segments).
 */
import { compareBytes, compareStrings, sign } from "./compare";
import { compareResourceNames } from "./paths";
import type { Timestamp, Value } from "./proto";

export type ValueKind =
  | "null"
  | "boolean"
  | "integer"
  | "double"
  | "timestamp"
  | "string"
  | "bytes"
  | "reference"
  | "geoPoint"
  | "array"
  | "map";

/** The member of `Value` that holds each kind (exactly one member is set). */
const MEMBERS: [keyof Value, ValueKind][] = [
  ["nullValue", "null"],
  ["booleanValue", "boolean"],
  ["integerValue", "integer"],
  ["doubleValue", "double"],
  ["timestampValue", "timestamp"],
  ["stringValue", "string"],
  ["bytesValue", "bytes"],
  ["referenceValue", "reference"],
  ["geoPointValue", "geoPoint"],
  ["arrayValue", "array"],
  ["mapValue", "map"],
];

export function kindOf(value: Value): ValueKind {
  const member = MEMBERS.find(([key]) => value[key] !== undefined);
  if (!member) {
    throw new Error(`value without a type: ${JSON.stringify(value)}`);
  }
  return member[1];
}

/** Position of a value's type in Firestore's cross-type ordering; numbers share one rank. */
const TYPE_ORDER: Record<ValueKind, number> = {
  null: 0,
  boolean: 1,
  integer: 2,
  double: 2,
  timestamp: 3,
  string: 4,
  bytes: 5,
  reference: 6,
  geoPoint: 7,
  array: 8,
  map: 9,
};

export const typeOrder = (value: Value): number => TYPE_ORDER[kindOf(value)];

export const NULL_VALUE: Value = { nullValue: "NULL_VALUE" };

export const isNumber = (value: Value | undefined): boolean =>
  value !== undefined && (value.integerValue !== undefined || value.doubleValue !== undefined);

export const isNaNValue = (value: Value | undefined): boolean =>
  value?.doubleValue !== undefined && Number.isNaN(value.doubleValue);

export const integer = (value: Value): bigint => BigInt(value.integerValue ?? 0);

export const integerValue = (value: bigint): Value => ({ integerValue: value.toString() });

/** A number value as a double (how mixed integer/double arithmetic is done). */
export const toDouble = (value: Value): number =>
  value.integerValue !== undefined ? Number(integer(value)) : (value.doubleValue ?? 0);

/** Exact comparison of an int64 with a double (a double can hold integers beyond 2^53). */
function compareIntegerWithDouble(i: bigint, d: number): number {
  if (Number.isNaN(d)) {
    return 1;
  }
  if (d === Infinity) {
    return -1;
  }
  if (d === -Infinity) {
    return 1;
  }
  const whole = Math.trunc(d);
  const byWhole = sign(i - BigInt(whole));
  return byWhole !== 0 ? byWhole : sign(whole - d);
}

function compareNumbers(a: Value, b: Value): number {
  if (a.integerValue !== undefined && b.integerValue !== undefined) {
    return sign(integer(a) - integer(b));
  }
  if (a.integerValue !== undefined) {
    return compareIntegerWithDouble(integer(a), b.doubleValue ?? 0);
  }
  if (b.integerValue !== undefined) {
    return -compareIntegerWithDouble(integer(b), a.doubleValue ?? 0);
  }
  const x = a.doubleValue ?? 0;
  const y = b.doubleValue ?? 0;
  if (Number.isNaN(x)) {
    return Number.isNaN(y) ? 0 : -1;
  }
  if (Number.isNaN(y)) {
    return 1;
  }
  return sign(x - y);
}

export function timestampMicros(timestamp: Timestamp): bigint {
  return BigInt(timestamp.seconds) * 1_000_000n + BigInt(Math.floor(timestamp.nanos / 1000));
}

export function microsTimestamp(micros: bigint): Timestamp {
  return { seconds: (micros / 1_000_000n).toString(), nanos: Number(micros % 1_000_000n) * 1000 };
}

function compareTimestamps(a: Timestamp, b: Timestamp): number {
  const bySeconds = sign(BigInt(a.seconds) - BigInt(b.seconds));
  return bySeconds !== 0 ? bySeconds : sign(a.nanos - b.nanos);
}

function compareArrays(a: Value[], b: Value[]): number {
  for (let i = 0; i < a.length && i < b.length; i++) {
    const byElement = compareValues(a[i] as Value, b[i] as Value);
    if (byElement !== 0) {
      return byElement;
    }
  }
  return sign(a.length - b.length);
}

function compareMaps(a: Record<string, Value>, b: Record<string, Value>): number {
  const aKeys = Object.keys(a).sort(compareStrings);
  const bKeys = Object.keys(b).sort(compareStrings);
  for (let i = 0; i < aKeys.length && i < bKeys.length; i++) {
    const aKey = aKeys[i] as string;
    const bKey = bKeys[i] as string;
    const byKey = compareStrings(aKey, bKey);
    if (byKey !== 0) {
      return byKey;
    }
    const byValue = compareValues(a[aKey] as Value, b[bKey] as Value);
    if (byValue !== 0) {
      return byValue;
    }
  }
  return sign(aKeys.length - bKeys.length);
}

/** Firestore's total order over values (the order of `orderBy` and of range filters). */
export function compareValues(a: Value, b: Value): number {
  const byType = typeOrder(a) - typeOrder(b);
  if (byType !== 0) {
    return sign(byType);
  }
  switch (kindOf(a)) {
    case "null":
      return 0;
    case "boolean":
      return sign(Number(a.booleanValue) - Number(b.booleanValue));
    case "integer":
    case "double":
      return compareNumbers(a, b);
    case "timestamp":
      return compareTimestamps(a.timestampValue as Timestamp, b.timestampValue as Timestamp);
    case "string":
      return compareStrings(a.stringValue as string, b.stringValue as string);
    case "bytes":
      return compareBytes(a.bytesValue as Uint8Array, b.bytesValue as Uint8Array);
    case "reference":
      return compareResourceNames(a.referenceValue as string, b.referenceValue as string);
    case "geoPoint": {
      const x = a.geoPointValue ?? { latitude: 0, longitude: 0 };
      const y = b.geoPointValue ?? { latitude: 0, longitude: 0 };
      return sign(x.latitude - y.latitude) || sign(x.longitude - y.longitude);
    }
    case "array":
      return compareArrays(a.arrayValue?.values ?? [], b.arrayValue?.values ?? []);
    case "map":
      return compareMaps(a.mapValue?.fields ?? {}, b.mapValue?.fields ?? {});
  }
}

/**
 * Equality as queries and array transforms use it: equivalent numbers of different types are
 * equal (3 == 3.0), NaN equals NaN and null equals null (see DocumentTransform in write.proto).
 */
export const valuesEqual = (a: Value, b: Value): boolean => compareValues(a, b) === 0;

/**
 * Strict equality, for "did this write change the document": 3 and 3.0 are different stored
 * values even though they compare equal.
 */
export function valuesIdentical(a: Value, b: Value): boolean {
  const kind = kindOf(a);
  if (kind !== kindOf(b)) {
    return false;
  }
  if (kind === "double") {
    return Object.is(a.doubleValue, b.doubleValue);
  }
  if (kind === "array") {
    const x = a.arrayValue?.values ?? [];
    const y = b.arrayValue?.values ?? [];
    return x.length === y.length && x.every((value, i) => valuesIdentical(value, y[i] as Value));
  }
  if (kind === "map") {
    return fieldsIdentical(a.mapValue?.fields ?? {}, b.mapValue?.fields ?? {});
  }
  return compareValues(a, b) === 0;
}

export function fieldsIdentical(a: Record<string, Value>, b: Record<string, Value>): boolean {
  const keys = Object.keys(a);
  return (
    keys.length === Object.keys(b).length &&
    keys.every((key) => b[key] !== undefined && valuesIdentical(a[key] as Value, b[key]))
  );
}
