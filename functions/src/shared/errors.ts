/**
 * The closed set of error codes the service answers with. HTTP statuses are assigned in one
 * place (`http/respond.ts`), through a table the compiler checks for completeness.
 */
export const APP_ERROR_CODES = [
  "invalid_argument",
  "unauthenticated",
  "permission_denied",
  "not_found",
  "method_not_allowed",
  "conflict",
  "rate_limited",
  "misconfigured",
  "unavailable",
  "internal",
] as const;

export type AppErrorCode = (typeof APP_ERROR_CODES)[number];

export interface FieldIssue {
  /** Dotted path of the offending field, e.g. `timeframeDays` or `body`. */
  field: string;
  message: string;
}

export class AppError extends Error {
  constructor(
    readonly code: AppErrorCode,
    message: string,
    readonly details: { issues?: FieldIssue[]; retryAfterSeconds?: number } = {},
  ) {
    super(message);
    this.name = "AppError";
  }
}
