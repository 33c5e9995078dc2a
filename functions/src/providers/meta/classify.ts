/**
 * Meta's error signals: the Graph error envelope (`code`, `error_subcode`, `is_transient`) and the
 * usage headers, which are read on every response — failed ones included, since they carry the
 * wait a throttled call must honour (a flaw Airbyte had, airbytehq/airbyte#86316).
 * Codes: https://developers.facebook.com/docs/graph-api/guides/error-handling and
 * https://developers.facebook.com/docs/marketing-api/insights/error-codes; throttling:
 * https://developers.facebook.com/docs/graph-api/overview/rate-limiting.
 */
import type { z } from "zod";

import { ProviderError } from "../errors";
import {
  type Classifier,
  classifyStatus,
  DEFAULT_RATE_LIMIT_WAIT_MS,
  type RawResponse,
} from "../http";
import { QUERY_TOO_LARGE } from "../ranges";
import {
  adAccountUsageSchema,
  appUsageSchema,
  businessUseCaseUsageSchema,
  type GraphError,
  graphErrorSchema,
  insightsThrottleSchema,
} from "./schema";

/**
 * Usage at or above this share of any limit holds every Meta request back: Meta throttles at 100,
 * and calls made over the limit only add errors (which also shrink the insights quota). Airbyte's
 * connector uses the same 95% threshold.
 */
const USAGE_PAUSE_PERCENT = 95;

/**
 * 4 app, 17 user, 32 page, 613 ad-account request limits; 341 application limit; 80000–80014
 * Business Use Case throttles (80000 ads_insights, 80004 ads_management, …).
 */
function isRateLimit(code: number): boolean {
  return [4, 17, 32, 341, 613].includes(code) || (code >= 80000 && code <= 80014);
}

/**
 * "Please reduce the amount of data you're asking for, then retry your request" (code 1, HTTP
 * 500, sent without a subcode: Meta publishes none for it, so its message identifies it, as in
 * Airbyte's connector), 100/1487534 (data-per-call limit) and the sync timeouts 100/1504018 and
 * 2/1504038, whose documented remedy is "Try a smaller date range"
 * (https://developers.facebook.com/docs/marketing-api/insights/error-codes). All are answered
 * with a smaller range (`fetchSlices`).
 */
function isTooMuchData({ code, error_subcode: subcode, message }: GraphError): boolean {
  return (
    (code === 1 && /reduce the amount of data/i.test(message)) ||
    (code === 100 && (subcode === 1487534 || subcode === 1504018)) ||
    (code === 2 && subcode === 1504038)
  );
}

export interface Usage {
  /** The highest utilisation any usage header reports, in percent. */
  peakPercent: number;
  /** The longest wait the headers state, in ms; 0 when they state none. */
  waitMs: number;
}

function headerJson<T>(value: string | undefined, schema: z.ZodType<T>): T | undefined {
  if (value === undefined) {
    return undefined;
  }
  try {
    const parsed = schema.safeParse(JSON.parse(value));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Reads all four usage headers; a header that is absent or not the documented JSON is ignored. */
export function readUsage(headers: Readonly<Record<string, string>>): Usage {
  const business = Object.values(
    headerJson(headers["x-business-use-case-usage"], businessUseCaseUsageSchema) ?? {},
  ).flat();
  const app = headerJson(headers["x-app-usage"], appUsageSchema);
  const account = headerJson(headers["x-ad-account-usage"], adAccountUsageSchema);
  const insights = headerJson(headers["x-fb-ads-insights-throttle"], insightsThrottleSchema);
  const percents = [
    ...business.flatMap((usage) => [usage.call_count, usage.total_cputime, usage.total_time]),
    app?.call_count,
    app?.total_time,
    app?.total_cputime,
    account?.acc_id_util_pct,
    insights?.app_id_util_pct,
    insights?.acc_id_util_pct,
  ].filter((value): value is number => value !== undefined);
  const accountPercent = account?.acc_id_util_pct ?? 0;
  const waits = [
    ...business.map((usage) => (usage.estimated_time_to_regain_access ?? 0) * 60_000),
    // reset_time_duration counts down whatever the usage: it is the wait only when the ad-account
    // limit is the one that is (nearly) spent.
    accountPercent >= USAGE_PAUSE_PERCENT ? (account?.reset_time_duration ?? 0) * 1000 : 0,
  ];
  return { peakPercent: Math.max(0, ...percents), waitMs: Math.ceil(Math.max(0, ...waits)) };
}

function describeError(error: GraphError): { reason: string; message: string } {
  const subcode = error.error_subcode;
  const trace = error.fbtrace_id ? ` (fbtrace_id ${error.fbtrace_id})` : "";
  return {
    reason: `meta_code_${error.code}${subcode === undefined ? "" : `_${subcode}`}`,
    message: `Meta error ${error.code}${subcode === undefined ? "" : `/${subcode}`}: ${error.message}${trace}`,
  };
}

function classifyGraphError(error: GraphError, usage: Usage, response: RawResponse, now: number) {
  const { reason, message } = describeError(error);
  const as = (code: ProviderError["code"], retryAfterMs?: number, why = reason) =>
    new ProviderError("meta", code, why, message, retryAfterMs);
  // Rate limits first: throttling bodies also carry `is_transient: true`.
  if (isRateLimit(error.code)) {
    return as("rate_limited", usage.waitMs || DEFAULT_RATE_LIMIT_WAIT_MS);
  }
  if (isTooMuchData(error)) {
    return as("permanent", undefined, QUERY_TOO_LARGE);
  }
  // 190: the token expired (463), was invalidated (460), the app was removed (458), the token is
  // invalid (467) or unparseable; 102: the session is gone. Meta tokens cannot be refreshed.
  if (error.code === 190 || error.code === 102) {
    return as("auth");
  }
  if (error.is_transient === true || error.code === 1 || error.code === 2) {
    return as("transient");
  }
  // 10 and 200–299: a permission is missing (the account is not shared with the user, or the
  // token lacks ads_read); 100: an invalid parameter or an object that does not exist (100/33);
  // 3: the app lacks the capability.
  if ([3, 10, 100].includes(error.code) || (error.code >= 200 && error.code <= 299)) {
    return as("permanent");
  }
  // A code we do not know (e.g. 2635, a deprecated API version): the HTTP status decides the
  // class, Meta's code and message stay in the error.
  const fallback = classifyStatus("meta", response, now);
  return as(fallback.code, fallback.retryAfterMs);
}

export const classifyMeta: Classifier = (response, ctx) => {
  const usage = readUsage(response.headers);
  const body = graphErrorSchema.safeParse(response.body);
  const error = body.success
    ? classifyGraphError(body.data.error, usage, response, ctx.now)
    : undefined;
  // A rate-limit error's wait pauses the limiter in the HTTP layer; any other response reporting
  // a (nearly) spent limit pauses it here, for the stated wait or, when no header states one, the
  // default rate-limit wait.
  if (
    error?.code !== "rate_limited" &&
    (usage.peakPercent >= USAGE_PAUSE_PERCENT || usage.waitMs > 0)
  ) {
    ctx.pause(usage.waitMs || DEFAULT_RATE_LIMIT_WAIT_MS);
  }
  return error;
};
