/**
 * The provider-adapter contract's data types: what every platform adapter receives and returns.
 * One normalised row shape for all platforms; money is integer micros of the account currency.
 *
 * Money representation: platforms send money as decimal strings ("12.34"), int64 micros strings
 * ("12340000") or numbers. We convert with exact digit arithmetic (`money.ts`) into integer
 * micros (1 unit = 1,000,000 micros) held as a `bigint`, exact at any size a platform sends, and
 * stored as Firestore int64 integers (`metrics/store.ts` says how readers see them).
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

/**
 * A report window relative to each account's own calendar: its last `days` complete days plus
 * its current (partial) day, "current" as of `at` (ms since the epoch) in the zone the platform
 * reports the account's days in. No day that has not started for the account is asked for.
 */
export interface ReportWindow {
  days: number;
  at: number;
}

export interface FetchRequest {
  credentials: Credentials;
  accountIds: readonly string[];
  /** Exactly one: fixed days, the same for every account, or a window each account resolves. */
  range?: DateRange;
  window?: ReportWindow;
  /**
   * The zones the accounts' days are known to be reported in (by canonical id), from earlier
   * syncs: an adapter that would otherwise look the zone up first (Google) spends no request.
   */
  timeZones?: Readonly<Record<string, string>>;
  /** Google: manager (MCC) customer id sent as `login-customer-id`, when access is through one. */
  loginCustomerId?: string;
  /**
   * Google: each account's own manager to send as `login-customer-id` (by account id as
   * requested), from its discovered hierarchy; an account without one uses `loginCustomerId`.
   */
  loginCustomerIds?: Readonly<Record<string, string>>;
  /**
   * The run's deadline (ms since the epoch): no platform request starts at or after it, and the
   * accounts not fetched by then fail `rate_limited` `run_deadline` (deferred, not failed).
   */
  deadline?: number;
  /**
   * Receives each fully fetched account's rows as soon as it is fetched, in request order, and
   * is awaited before the next account is fetched; the fetch keeps no row once it returns, so
   * memory is one account's rows whatever the number of accounts. Without it the rows are
   * dropped (the result still counts them). An error it throws ends the fetch: `fetchMetrics`
   * rejects with that error and fetches no further account.
   */
  onAccount?: (account: FetchedAccount) => Promise<void>;
  /**
   * A historical backfill slice (fixed `range`, long ago): the adapter takes the platform's
   * asynchronous report path where it has one (Meta's insights report runs, TikTok's report
   * tasks) instead of synchronous pages. Adapters without one ignore it.
   */
  bulk?: boolean;
}

/** One fully fetched account, as handed to `FetchRequest.onAccount`. */
export interface FetchedAccount {
  /** As requested. */
  accountId: string;
  rows: MetricRow[];
  /** The days fetched, in `timeZone`: the window the platform's answer is complete for. */
  range: DateRange;
  timeZone: string;
  /**
   * Set once the access token was refreshed during this fetch (as the result's): persist it
   * before anything that may fail, since a failure ends the fetch before the result exists.
   */
  refreshedCredentials?: Credentials;
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
  /**
   * `null` when the platform sent no cost for the row (LinkedIn may omit `costInLocalCurrency`):
   * unknown, not zero — a stored spend is then kept, never overwritten with 0.
   */
  spendMicros: bigint | null;
  /** Attributed conversions; platforms report fractional values (data-driven attribution). */
  conversions: number;
  conversionValueMicros: bigint;
}

/**
 * One ad account a connection can reach, as its platform describes it (`AccountDiscovery`):
 * what the integration stores per account, and whether it can be synced.
 */
export interface DiscoveredAccount {
  /** The id the integration holds and `fetchAccount` takes (each platform's own spelling). */
  accountId: string;
  name: string;
  /** ISO 4217, when the platform says. */
  currency: string | null;
  /** The IANA zone the platform reports the account's days in, when it says. */
  timeZone: string | null;
  /** Whether its reports can be pulled now (not disabled, closed, suspended or pending). */
  status: "active" | "inactive";
  /** The platform's own status value, as sent (`ENABLED`, `1`, `ACTIVE`, `STATUS_ENABLE`, …). */
  platformStatus: string;
  /**
   * What the account was reached through, top first. Google: the manager ids from the one the
   * login can access down to the client's parent — the first is the `login-customer-id` its
   * reports need; Meta: the business it was found through. Empty: reached directly.
   */
  hierarchy: string[];
}

/** What a platform says about a connection's credentials (`AccountDiscovery.inspect`). */
export interface CredentialFacts {
  /** The platform says the token works (not revoked, not expired). */
  valid: boolean;
  /** When the access token expires (ms since the epoch); null: never, or not said. */
  accessTokenExpiresAt: number | null;
  /**
   * When the connection ends whatever the refreshes (ms): LinkedIn's refresh token (365 days
   * from consent), Meta's data access. null: not said.
   */
  connectionExpiresAt: number | null;
}

export type AccountOutcome =
  | {
      accountId: string;
      status: "ok";
      rows: number;
      /** The days fetched, in `timeZone`: the window the platform's answer is complete for. */
      range: DateRange;
      /** The zone the platform reports this account's days in. */
      timeZone: string;
    }
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
  /** One entry per requested account, in request order (rows went to `onAccount`). */
  accounts: AccountOutcome[];
  /** Set when the access token was refreshed during the fetch: the caller must persist it. */
  refreshedCredentials?: Credentials;
  /** HTTP requests the fetch sent to the platform (token refreshes and retries included). */
  requests: number;
}
