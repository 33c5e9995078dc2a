/**
 * Resource names (`projects/p/databases/d/documents/col/doc/...`) and field paths
 * (`a.b`, `` `x.y`.z ``), and reading/writing a field path inside a document's fields.
 */
import { compareStrings, sign } from "./compare";
import { invalidArgument } from "./errors";
import type { Fields, Value } from "./proto";

/** `projects/p/databases/d` of any resource name under it. */
export function databaseOf(name: string): string {
  const parts = name.split("/");
  if (parts.length < 4 || parts[0] !== "projects" || parts[2] !== "databases") {
    throw invalidArgument(`invalid resource name: ${name}`);
  }
  return parts.slice(0, 4).join("/");
}

/** Document ids of the form `__id123__` are numeric ids; they sort before every string id. */
const NUMERIC_ID = /^__id(-?\d+)__$/;

function compareSegments(a: string, b: string): number {
  const aNumeric = NUMERIC_ID.exec(a)?.[1];
  const bNumeric = NUMERIC_ID.exec(b)?.[1];
  if (aNumeric !== undefined && bNumeric !== undefined) {
    return sign(BigInt(aNumeric) - BigInt(bNumeric));
  }
  if (aNumeric !== undefined) {
    return -1;
  }
  if (bNumeric !== undefined) {
    return 1;
  }
  return compareStrings(a, b);
}

/** Document names (and reference values) order segment by segment, then shorter first. */
export function compareResourceNames(a: string, b: string): number {
  const x = a.split("/");
  const y = b.split("/");
  for (let i = 0; i < x.length && i < y.length; i++) {
    const bySegment = compareSegments(x[i] as string, y[i] as string);
    if (bySegment !== 0) {
      return bySegment;
    }
  }
  return sign(x.length - y.length);
}

/**
 * Splits a field path in Firestore's canonical form: segments joined by `.`, a segment with
 * characters other than letters, digits and `_` (or starting with a digit) quoted in backticks,
 * with `\` escaping inside the quotes.
 */
export function parseFieldPath(path: string): string[] {
  const segments: string[] = [];
  let current = "";
  let quoted = false;
  let wasQuoted = false;
  for (let i = 0; i < path.length; i++) {
    const char = path[i] as string;
    if (quoted) {
      if (char === "\\") {
        current += path[++i] ?? "";
      } else if (char === "`") {
        quoted = false;
      } else {
        current += char;
      }
    } else if (char === "`") {
      quoted = true;
      wasQuoted = true;
    } else if (char === ".") {
      if (current === "" && !wasQuoted) {
        throw invalidArgument(`invalid field path: ${path}`);
      }
      segments.push(current);
      current = "";
      wasQuoted = false;
    } else {
      current += char;
    }
  }
  if (quoted || (current === "" && !wasQuoted)) {
    throw invalidArgument(`invalid field path: ${path}`);
  }
  segments.push(current);
  return segments;
}

export function getField(fields: Fields, path: readonly string[]): Value | undefined {
  let value: Value | undefined = { mapValue: { fields } };
  for (const segment of path) {
    value = value.mapValue?.fields[segment];
    if (value === undefined) {
      return undefined;
    }
  }
  return value;
}

/** A copy of `fields` with `value` at `path`; maps along the path are copied, never mutated. */
export function setField(fields: Fields, path: readonly string[], value: Value): Fields {
  const [head, ...rest] = path;
  if (head === undefined) {
    throw invalidArgument("empty field path");
  }
  if (rest.length === 0) {
    return { ...fields, [head]: value };
  }
  // Writing below a field that is not a map replaces it with a map, as Firestore does.
  const child = fields[head]?.mapValue?.fields ?? {};
  return { ...fields, [head]: { mapValue: { fields: setField(child, rest, value) } } };
}

/** A copy of `fields` without the field at `path` (unchanged when there is none). */
export function deleteField(fields: Fields, path: readonly string[]): Fields {
  const [head, ...rest] = path;
  if (head === undefined || fields[head] === undefined) {
    return fields;
  }
  if (rest.length === 0) {
    const { [head]: _removed, ...remaining } = fields;
    return remaining;
  }
  const child = fields[head].mapValue?.fields;
  if (child === undefined) {
    return fields;
  }
  return { ...fields, [head]: { mapValue: { fields: deleteField(child, rest) } } };
}

/** Only the listed field paths of `fields` (a read mask or a query's `select`). */
export function projectFields(fields: Fields, paths: readonly (readonly string[])[]): Fields {
  let projected: Fields = {};
  for (const path of paths) {
    const value = getField(fields, path);
    if (value !== undefined) {
      projected = setField(projected, path, value);
    }
  }
  return projected;
}
