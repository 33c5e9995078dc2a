/**
 * The one place where errors become HTTP responses. Handlers return a `JsonResponse` or throw;
 * anything that is not an `AppError` is logged and answered as a bare 500, so no internal detail
 * (and no secret) reaches a caller.
 *
 * Every error body is bounded, whatever the request: messages and field names may quote the
 * input (a field name is a key the caller sent), so each is cut to a short excerpt, and at most
 * `MAX_ISSUES` issues are listed: an error body carries at most 6,300 characters of text (JSON
 * escaping aside), where a 1 MB body of unknown fields would otherwise earn megabytes.
 */
import { ConfigError } from "../shared/config";
import { AppError, type AppErrorCode, type FieldIssue } from "../shared/errors";
import type { Logger } from "../shared/logger";

export const HTTP_STATUS: { readonly [code in AppErrorCode]: number } = {
  invalid_argument: 400,
  unauthenticated: 401,
  permission_denied: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  rate_limited: 429,
  misconfigured: 500,
  unavailable: 503,
  internal: 500,
};

/** Issues listed in one error body; the message says how many there were in all. */
export const MAX_ISSUES = 20;
const MAX_MESSAGE_CHARS = 300;
const MAX_FIELD_CHARS = 100;
const MAX_ISSUE_MESSAGE_CHARS = 200;

/**
 * `text` cut to `maxChars` (ending in "…" when cut), never between the halves of a surrogate
 * pair, and with any lone surrogate replaced by U+FFFD so the response is well-formed text.
 */
function excerpt(text: string, maxChars: number): string {
  const head =
    text.length <= maxChars
      ? text
      : `${text.slice(0, maxChars - 1).replace(/[\uD800-\uDBFF]$/, "")}…`;
  return head.replace(/\p{Surrogate}/gu, "\uFFFD");
}

function boundedError(appError: AppError): { message: string; issues?: FieldIssue[] } {
  const issues = appError.details.issues;
  if (!issues) {
    return { message: excerpt(appError.message, MAX_MESSAGE_CHARS) };
  }
  const omitted =
    issues.length > MAX_ISSUES ? ` (first ${MAX_ISSUES} of ${issues.length} issues)` : "";
  return {
    message: excerpt(appError.message, MAX_MESSAGE_CHARS - omitted.length) + omitted,
    issues: issues.slice(0, MAX_ISSUES).map((issue) => ({
      field: excerpt(issue.field, MAX_FIELD_CHARS),
      message: excerpt(issue.message, MAX_ISSUE_MESSAGE_CHARS),
    })),
  };
}

export interface JsonResponse {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** The minimal slice of an Express response we write to. */
export interface ResponseSink {
  status(code: number): ResponseSink;
  set(field: string, value: string): ResponseSink;
  json(body: unknown): unknown;
}

export function errorResponse(error: unknown, logger: Logger): JsonResponse {
  const appError =
    error instanceof AppError
      ? error
      : error instanceof ConfigError
        ? new AppError(
            "misconfigured",
            `Server configuration is invalid: ${error.issues.map((i) => i.variable).join(", ")}`,
          )
        : undefined;
  if (!appError) {
    logger.error("unhandled error", {
      errorName: error instanceof Error ? error.name : typeof error,
      errorMessage: error instanceof Error ? error.message : undefined,
    });
    return { status: 500, body: { error: { code: "internal", message: "Internal error" } } };
  }
  const headers: Record<string, string> = {};
  if (appError.details.retryAfterSeconds !== undefined) {
    headers["Retry-After"] = String(Math.ceil(appError.details.retryAfterSeconds));
  }
  if (appError.code === "misconfigured") {
    logger.error("configuration invalid", { message: appError.message });
  }
  return {
    status: HTTP_STATUS[appError.code],
    headers,
    body: { error: { code: appError.code, ...boundedError(appError) } },
  };
}

export function send(res: ResponseSink, response: JsonResponse): void {
  res.set("Cache-Control", "no-store");
  for (const [name, value] of Object.entries(response.headers ?? {})) {
    res.set(name, value);
  }
  res.status(response.status).json(response.body);
}
