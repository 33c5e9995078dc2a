/**
 * The provider-adapter contract. An adapter knows one platform: its requests, pagination,
 * slicing, error signals and token refresh. Everything shared — HTTP, timeouts, limits,
 * retries of a single request, per-account isolation, refresh orchestration — lives in
 * `http.ts` and `fetch.ts`, so an adapter is a small, mostly declarative module.
 *
 * Adding a platform: a new folder `providers/<id>/` exporting a `ProviderAdapter`, its settings
 * block in `settings.ts`, its id in `PROVIDER_IDS`, and one line in `registry.ts`.
 */
import type { Classifier, PlatformHttp } from "./http";
import type { SettingsOf } from "./settings";
import type {
  CredentialFacts,
  Credentials,
  DateRange,
  DiscoveredAccount,
  MetricRow,
  ProviderId,
} from "./types";

export interface AdapterContext<P extends ProviderId> {
  settings: SettingsOf<P>;
  /** Bound to this platform's limiter and to the current credentials' redaction list. */
  http: PlatformHttp;
  /** Milliseconds since the epoch. */
  now: () => number;
}

export interface AccountQuery {
  accountId: string;
  /**
   * The days to fetch, given the zone the platform reports this account's days in: the adapter
   * calls it once it knows the zone (after the account-info request, or from `knownTimeZone`).
   */
  rangeIn: (timeZone: string) => DateRange;
  /** Set when the request gave fixed days: no zone changes them (no lookup needed for them). */
  fixedRange?: DateRange;
  /** The account's zone from an earlier sync, when known. */
  knownTimeZone?: string;
  /** Google only: manager customer id for `login-customer-id`. */
  loginCustomerId?: string;
  /** A backfill slice: the platform's asynchronous report path where it has one. */
  bulk?: boolean;
}

/** One account's rows, and the days and zone they were fetched for. */
export interface AccountRows {
  rows: MetricRow[];
  range: DateRange;
  timeZone: string;
}

export interface TokenRefresher<P extends ProviderId> {
  /** Whether the access token must be refreshed before use (expired or about to). */
  isExpiring(credentials: Credentials, now: number): boolean;
  /**
   * Exchanges the refresh token for a new access token. Throws a `ProviderError` with code
   * `auth` when the platform refuses (revoked, expired grant) or no refresh token exists: the
   * user must reconnect.
   */
  refresh(ctx: AdapterContext<P>, credentials: Credentials): Promise<Credentials>;
}

/**
 * How far back the platform serves daily campaign metrics, and how a backfill cuts a range: what
 * the plan clamps a requested start to (recording it) and the days of one slice.
 */
export interface HistoryLimits {
  /** Daily metrics exist for the last this many months (the account's current day included). */
  retentionMonths: number;
  /** Where the platform documents it. */
  source: string;
  /** Days of one backfill slice: one report (or async report) the platform serves whole. */
  backfillSliceDays: number;
}

/**
 * Which ad accounts a connection reaches, and what the platform says of its credentials — each
 * the platform's own way (listing endpoints, hierarchies, token debug or introspection).
 */
export interface AccountDiscovery<P extends ProviderId> {
  /**
   * Every ad account the credentials reach, managers left out (they have no metrics), inactive
   * ones included and marked. Throws `ProviderError` (`auth` when the token is refused).
   */
  discover(ctx: AdapterContext<P>, credentials: Credentials): Promise<DiscoveredAccount[]>;
  /** What the platform says of the credentials; absent where it has no such endpoint. */
  inspect?(ctx: AdapterContext<P>, credentials: Credentials): Promise<CredentialFacts>;
}

export interface ProviderAdapter<P extends ProviderId = ProviderId> {
  readonly id: P;
  readonly history: HistoryLimits;
  readonly discovery?: AccountDiscovery<P>;
  /** The platform's own error signals (body codes, usage headers, 200-with-error bodies). */
  readonly classify: Classifier;
  /** Absent for platforms whose tokens are long-lived and cannot be refreshed (Meta, TikTok). */
  readonly tokens?: TokenRefresher<P>;
  /**
   * Every campaign's daily rows for one ad account over its range, following pagination and
   * slicing requests to the platform's limits. Throws `ProviderError` on failure.
   */
  fetchAccount(
    ctx: AdapterContext<P>,
    credentials: Credentials,
    query: AccountQuery,
  ): Promise<AccountRows>;
}
