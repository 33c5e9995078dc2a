/**
 * Request validation at the HTTP boundary. Every schema is a strict object (an unknown field is
 * an error, so a typo such as `maxJob` is refused instead of silently ignored) and every number
 * is bounded. A failure becomes one `invalid_argument` AppError (400) listing each offending
 * field; handlers validate before they write anything, so a rejected request changes nothing.
 *
 * The field schemas below are shared by the endpoints; each endpoint owns its request schema.
 */
import { z } from "zod";

import { MAX_LOOKBACK_DAYS } from "../integrations/model";
import { JOB_TYPES } from "../jobs/model";
import { PROVIDER_IDS } from "../providers/types";
import { documentIdProblem, documentIdSchema } from "../shared/document-id";
import { AppError, type FieldIssue } from "../shared/errors";
import { MAX_ISSUES } from "./respond";

const boundedInt = (min: number, max: number) => z.number().int().min(min).max(max);

/** Users scanned per call (cron `process_all_users`, worker, schedule `allUsers`). */
export const maxUsersField = boundedInt(1, 500);
/** Jobs run per call: each runs a platform fetch, so one invocation stays well inside its timeout. */
export const maxJobsField = boundedInt(1, 100);
/** Days a job pulls: never more than the deepest restatement window we honour. */
export const timeframeDaysField = boundedInt(1, MAX_LOOKBACK_DAYS);
export const jobTypeField = z.enum(JOB_TYPES);
export const providerIdField = z.enum(PROVIDER_IDS);

/**
 * A Firebase uid (1–128 characters) that is also a single Firestore document id: no `/` (which
 * would address another document), not `.` or `..`, not `__…__` (reserved); 128 UTF-16 units
 * are at most 384 UTF-8 bytes, well inside Firestore's limit.
 */
export const userIdField = documentIdSchema.max(128);

const CURSOR_PATTERN = /^users\/([^/]+)\/integrations\/([^/]+)$/;

/**
 * The `nextCursor` a previous call returned: the path of an integration document, whose two ids
 * Firestore must accept (the scan starts after that document).
 */
export const cursorField = z
  .string()
  .max(1024)
  .refine(
    (value) => {
      const ids = CURSOR_PATTERN.exec(value)?.slice(1);
      return ids !== undefined && ids.every((id) => documentIdProblem(id) === undefined);
    },
    { error: "must be a nextCursor returned by a previous call" },
  );

/** A query-string integer (query values arrive as strings). */
export const queryIntField = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,6}$/, { error: `must be a whole number from ${min} to ${max}` })
    .transform(Number)
    .pipe(boundedInt(min, max));

function toIssues(error: z.ZodError, root: string): FieldIssue[] {
  return error.issues.flatMap((issue) => {
    const path = issue.path.map(String);
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => ({
        field: [...path, key].join("."),
        message: "is not a known field",
      }));
    }
    return [{ field: path.length > 0 ? path.join(".") : root, message: issue.message }];
  });
}

/**
 * A lone surrogate. With the `u` flag a well-formed pair matches as one code point, so this is
 * `!String.prototype.isWellFormed()` (ES2024, beyond the compiler's `lib`).
 */
const LONE_SURROGATE = /\p{Surrogate}/u;

interface Visit {
  value: unknown;
  key?: string;
  parent?: Visit;
}

const pathOf = (visit: Visit, root: string): string => {
  const keys: string[] = [];
  for (let at: Visit | undefined = visit; at?.key !== undefined; at = at.parent) {
    keys.push(at.key);
  }
  return keys.length > 0 ? keys.reverse().join(".") : root;
};

/**
 * The first `MAX_ISSUES` ill-formed strings in `input` (keys included), as field issues. The
 * walk keeps its own stack, since a JSON body may nest deeper than the call stack, and links each
 * step to its parent so a path is built only for what is reported.
 */
function illFormedStrings(input: unknown, root: string): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const pending: Visit[] = [{ value: input }];
  for (let visit = pending.pop(); visit && issues.length < MAX_ISSUES; visit = pending.pop()) {
    const { value } = visit;
    if (typeof value === "string") {
      if (LONE_SURROGATE.test(value)) {
        issues.push({ field: pathOf(visit, root), message: "must be well-formed Unicode text" });
      }
    } else if (typeof value === "object" && value !== null) {
      // Pushed last to first, so they are visited (and reported) in input order.
      for (const [key, item] of Object.entries(value).reverse()) {
        const child: Visit = { value: item, key, parent: visit };
        if (LONE_SURROGATE.test(key)) {
          issues.push({ field: pathOf(child, root), message: "is not a well-formed field name" });
        } else {
          pending.push(child);
        }
      }
    }
  }
  // An object's keys are all checked at once, so one object may have added more.
  return issues.slice(0, MAX_ISSUES);
}

/** The 400 of a request whose `root` (body, query) has these issues. */
const invalidRequest = (root: string, issues: FieldIssue[]): AppError =>
  new AppError("invalid_argument", `Invalid request ${root}`, { issues });

/**
 * A body field refused by a rule only its handler can check (against the clock, against stored
 * documents), answered as a schema's refusal is.
 */
export const invalidBodyField = (field: string, message: string): AppError =>
  invalidRequest("body", [{ field, message }]);

function parseWith<S extends z.ZodType>(schema: S, value: unknown, root: string): z.output<S> {
  const illFormed = illFormedStrings(value, root);
  if (illFormed.length > 0) {
    throw invalidRequest(root, illFormed);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw invalidRequest(root, toIssues(parsed.error, root));
  }
  return parsed.data;
}

/**
 * A plain object, as JSON and query parsing produce: not an array, nor a `Buffer` (a body of
 * another content type), whose bytes would each read as an unknown field.
 */
const isJsonObject = (value: unknown): value is Record<string, unknown> => {
  if (typeof value !== "object" || value === null) {
    return false;
  }
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
};

/** Parses a JSON body; an absent or non-object body is a 400 too. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  if (!isJsonObject(body)) {
    throw new AppError("invalid_argument", "Request body must be a JSON object", {
      issues: [{ field: "body", message: "must be a JSON object" }],
    });
  }
  return parseWith(schema, body, "body");
}

/** Parses the query string (absent means empty). */
export function parseQuery<S extends z.ZodType>(schema: S, query: unknown): z.output<S> {
  return parseWith(schema, query ?? {}, "query");
}
