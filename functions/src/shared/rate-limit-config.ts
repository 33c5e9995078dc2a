/**
 * The abuse limits of the sync endpoints (`http/rate-limit.ts`), validated on first use:
 * - AUTH_FAILURE_THRESHOLD, AUTH_FAILURE_WINDOW_SECONDS, AUTH_FAILURE_BLOCK_SECONDS: a source
 *   address may fail authentication THRESHOLD times within a clock-aligned WINDOW; the next
 *   failure blocks it for BLOCK seconds (its refused attempts get 429; a valid credential is
 *   never refused by a block);
 * - ENDPOINT_RATE_LIMITS: requests per caller per minute, per endpoint, as a JSON object whose
 *   entries override `DEFAULT_ENDPOINT_LIMITS`, e.g. `{"status":240}`;
 * - TRUSTED_PROXY_HOPS: how many X-Forwarded-For entries, at the right end, were appended by
 *   proxies between the client and Google's front end (`clientAddress` in `http/rate-limit.ts`).
 *
 * Issues name the variable (and the endpoint), as every configuration error does.
 */
import { z } from "zod";

import {
  jsonObject,
  positiveIntString,
  type RawEnv,
  requireVariables,
  wholeNumberInJson,
} from "./config";

/**
 * Requests per caller per minute. Generous for the guide's schedules (worker every 5 minutes,
 * cron hourly, several schedulers for redundancy) and for a dashboard polling status, tight
 * enough that a leaked key or a runaway client cannot hammer the store or the platforms.
 */
export const DEFAULT_ENDPOINT_LIMITS = {
  cron: 30,
  worker: 60,
  schedule: 30,
  process: 60,
  status: 120,
  automation: 30,
  accounts: 30,
} as const;

/** Every endpoint that authenticates its callers, and so is limited per caller. */
export type LimitedEndpoint = keyof typeof DEFAULT_ENDPOINT_LIMITS;

export const isLimitedEndpoint = (name: string): name is LimitedEndpoint =>
  Object.hasOwn(DEFAULT_ENDPOINT_LIMITS, name);

/**
 * Defaults of the failed-authentication block (also declared on the Firebase params). Twenty
 * failures in five minutes is far more than a scheduler with a stale key (one call per five
 * minutes) or a browser with an expired token produces, and far too few to guess a secret.
 */
export const AUTH_FAILURE_DEFAULTS = {
  AUTH_FAILURE_THRESHOLD: 20,
  AUTH_FAILURE_WINDOW_SECONDS: 300,
  AUTH_FAILURE_BLOCK_SECONDS: 900,
} as const;

const MAX_REQUESTS_PER_MINUTE = 100_000;
const MAX_SECONDS = 86_400;
/** More proxies than this in front of Google's front end is a misconfiguration, not a setup. */
const MAX_TRUSTED_PROXY_HOPS = 4;

const proxyHops = z
  .string()
  .regex(/^\d+$/, { error: `must be a whole number from 0 to ${MAX_TRUSTED_PROXY_HOPS}` })
  .transform(Number)
  .pipe(
    z.number().max(MAX_TRUSTED_PROXY_HOPS, {
      error: `must be a whole number from 0 to ${MAX_TRUSTED_PROXY_HOPS}`,
    }),
  );

const requestsPerMinute = wholeNumberInJson(MAX_REQUESTS_PER_MINUTE).optional();

const endpointLimitsSchema = z.strictObject({
  cron: requestsPerMinute,
  worker: requestsPerMinute,
  schedule: requestsPerMinute,
  process: requestsPerMinute,
  status: requestsPerMinute,
  automation: requestsPerMinute,
  accounts: requestsPerMinute,
} satisfies Record<LimitedEndpoint, typeof requestsPerMinute>);

export type EndpointLimits = Readonly<Record<LimitedEndpoint, number>>;

/** The overrides merged over the defaults; issues name each offending endpoint. */
const endpointLimits = jsonObject.transform((value, ctx): EndpointLimits => {
  const parsed = endpointLimitsSchema.safeParse(value);
  if (parsed.success) {
    return { ...DEFAULT_ENDPOINT_LIMITS, ...parsed.data };
  }
  const problems = parsed.error.issues.flatMap((issue) =>
    issue.code === "unrecognized_keys"
      ? issue.keys.map(
          (key) => `${key} (is not one of ${Object.keys(DEFAULT_ENDPOINT_LIMITS).join(", ")})`,
        )
      : [`${issue.path.join(".")} (${issue.message})`],
  );
  ctx.addIssue({
    code: "custom",
    message: `has invalid requests-per-minute limits: ${problems.join(", ")}`,
  });
  return z.NEVER;
});

const rateLimitSchema = z
  .object({
    AUTH_FAILURE_THRESHOLD: positiveIntString(10_000).default(
      AUTH_FAILURE_DEFAULTS.AUTH_FAILURE_THRESHOLD,
    ),
    AUTH_FAILURE_WINDOW_SECONDS: positiveIntString(MAX_SECONDS).default(
      AUTH_FAILURE_DEFAULTS.AUTH_FAILURE_WINDOW_SECONDS,
    ),
    AUTH_FAILURE_BLOCK_SECONDS: positiveIntString(MAX_SECONDS).default(
      AUTH_FAILURE_DEFAULTS.AUTH_FAILURE_BLOCK_SECONDS,
    ),
    ENDPOINT_RATE_LIMITS: endpointLimits.default(DEFAULT_ENDPOINT_LIMITS),
    // 0: the right-most entry, the one Google's front end appends (see `clientAddress`).
    TRUSTED_PROXY_HOPS: proxyHops.default(0),
  })
  .transform((raw) => ({
    authFailures: {
      threshold: raw.AUTH_FAILURE_THRESHOLD,
      windowMs: raw.AUTH_FAILURE_WINDOW_SECONDS * 1000,
      blockMs: raw.AUTH_FAILURE_BLOCK_SECONDS * 1000,
    },
    endpoints: raw.ENDPOINT_RATE_LIMITS,
    trustedProxyHops: raw.TRUSTED_PROXY_HOPS,
  }));

export type RateLimitConfig = z.infer<typeof rateLimitSchema>;

/** The limits, or a `ConfigError` naming each bad variable. */
export function requireRateLimitConfig(raw: RawEnv): RateLimitConfig {
  return requireVariables(rateLimitSchema, raw);
}
