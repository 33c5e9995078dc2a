/**
 * The provider-adapter contract's data types: what every platform adapter receives and returns.
 * One normalised row shape for all platforms; money is integer micros of the account currency.
 *
 * Money representation: platforms send money as decimal strings ("12.34"), int64 micros strings
 * ("12340000") or numbers. We convert with exact string arithmetic (`money.ts`) into integer
 * micros (1 unit = 1,000,000 micros), held in a JS number: integers are exact up to 2^53, i.e.
 * about 9 billion currency units per campaign per day, and Firestore stores them as int64.
 */
export const PROVIDER_IDS = ["google", "meta", "linkedin", "tiktok"] as const;
export type ProviderId = (typeof PROVIDER_IDS)[number];

/** OAuth material of one integration; decrypted only while a fetch runs. */
export interface Credentials {
  accessToken: string;
  refreshToken?: string;
  /** Access-token expiry in ms since the epoch; absent for long-lived tokens (Meta, TikTok). */
  expiresAt?: number;
}

/** Inclusive range of report days, `YYYY-MM-DD`. */
export interface DateRange {
  since: string;
  until: string;
}

export interface FetchRequest {
  credentials: Credentials;
  accountIds: readonly string[];
  range: DateRange;
  /** Google: manager (MCC) customer id sent as `login-customer-id`, when access is through one. */
  loginCustomerId?: string;
  /**
   * The run's deadline (ms since the epoch): no platform request starts at or after it, and the
   * accounts not fetched by then fail `rate_limited` `run_deadline` (deferred, not failed).
   */
  deadline?: number;
}

export interface MetricRow {
  provider: ProviderId;
  accountId: string;
  campaignId: string;
  campaignName: string;
  /** The day as the platform reports it, in `timeZone`. */
  date: string;
  /** IANA time zone the platform reports the account's days in. */
  timeZone: string;
  /** ISO 4217 currency of `spendMicros` and `conversionValueMicros`. */
  currency: string;
  impressions: number;
  clicks: number;
  spendMicros: number;
  /** Attributed conversions; platforms report fractional values (data-driven attribution). */
  conversions: number;
  conversionValueMicros: number;
}

export type AccountOutcome =
  | { accountId: string; status: "ok"; rows: number }
  | { accountId: string; status: "failed"; error: ProviderErrorInfo };

export interface ProviderErrorInfo {
  code: ProviderErrorCode;
  /** Short machine-readable reason, e.g. `meta_code_17`, `http_503`, `timeout`. */
  reason: string;
  message: string;
  retryAfterMs?: number;
}

export const PROVIDER_ERROR_CODES = ["rate_limited", "auth", "transient", "permanent"] as const;
/**
 * The closed error vocabulary callers decide retries from:
 * - `rate_limited`: retry no sooner than `retryAfterMs`;
 * - `auth`: the user must reconnect (a refresh was refused or is impossible) — never retried;
 * - `transient`: 5xx, timeouts, connection resets, malformed bodies — retry with backoff;
 * - `permanent`: bad request, missing permission, unknown account — never retried.
 */
export type ProviderErrorCode = (typeof PROVIDER_ERROR_CODES)[number];

export interface FetchResult {
  rows: MetricRow[];
  /** One entry per requested account, in request order. */
  accounts: AccountOutcome[];
  /** Set when the access token was refreshed during the fetch: the caller must persist it. */
  refreshedCredentials?: Credentials;
}
