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
import { AppError, type FieldIssue } from "../shared/errors";

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
 * would address another document), not `.` or `..`, not `__…__` (reserved).
 */
export const userIdField = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[^/]+$/, { error: "must not contain '/'" })
  .refine((value) => value !== "." && value !== ".." && !/^__.*__$/.test(value), {
    error: "is not a valid document id",
  });

/** The `nextCursor` a previous call returned: the path of an integration document. */
export const cursorField = z
  .string()
  .max(1024)
  .regex(/^users\/[^/]+\/integrations\/[^/]+$/, {
    error: "must be a nextCursor returned by a previous call",
  });

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

function parseWith<S extends z.ZodType>(schema: S, value: unknown, root: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new AppError("invalid_argument", `Invalid request ${root}`, {
      issues: toIssues(parsed.error, root),
    });
  }
  return parsed.data;
}

const isJsonObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

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
