/**
 * Meta's error signals: the Graph error envelope (`code`, `error_subcode`, `is_transient`) and the
 * usage headers, which are read on every response — failed ones included, since they carry the
 * wait a throttled call must honour (a flaw Airbyte had, airbytehq/airbyte#86316).
 * Codes: https://developers.facebook.com/docs/graph-api/guides/error-handling and
 * https://developers.facebook.com/docs/marketing-api/insights/error-codes; throttling:
 * https://developers.facebook.com/docs/graph-api/overview/rate-limiting and
 * https://developers.facebook.com/docs/marketing-api/overview/rate-limiting. Each limit holds back
 * what it counts: the app's, every Meta request; an ad account's, only that account's.
 */
import type { z } from "zod";

import { ProviderError } from "../errors";
import {
  type Classifier,
  classifyStatus,
  DEFAULT_RATE_LIMIT_WAIT_MS,
  type RawResponse,
} from "../http";
import type { PauseScope } from "../limiter";
import { beyondRetention, QUERY_TOO_LARGE } from "../ranges";
import {
  adAccountUsageSchema,
  appUsageSchema,
  businessUseCaseUsageSchema,
  type GraphError,
  graphErrorSchema,
  insightsThrottleSchema,
} from "./schema";

/**
 * Usage at or above this share of a limit holds back the requests it counts: Meta throttles at
 * 100, and calls made over the limit only add errors (which also shrink the insights quota).
 * Airbyte's connector uses the same 95% threshold.
 */
const USAGE_PAUSE_PERCENT = 95;

/**
 * The rate-limit codes, by what they say is limited; `undefined` for any other code.
 * - Ad account: 17 ("User request limit reached", 2446079) and 613 ("There have been too many
 *   calls from this ad-account", 1487742) are the Marketing API's own limits, which are "at the
 *   ad account level" — Marketing API calls are "excluded from all the Graph API rate
 *   limitations", so 17 is not the Graph per-user limit here; 80000–80014 are the Business Use
 *   Case throttles (80000 ads_insights, 80004 ads_management, …), counted "for each ad account".
 *   Every call of ours addresses one ad account, so the account it was for is what waits.
 * - App: 4 ("Application request limit reached", 1504022/1504039: "When your app is rate
 *   limited, all calls for the app are limited"), 341 (application limit) and 32 (a Page's
 *   limit, which no call of ours counts against: it cannot be placed on an account).
 */
function rateLimitScope(code: number): PauseScope | undefined {
  if (code === 17 || code === 613 || (code >= 80000 && code <= 80014)) {
    return "account";
  }
  return [4, 32, 341].includes(code) ? "platform" : undefined;
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
  /** The highest utilisation reported for the limit, in percent. */
  peakPercent: number;
  /** The longest wait stated for the limit, in ms; 0 when none is stated. */
  waitMs: number;
}

/** What the usage headers report, by what each limit counts. */
export interface ScopedUsage {
  /** The app's limits: `X-App-Usage` and the insights throttle's app share. */
  app: Usage;
  /** The called ad account's: `X-Ad-Account-Usage` and the insights throttle's account share. */
  account: Usage;
  /**
   * Business Use Case limits (`X-Business-Use-Case-Usage`), by the id of the business object
   * that keys them — for the ads_insights and ads_management use cases, the ad account.
   */
  business: Readonly<Record<string, Usage>>;
}

