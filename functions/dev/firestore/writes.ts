/**
 * One `Write` applied to one document, as a pure function: preconditions, update masks, field
 * transforms. Semantics follow the comments of google/firestore/v1/write.proto.
 */
import { status } from "@grpc/grpc-js";

import { RpcError } from "./errors";
import { deleteField, getField, parseFieldPath, setField } from "./paths";
import type { Fields, FieldTransform, Precondition, Value, Write, WriteResult } from "./proto";
import type { StoredDocument } from "./store";
import {
  compareValues,
  fieldsIdentical,
  integer,
  integerValue,
  isNaNValue,
  isNumber,
  microsTimestamp,
  NULL_VALUE,
  timestampMicros,
  toDouble,
  valuesEqual,
} from "./values";

export interface AppliedWrite {
  /** The document after the write; `undefined` when it does not exist (deleted or never was). */
  document: StoredDocument | undefined;
  result: WriteResult;
}

/** The document a write targets. */
export function writeTarget(write: Write): string {
  const name = write.update?.name ?? write.delete ?? write.transform?.document;
  if (name === undefined) {
    throw new RpcError(status.INVALID_ARGUMENT, "write without operation");
  }
  return name;
}

function checkPrecondition(
  name: string,
  current: StoredDocument | undefined,
  precondition: Precondition | null | undefined,
): void {
  if (precondition?.exists === true && current === undefined) {
    throw new RpcError(status.NOT_FOUND, `No document to update: ${name}`);
  }
  if (precondition?.exists === false && current !== undefined) {
    throw new RpcError(status.ALREADY_EXISTS, `Document already exists: ${name}`);
  }
  const required = precondition?.updateTime;
  if (required && current?.updateTime !== timestampMicros(required)) {
    throw new RpcError(
      status.FAILED_PRECONDITION,
      `The stored version (${current?.updateTime ?? 0}) of ${name} does not match the required base version (${timestampMicros(required)})`,
    );
  }
}

const MAX_INT64 = 2n ** 63n - 1n;
const MIN_INT64 = -(2n ** 63n);

function increment(current: Value | undefined, operand: Value): Value {
  if (!isNumber(current)) {
    return operand;
  }
  const base = current as Value;
  if (base.integerValue !== undefined && operand.integerValue !== undefined) {
    // Integer overflow saturates at the int64 bounds.
    const sum = integer(base) + integer(operand);
    return integerValue(sum > MAX_INT64 ? MAX_INT64 : sum < MIN_INT64 ? MIN_INT64 : sum);
  }
  return { doubleValue: toDouble(base) + toDouble(operand) };
}

/** `maximum` (direction 1) or `minimum` (direction -1); equivalent operands keep the stored one. */
function extremum(current: Value | undefined, operand: Value, direction: 1 | -1): Value {
  if (!isNumber(current)) {
    return operand;
  }
  const base = current as Value;
  if (isNaNValue(base) || isNaNValue(operand)) {
    return { doubleValue: NaN };
  }
  return compareValues(operand, base) * direction > 0 ? operand : base;
}

const arrayOf = (value: Value | undefined): Value[] => value?.arrayValue?.values ?? [];

function applyTransform(
  fields: Fields,
  transform: FieldTransform,
  commitTime: bigint,
): { fields: Fields; result: Value } {
  const path = parseFieldPath(transform.fieldPath);
  const current = getField(fields, path);
  let next: Value;
  let result: Value;
  if (transform.setToServerValue === "REQUEST_TIME") {
    next = result = { timestampValue: microsTimestamp(commitTime) };
  } else if (transform.increment) {
    next = result = increment(current, transform.increment);
  } else if (transform.maximum) {
    next = result = extremum(current, transform.maximum, 1);
  } else if (transform.minimum) {
    next = result = extremum(current, transform.minimum, -1);
  } else if (transform.appendMissingElements) {
    const values = [...arrayOf(current)];
    for (const element of transform.appendMissingElements.values) {
      if (!values.some((value) => valuesEqual(value, element))) {
        values.push(element);
      }
    }
    next = { arrayValue: { values } };
    result = NULL_VALUE;
  } else if (transform.removeAllFromArray) {
    const removed = transform.removeAllFromArray.values;
    const values = arrayOf(current).filter((value) => !removed.some((r) => valuesEqual(value, r)));
    next = { arrayValue: { values } };
    result = NULL_VALUE;
  } else {
    throw new RpcError(status.INVALID_ARGUMENT, `unsupported transform on ${transform.fieldPath}`);
  }
  return { fields: setField(fields, path, next), result };
}

/** The fields an `update` operation leaves, before its transforms. */
function updatedFields(current: StoredDocument | undefined, write: Write): Fields {
  const given = write.update?.fields ?? {};
  if (!write.updateMask) {
    return given;
  }
  // With a mask only the masked paths change: present in the input, they are set; absent from
  // it, they are deleted (that is how `FieldValue.delete()` and `update()` reach the server).
  let fields = current?.fields ?? {};
  for (const fieldPath of write.updateMask.fieldPaths) {
    const path = parseFieldPath(fieldPath);
    const value = getField(given, path);
    fields = value === undefined ? deleteField(fields, path) : setField(fields, path, value);
  }
  return fields;
}

/**
 * Applies `write` to `current` at `commitTime`. Throws an RpcError when a precondition fails;
 * never mutates its inputs, so a caller can apply a batch to scratch state and drop it on error.
 */
export function applyWrite(
  current: StoredDocument | undefined,
  write: Write,
  commitTime: bigint,
): AppliedWrite {
  const name = writeTarget(write);
  checkPrecondition(name, current, write.currentDocument);
  if (write.delete !== undefined) {
    return { document: undefined, result: { transformResults: [] } };
  }
  let fields = write.update ? updatedFields(current, write) : (current?.fields ?? {});
  const transformResults: Value[] = [];
  for (const transform of write.transform?.fieldTransforms ?? write.updateTransforms ?? []) {
    const applied = applyTransform(fields, transform, commitTime);
    fields = applied.fields;
    transformResults.push(applied.result);
  }
  if (current && fieldsIdentical(current.fields, fields)) {
    // "If the write did not actually change the document, this will be the previous update_time."
    return {
      document: current,
      result: { updateTime: microsTimestamp(current.updateTime), transformResults },
    };
  }
  return {
    document: {
      name,
      fields,
      createTime: current?.createTime ?? commitTime,
      updateTime: commitTime,
    },
    result: { updateTime: microsTimestamp(commitTime), transformResults },
  };
}
