/**
 * Google's error signals → the closed vocabulary. Two body families reach us:
 * - `google.rpc.Status` from googleads.googleapis.com, classified by its canonical `status`
 *   (https://developers.google.com/google-ads/api/docs/best-practices/understand-api-errors),
 *   refined by the `GoogleAdsFailure` error code where the status alone misleads;
 * - RFC 6749 §5.2 `{error, error_description}` from the OAuth token endpoint.
 */
import { parseRetryAfter, ProviderError } from "../errors";
import {
  type Classifier,
  classifyStatus,
  DEFAULT_RATE_LIMIT_WAIT_MS,
  type RawResponse,
} from "../http";
import { beyondRetention } from "../ranges";
import type { ProviderErrorCode } from "../types";
import { type GoogleStatus, googleStatusSchema, oauthErrorSchema } from "./schema";

/** `google.rpc.Code` names as Google Ads uses them (provider-apis notes §1.6). */
const STATUS_CLASSES: Readonly<Record<string, ProviderErrorCode>> = {
  RESOURCE_EXHAUSTED: "rate_limited",
  // The runner refreshes the token once; a second UNAUTHENTICATED means reconnect.
  UNAUTHENTICATED: "auth",
  PERMISSION_DENIED: "permanent",
  INVALID_ARGUMENT: "permanent",
  NOT_FOUND: "permanent",
  FAILED_PRECONDITION: "permanent",
  OUT_OF_RANGE: "permanent",
  ALREADY_EXISTS: "permanent",
  UNIMPLEMENTED: "permanent",
  ABORTED: "transient",
  CANCELLED: "transient",
  UNKNOWN: "transient",
  INTERNAL: "transient",
  UNAVAILABLE: "transient",
  DEADLINE_EXCEEDED: "transient",
};

/** `GoogleAdsFailure` codes (`category.VALUE`) whose class differs from their status's. */
const ERROR_CODE_CLASSES: Readonly<Record<string, ProviderErrorCode>> = {
  // Sent as UNAUTHENTICATED, yet about the customer id, not the token: a refresh cannot fix them,
  // and an `auth` answer would fail every other account of the connection.
  "authenticationError.CUSTOMER_NOT_FOUND": "permanent",
  "authenticationError.CLIENT_CUSTOMER_ID_INVALID": "permanent",
  // The project may not use this quota at all: waiting does not help.
  "quotaError.ACCESS_PROHIBITED": "permanent",
};

/**
 * Google's refusal of days older than it keeps daily metrics for: "Metrics with daily, hourly, or
 * weekly segmentation are only available for the last 37 months", counted in the customer's
 * `time_zone` (https://developers.google.com/google-ads/api/reference/rpc/v26/DateRangeErrorEnum.DateRangeError,
 * https://developers.google.com/google-ads/api/docs/query/date-ranges). Versions before v24 send
 * `INVALID_DATE` instead, which also covers malformed dates, so only this code is read as the
 * account's history starting there.
 */
const RETENTION_REFUSAL = "dateRangeError.REQUESTED_DATE_GRANULARITY_NOT_SUPPORTED";

/** A protobuf `Duration` in JSON ("40591s", "1.500s") → ms, rounded up so we never retry early. */
export function parseDuration(text: string | undefined): number | undefined {
  const match = text === undefined ? null : /^(\d+)(?:\.(\d{1,9}))?s$/.exec(text);
  if (!match) {
    return undefined;
  }
  const [, seconds = "0", fraction = ""] = match;
  return Number(seconds) * 1000 + Math.ceil(Number(fraction.padEnd(9, "0")) / 1_000_000);
}

function fromStatus(error: GoogleStatus, raw: RawResponse, now: number): ProviderError {
  const failure = error.details.find((detail) => detail.errors)?.errors?.[0];
  const [category, value] = Object.entries(failure?.errorCode ?? {})[0] ?? [];
  const message = `${error.status ?? `HTTP ${error.code}`}: ${failure?.message ?? error.message}`;
  if (`${category}.${value}` === RETENTION_REFUSAL) {
    return beyondRetention("google", message);
  }
  const code =
    (category && value ? ERROR_CODE_CLASSES[`${category}.${value}`] : undefined) ??
    (error.status ? STATUS_CLASSES[error.status] : undefined);
  if (!code) {
    // No canonical status we know: `error.code` is the HTTP-equivalent status.
    return classifyStatus("google", { ...raw, status: error.code }, now);
  }
  const errorInfoReason = error.details.find((detail) => detail.reason)?.reason;
  const reason = (value ?? errorInfoReason ?? error.status ?? `http_${error.code}`).toLowerCase();
  const quota = failure?.details?.quotaErrorDetails;
  const retryAfterMs =
    code === "rate_limited"
      ? (parseDuration(quota?.retryDelay) ??
        parseRetryAfter(raw.headers["retry-after"], now) ??
        DEFAULT_RATE_LIMIT_WAIT_MS)
      : undefined;
  // `rateScope` names whose quota ran out (`QuotaErrorDetails.QuotaRateScope`): ACCOUNT is "per
  // customer account quota", so only this customer waits; DEVELOPER is the "per project quota
  // (formerly developer token quota)" every customer we sync shares. Without it (UNSPECIFIED,
  // UNKNOWN, no detail) we cannot tell, and wait as for the project.
  // https://developers.google.com/google-ads/api/reference/rpc/v26/QuotaErrorDetails.QuotaRateScope
  const scope = quota?.rateScope === "ACCOUNT" ? "account" : "platform";
  return new ProviderError("google", code, reason, message, retryAfterMs, scope);
}

export const classifyGoogle: Classifier = (raw, { now }) => {
  // A stream that fails after it started is still HTTP 200: the array's last element is then a
  // Status instead of a batch (googleapis/gapic-showcase#1377). Without this check the batch
  // schema would read it as an empty batch and silently drop the rest of the rows.
  const candidate = Array.isArray(raw.body) ? (raw.body as unknown[]).at(-1) : raw.body;
  const status = googleStatusSchema.safeParse(candidate);
  if (status.success) {
    return fromStatus(status.data.error, raw, now);
  }
  const oauth = oauthErrorSchema.safeParse(raw.body);
  if (!oauth.success) {
    return undefined;
  }
  const { error, error_description: description } = oauth.data;
  if (error === "invalid_grant") {
    // Revoked, expired (e.g. 7-day "Testing" apps) or issued to another client: reconnect.
    return new ProviderError(
      "google",
      "auth",
      "invalid_grant",
      `the refresh token was refused: ${description ?? error}`,
    );
  }
  if (raw.status >= 400 && raw.status < 500) {
    // invalid_client, unauthorized_client, invalid_request…: our OAuth client configuration is
    // wrong, which no reconnect by the user can fix.
    return new ProviderError(
      "google",
      "permanent",
      `oauth_${error}`,
      `the token endpoint rejected the request: ${description ?? error}`,
    );
  }
  return undefined;
};