function usageOf(percents: ReadonlyArray<number | undefined>, waitsMs: readonly number[]): Usage {
  return {
    peakPercent: Math.max(0, ...percents.filter((value) => value !== undefined)),
    waitMs: Math.ceil(Math.max(0, ...waitsMs)),
  };
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
export function readUsage(headers: Readonly<Record<string, string>>): ScopedUsage {
  const business = headerJson(headers["x-business-use-case-usage"], businessUseCaseUsageSchema);
  const app = headerJson(headers["x-app-usage"], appUsageSchema);
  const account = headerJson(headers["x-ad-account-usage"], adAccountUsageSchema);
  const insights = headerJson(headers["x-fb-ads-insights-throttle"], insightsThrottleSchema);
  const accountPercent = account?.acc_id_util_pct ?? 0;
  return {
    // X-App-Usage states no wait.
    app: usageOf(
      [app?.call_count, app?.total_time, app?.total_cputime, insights?.app_id_util_pct],
      [],
    ),
    account: usageOf(
      [account?.acc_id_util_pct, insights?.acc_id_util_pct],
      // reset_time_duration counts down whatever the usage: it is the wait only when the
      // ad-account limit is the one that is (nearly) spent.
      [accountPercent >= USAGE_PAUSE_PERCENT ? (account?.reset_time_duration ?? 0) * 1000 : 0],
    ),
    business: Object.fromEntries(
      Object.entries(business ?? {}).map(([id, useCases]) => [
        id,
        usageOf(
          useCases.flatMap((usage) => [usage.call_count, usage.total_cputime, usage.total_time]),
          useCases.map((usage) => (usage.estimated_time_to_regain_access ?? 0) * 60_000),
        ),
      ]),
    ),
  };
}

/** A Graph error's reason (`meta_code_<code>[_<subcode>]`) and message, trace id included. */
export function describeError(
  error: Pick<GraphError, "code" | "error_subcode" | "message" | "fbtrace_id">,
): { reason: string; message: string } {
  const subcode = error.error_subcode;
  const trace = error.fbtrace_id ? ` (fbtrace_id ${error.fbtrace_id})` : "";
  return {
    reason: `meta_code_${error.code}${subcode === undefined ? "" : `_${subcode}`}`,
    message: `Meta error ${error.code}${subcode === undefined ? "" : `/${subcode}`}: ${error.message}${trace}`,
  };
}

function classifyGraphError(error: GraphError, waitMs: number, response: RawResponse, now: number) {
  const { reason, message } = describeError(error);
  const as = (
    code: ProviderError["code"],
    retryAfterMs?: number,
    why = reason,
    scope?: PauseScope,
  ) => new ProviderError("meta", code, why, message, retryAfterMs, scope);
  // Rate limits first: throttling bodies also carry `is_transient: true`.
  const scope = rateLimitScope(error.code);
  if (scope) {
    return as("rate_limited", waitMs || DEFAULT_RATE_LIMIT_WAIT_MS, reason, scope);
  }
  if (isTooMuchData(error)) {
    return as("permanent", undefined, QUERY_TOO_LARGE);
  }
  // 3018 "The start date of the time range cannot be beyond 37 months from the current date"
  // (the Marketing API reference's insights error codes, e.g.
  // https://developers.facebook.com/docs/marketing-api/reference/ad-account/campaigns/): those
  // days are gone for good, and the backfill records the account's history as starting later.
  if (error.code === 3018) {
    return beyondRetention("meta", message);
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
  // Every limit a response reports (nearly) spent holds back what it counts, for the stated wait
  // or, when none is stated, the default rate-limit wait. A rate-limit error's own wait is set
  // again by the HTTP layer for the error's scope; a pause is never shortened, so that is harmless.
  const pauseIfSpent = ({ peakPercent, waitMs }: Usage, scope: PauseScope) => {
    if (peakPercent >= USAGE_PAUSE_PERCENT || waitMs > 0) {
      ctx.pause(waitMs || DEFAULT_RATE_LIMIT_WAIT_MS, scope);
    }
  };
  pauseIfSpent(usage.app, "platform");
  pauseIfSpent(usage.account, "account");
  for (const [id, business] of Object.entries(usage.business)) {
    pauseIfSpent(business, { account: id });
  }
  const body = graphErrorSchema.safeParse(response.body);
  // A throttled call waits the longest wait stated: the headers name no wait for the app.
  const waitMs = Math.max(
    usage.account.waitMs,
    ...Object.values(usage.business).map((u) => u.waitMs),
  );
  return body.success ? classifyGraphError(body.data.error, waitMs, response, ctx.now) : undefined;
};
