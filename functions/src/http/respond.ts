/**
 * The one place where errors become HTTP responses. Handlers return a `JsonResponse` or throw;
 * anything that is not an `AppError` is logged and answered as a bare 500, so no internal detail
 * (and no secret) reaches a caller.
 */
import { ConfigError } from "../shared/config";
import { AppError, type AppErrorCode } from "../shared/errors";
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
    body: {
      error: {
        code: appError.code,
        message: appError.message,
        ...(appError.details.issues ? { issues: appError.details.issues } : {}),
      },
    },
  };
}

export function send(res: ResponseSink, response: JsonResponse): void {
  res.set("Cache-Control", "no-store");
  for (const [name, value] of Object.entries(response.headers ?? {})) {
    res.set(name, value);
  }
  res.status(response.status).json(response.body);
}
