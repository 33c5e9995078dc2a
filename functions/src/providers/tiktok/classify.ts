/**
 * TikTok's error signals. TikTok answers errors with HTTP 200 and a non-zero body `code` ("the
 * return code takes precedence over the HTTP status"), so the code is read on every response.
 * Return codes: https://business-api.tiktok.com/portal/docs?id=1737172488964097
 */
import { ProviderError } from "../errors";
import type { Classifier } from "../http";
import type { PauseScope } from "../limiter";
import { QUERY_TOO_LARGE } from "../ranges";
import type { ProviderErrorCode } from "../types";
import { envelopeSchema } from "./schema";

/**
 * TikTok sends no Retry-After. Its limits are counted per second, minute and day
 * (https://ads.tiktok.com/marketing_api/docs?id=1740029171730433) and the code does not say
 * which one was hit; the QPS window ("retry in the next second") is the documented wait we can
 * honour inline, and a persisting minute or day limit surfaces again on the next attempts.
 */
export const RATE_LIMIT_WAIT_MS = 1_000;

/**
 * Codes that are not `permanent`. Everything else in 4xxxx is a request the user or we must change:
 * 40000/40002/40006/40051 parameters or version, 40001/40125 no permission, 40106/40119 the token
 * does not cover this advertiser (advertiser-scoped, so the other accounts still run), 40300/40301
 * unknown advertiser.
 */
const CODE_CLASSES: ReadonlyMap<number, ProviderErrorCode> = new Map([
  // App-level QPS/QPM/QPD (40100, 40016) and advertiser-level QPS (40133) limits.
  [40100, "rate_limited"],
  [40016, "rate_limited"],
  [40133, "rate_limited"],
  // Token expired / empty / invalid or revoked: Marketing API tokens cannot be refreshed, so the
  // user must re-authorize.
  [40102, "auth"],
  [40104, "auth"],
  [40105, "auth"],
  // "Task is not ready. Wait for the task to complete and try again." We download a task's output
  // only once its check said SUCCESS, so a 40201 after that is TikTok catching up.
  [40201, "transient"],
]);

/**
 * Whose limit a rate-limit code says was reached, as the return-code table words it: 40100 and
 * 40016 "the rate limit for the endpoint at the developer application level" (every advertiser
 * we sync shares it), 40133 "the rate limit for the used endpoint at the advertiser level"
 * ("Advertiser ({ID})'s QPS … reaches QPS limit …"), so only that advertiser waits.
 */
const RATE_LIMIT_SCOPES: ReadonlyMap<number, PauseScope> = new Map([[40133, "account"]]);

/**
 * A report query covering too much data, answered with a smaller date range (`fetchSlices`)
 * like Meta's "reduce the amount of data". Unverified: the code is in neither the return-code
 * table of the provider notes (§4.6) nor the copy of TikTok's return-code page we hold
 * (api-evangelist/tiktok-ads `errors/tiktok-ads-error-codes.yml`); its meaning is as issue 11
 * reports it.
 */
export const QUERY_TOO_LARGE_CODE = 40067;

function classOf(code: number): ProviderErrorCode {
  // 5xxxx system errors (50000, 50002, 51305) and 60001 maintenance are TikTok-side.
  return CODE_CLASSES.get(code) ?? (code >= 50000 ? "transient" : "permanent");
}

export const classifyTikTok: Classifier = (response) => {
  const envelope = envelopeSchema.safeParse(response.body);
  if (!envelope.success || envelope.data.code === 0) {
    // Not TikTok's envelope (a gateway page, a truncated body): the HTTP status or the response
    // schema decides.
    return undefined;
  }
  const { code, message, request_id: requestId } = envelope.data;
  const errorCode = classOf(code);
  return new ProviderError(
    "tiktok",
    errorCode,
    code === QUERY_TOO_LARGE_CODE ? QUERY_TOO_LARGE : `tiktok_code_${code}`,
    `TikTok code ${code}: ${message || "no message"}${requestId ? ` (request_id ${requestId})` : ""}`,
    errorCode === "rate_limited" ? RATE_LIMIT_WAIT_MS : undefined,
    RATE_LIMIT_SCOPES.get(code),
  );
};
