/**
 * The sandbox's state: demo ad accounts with deterministic synthetic metrics, the OAuth tokens
 * it has issued, and per-platform fault knobs. Platform modules (`google.ts`, …) render this
 * state in their platform's real formats.
 */
import { createHash, randomBytes } from "node:crypto";

import type { ProviderId } from "../../src/providers/types";

export interface SandboxAccount {
  provider: ProviderId;
  id: string;
  name: string;
  timeZone: string;
  currency: string;
  /** Every campaign, live, archived and deleted ones included. */
  campaigns: number;
  /** How many campaigns, just before the deleted ones, were archived (their days stay). */
  archivedCampaigns?: number;
  /** How many of the last campaigns were deleted (their days stay). */
  deletedCampaigns?: number;
  /**
   * Discovery (issue 14). `manager`: a Google manager (MCC) account, which has clients and no
   * metrics of its own; `parents`: the account's managers, top first (Google), or the business it
   * belongs to (Meta); `disabled`: closed, suspended or canceled — listed, reporting nothing;
   * `hidden`: not (yet) reachable by the user's login (added later with `world.reveal`).
   */
  manager?: boolean;
  parents?: readonly string[];
  disabled?: boolean;
  hidden?: boolean;
  /**
   * Every campaign-day spends more than 2^53 micros (9,007,199,254.75 units on top of its usual
   * spend): the amounts of an IDR or VND account at scale, past a double's exact integers.
   */
  largeAmounts?: boolean;
}

/** 2^53 micros and a bit, in whole cents: added to a large-amounts account's every spend. */
export const LARGE_SPEND_MICROS = 9_007_199_254_750_000n;

/**
 * Micros as a plain decimal string: `places` decimals (the sandbox's amounts are whole cents), or
 * as few as the value needs when `places` is left out ("12.5", "7").
 */
export function decimalOf(micros: bigint, places?: number): string {
  const sign = micros < 0n ? "-" : "";
  const abs = micros < 0n ? -micros : micros;
  const fraction = String(abs % 1_000_000n).padStart(6, "0");
  const shown = places === undefined ? fraction.replace(/0+$/, "") : fraction.slice(0, places);
  return `${sign}${abs / 1_000_000n}${shown ? `.${shown}` : ""}`;
}

/**
 * A campaign's status as Meta names it; archived and deleted campaigns still spent on the days
 * they ran, and a platform that hides them from a report (Meta's insights edge, by default)
 * renders that rule itself.
 */
export const CAMPAIGN_STATUSES = ["ACTIVE", "ARCHIVED", "DELETED"] as const;
export type CampaignStatus = (typeof CAMPAIGN_STATUSES)[number];

export interface SandboxCampaign {
  id: string;
  name: string;
  status: CampaignStatus;
}

/** One report query a platform sandbox answered, for tests that follow how a range was split. */
export interface QueryRecord {
  provider: ProviderId;
  accountId: string;
  since: string;
  until: string;
  /** Campaign-days the query covers. */
  rows: number;
  /** Refused (or, on LinkedIn, cut off) as too large under `maxRowsPerQuery`. */
  tooLarge: boolean;
  /** The account's current day, in the zone the platform reports it in, when it was asked. */
  today: string;
}

/** One request a platform sandbox received. */
export interface RequestRecord {
  provider: ProviderId;
  path: string;
  at: number;
  /** The ad account the request was for, where it names one. */
  accountId?: string;
}

/** One campaign-day as the sandbox generated it; money in integer micros, cents precision. */
export interface SyntheticMetrics {
  impressions: number;
  clicks: number;
  spendMicros: bigint;
  /** Multiples of 0.5, so platforms with fractional conversions are exercised. */
  conversions: number;
  conversionValueMicros: bigint;
}

export interface IssuedTokens {
  accessToken: string;
  refreshToken?: string;
  /** ms since the epoch; absent = long-lived. */
  expiresAt?: number;
}

/** The scopes ad platforms count rate limits in (see `FaultKnobs.throttles`). */
export const THROTTLE_SCOPES = ["app", "account", "member"] as const;
export type ThrottleScope = (typeof THROTTLE_SCOPES)[number];

/** A limit reached: the whole app's, or one ad account's or member token's (`id`). */
export interface Throttle {
  scope: ThrottleScope;
  /** The ad account (`account`) or access token (`member`) whose limit is reached. */
  id?: string;
  /** The wait the signal states, where the platform's signal can state one. */
  retryAfterSeconds: number;
}

/** Whom a request is for, as platforms scope their limits: its ad account, its user's token. */
export interface RequestSubject {
  /** The ad account, as the request names it (Meta without `act_`). */
  accountId?: string;
  accessToken?: string;
}

export interface FaultKnobs {
  /** The next N reporting requests answer with the platform's rate-limit signal. */
  rateLimit?: { count: number; retryAfterSeconds: number };
  /**
   * Limits reached, each answered with the platform's own signal for its scope on every
   * reporting request it covers, for as long as the knob is set (default: none):
   * - `app`: every request — Google RESOURCE_EXHAUSTED with `rateScope: DEVELOPER`, Meta code 4
   *   (no wait: X-App-Usage states none), TikTok 40100 (no wait), LinkedIn 429;
   * - `account`: the requests for ad account `id` — Google RESOURCE_EXHAUSTED with
   *   `rateScope: ACCOUNT`, Meta code 80000 with the wait, in whole minutes, in
   *   X-Business-Use-Case-Usage under the account's id, TikTok 40133 (no wait); LinkedIn counts
   *   no limit per ad account and ignores it;
   * - `member`: the requests made with access token `id` — LinkedIn 429 (its daily limits are
   *   per app and per member); the other platforms ignore it.
   */
  throttles?: Throttle[];
  /**
   * The app's rate limit, across every caller: a bucket of `appQps` requests refilled at
   * `appQps` per second (a second's burst, as the platforms' per-second quotas allow). An API
   * call (any but the OAuth token endpoint's) that finds it empty gets the platform's app-wide
   * throttle answer (as `throttles` with scope `app`, a 1 s wait where the answer can state one)
   * and is counted in `appRefusals`.
   */
  appQps?: number;
  /** The next N reporting requests answer with a 5xx. */
  serverErrors?: number;
  /** Every response is delayed by this many ms. */
  slowMs?: number;
  /** The next N reporting responses are not JSON. */
  malformed?: number;
  /** The next N reporting responses are cut off mid-body. */
  truncated?: number;
  /** Refresh tokens are refused and access tokens rejected as revoked. */
  revokeTokens?: boolean;
  /** Account ids whose reporting requests fail with the platform's "no permission" error. */
  forbiddenAccounts?: string[];
  /**
   * LinkedIn: elements leave `costInLocalCurrency` out (as LinkedIn may), carrying only
   * `costInUsd` — the spend itself for a USD account, a converted figure for any other.
   */
  omitLocalCost?: boolean;
  /**
   * A report query covering more campaign-days than this gets the platform's answer to a query
   * that is too large: Meta code 1 "Please reduce the amount of data…" (without the knob: over
   * `META_MAX_CAMPAIGN_DAYS`), TikTok code 40067, LinkedIn a response silently cut to this many
   * elements (without the knob: at its cap). Google has no such answer and ignores it.
   */
  maxRowsPerQuery?: number;
  /** Meta: insights pages carry `paging.next` but no `paging.cursors`. */
  pagingWithoutCursors?: boolean;
  /** Meta's insights report runs and TikTok's report tasks (asynchronous reports). */
  asyncReports?: AsyncReportKnobs;
}

/** How the sandbox's asynchronous reports behave; each platform renders them its own way. */
export interface AsyncReportKnobs {
  /** Status checks a report answers "still running" before it completes (default 1). */
  checksBeforeDone?: number;
  /** The next N reports created end failed (Meta `Job Failed`, TikTok `FAILED`). */
  failReports?: number;
  /** A report covering more campaign-days than this never completes (it stays running). */
  stuckAboveRows?: number;
  /** TikTok: the app is not on the asynchronous reports' allowlist (40118 on every create). */
  notAllowed?: boolean;
}

export interface TokenRecord extends IssuedTokens {
  provider: ProviderId;
  issuedAt: number;
}

export type TokenCheck = "valid" | "expired" | "revoked" | "unknown";

function hashInt(...parts: string[]): number {
  return createHash("sha256").update(parts.join("|")).digest().readUInt32BE(0);
}

export class SandboxWorld {
  private readonly knobs = new Map<ProviderId, FaultKnobs>();
  private readonly tokens = new Map<string, TokenRecord>();
  private readonly refreshTokens = new Map<string, TokenRecord>();
  /** Start times of every request per platform, for rate measurements in tests. */
  readonly requestLog: RequestRecord[] = [];
  /** Every report query, with its range and whether it was too large, in arrival order. */
  readonly queryLog: QueryRecord[] = [];

  readonly accounts: SandboxAccount[];

  constructor(
    accounts: readonly SandboxAccount[],
    private readonly now: () => number = Date.now,
  ) {
    this.accounts = [...accounts];
  }

  /** Makes a hidden account reachable, or adds one: an account created between two runs. */
  reveal(account: SandboxAccount): void {
    const at = this.accounts.findIndex(
      (known) => known.provider === account.provider && known.id === account.id,
    );
    const shown = { ...account, hidden: false };
    if (at >= 0) {
      this.accounts[at] = shown;
    } else {
      this.accounts.push(shown);
    }
  }

  /** The accounts a login of the platform can reach (not hidden), managers included. */
  reachable(provider: ProviderId): SandboxAccount[] {
    return this.accounts.filter((account) => account.provider === provider && !account.hidden);
  }

  account(provider: ProviderId, id: string): SandboxAccount | undefined {
    return this.accounts.find((account) => account.provider === provider && account.id === id);
  }

  campaigns(account: SandboxAccount): SandboxCampaign[] {
    const deletedFrom = account.campaigns - (account.deletedCampaigns ?? 0);
    const archivedFrom = deletedFrom - (account.archivedCampaigns ?? 0);
    return Array.from({ length: account.campaigns }, (_, index) => ({
      id: `${account.id.replace(/\D/g, "").slice(-6) || "1"}${String(index + 1).padStart(3, "0")}`,
      name: `${account.name} · Campaign ${index + 1}`,
      status: index >= deletedFrom ? "DELETED" : index >= archivedFrom ? "ARCHIVED" : "ACTIVE",
    }));
  }

  /**
   * Records a report query and says whether it is too large: more campaign-days than the
   * `maxRowsPerQuery` knob, or, without the knob, than the platform's own `limit`.
   */
  queryTooLarge(
    provider: ProviderId,
    accountId: string,
    range: { since: string; until: string },
    rows: number,
    limit = Infinity,
  ): boolean {
    const tooLarge = rows > this.rowLimit(provider, limit);
    const account = this.account(provider, accountId);
    this.queryLog.push({
      provider,
      accountId,
      since: range.since,
      until: range.until,
      rows,
      tooLarge,
      today: account ? this.today(account) : "",
    });
    return tooLarge;
  }

  /**
   * The account's current day by the world's clock, in the zone the platform reports its days
   * in: the account's own, except on LinkedIn, which reports in UTC.
   */
  today(account: SandboxAccount): string {
    const zone = account.provider === "linkedin" ? "UTC" : account.timeZone;
    return new Intl.DateTimeFormat("en-CA", { timeZone: zone, dateStyle: "short" }).format(
      this.now(),
    );
  }

  /** The days of a report that have started for the account: no platform has data for later. */
  reportedDays(account: SandboxAccount, since: string, until: string): string[] {
    const today = this.today(account);
    return daysBetween(since, until).filter((day) => day <= today);
  }

  /** The most rows one report query may cover: the knob, or the platform's own `limit`. */
  rowLimit(provider: ProviderId, limit = Infinity): number {
    return this.faults(provider).maxRowsPerQuery ?? limit;
  }

  /** Deterministic: the same inputs always give the same numbers. */
  metrics(account: SandboxAccount, campaignId: string, date: string): SyntheticMetrics {
    const seed = hashInt(account.provider, account.id, campaignId, date);
    const impressions = 100 + (seed % 9_900);
    const clicks = Math.floor(impressions / (8 + (seed % 17)));
    const spendCents = clicks * (20 + (seed % 180));
    const conversions = (seed % 7) / 2;
    return {
      impressions,
      clicks,
      spendMicros: BigInt(spendCents) * 10_000n + (account.largeAmounts ? LARGE_SPEND_MICROS : 0n),
      conversions,
      conversionValueMicros: BigInt(Math.round(conversions * 2) * (500 + (seed % 2_500)) * 10_000),
    };
  }

  faults(provider: ProviderId): FaultKnobs {
    let knobs = this.knobs.get(provider);
    if (!knobs) {
      knobs = {};
      this.knobs.set(provider, knobs);
    }
    return knobs;
  }

  setFaults(provider: ProviderId, knobs: FaultKnobs): void {
    this.knobs.set(provider, { ...knobs });
  }

  /** Consumes one unit of a counted fault; true when the fault applies to this request. */
  take(provider: ProviderId, fault: "serverErrors" | "malformed" | "truncated"): boolean {
    const knobs = this.faults(provider);
    const left = knobs[fault] ?? 0;
    if (left <= 0) {
      return false;
    }
    knobs[fault] = left - 1;
    return true;
  }

  /** The `throttles` knobs covering a request for `subject`, in knob order. */
  throttlesFor(provider: ProviderId, subject: RequestSubject): Throttle[] {
    return (this.faults(provider).throttles ?? []).filter(
      ({ scope, id }) =>
        scope === "app" ||
        (id !== undefined &&
          id === (scope === "account" ? subject.accountId : subject.accessToken)),
    );
  }

  /** Reporting requests refused by `appQps`, per platform. */
  readonly appRefusals: Partial<Record<ProviderId, number>> = {};
  private readonly buckets = new Map<ProviderId, { tokens: number; at: number }>();

  /** Whether `appQps` lets a request through at `now` (a token taken), or refuses it (counted). */
  takeAppToken(provider: ProviderId, now: number): boolean {
    const qps = this.faults(provider).appQps;
    if (qps === undefined) {
      return true;
    }
    const bucket = this.buckets.get(provider) ?? { tokens: qps, at: now };
    bucket.tokens = Math.min(qps, bucket.tokens + ((now - bucket.at) / 1000) * qps);
    bucket.at = now;
    this.buckets.set(provider, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return true;
    }
    this.appRefusals[provider] = (this.appRefusals[provider] ?? 0) + 1;
    return false;
  }

  takeRateLimit(provider: ProviderId): number | undefined {
    const knobs = this.faults(provider);
    if (!knobs.rateLimit || knobs.rateLimit.count <= 0) {
      return undefined;
    }
    knobs.rateLimit = { ...knobs.rateLimit, count: knobs.rateLimit.count - 1 };
    return knobs.rateLimit.retryAfterSeconds;
  }

  /** Issues tokens; `lifetimeMs` undefined = long-lived, `refreshable` adds a refresh token. */
  issueTokens(
    provider: ProviderId,
    options: { lifetimeMs?: number; refreshable?: boolean; accessToken?: string } = {},
  ): IssuedTokens {
    const accessToken = options.accessToken ?? `${provider}-at-${randomBytes(12).toString("hex")}`;
    const record: TokenRecord = {
      provider,
      issuedAt: this.now(),
      accessToken,
      ...(options.lifetimeMs === undefined ? {} : { expiresAt: this.now() + options.lifetimeMs }),
      ...(options.refreshable
        ? { refreshToken: `${provider}-rt-${randomBytes(12).toString("hex")}` }
        : {}),
    };
    this.tokens.set(accessToken, record);
    if (record.refreshToken) {
      this.refreshTokens.set(record.refreshToken, record);
    }
    const { provider: _provider, issuedAt: _issuedAt, ...issued } = record;
    return issued;
  }

  checkAccessToken(provider: ProviderId, token: string | undefined): TokenCheck {
    const record = token ? this.tokens.get(token) : undefined;
    if (!record || record.provider !== provider) {
      return "unknown";
    }
    const knobs = this.faults(provider);
    if (knobs.revokeTokens) {
      return "revoked";
    }
    if (record.expiresAt !== undefined && record.expiresAt <= this.now()) {
      return "expired";
    }
    return "valid";
  }

  /**
   * The refresh_token grant: a new access token (same refresh token, as Google does) or the
   * reason it is refused.
   */
  refresh(
    provider: ProviderId,
    refreshToken: string | undefined,
    lifetimeMs: number,
  ): IssuedTokens | "revoked" | "unknown" {
    const record = refreshToken ? this.refreshTokens.get(refreshToken) : undefined;
    if (!record || record.provider !== provider) {
      return "unknown";
    }
    if (this.faults(provider).revokeTokens) {
      return "revoked";
    }
    const accessToken = `${provider}-at-${randomBytes(12).toString("hex")}`;
    const renewed: TokenRecord = {
      ...record,
      accessToken,
      issuedAt: this.now(),
      expiresAt: this.now() + lifetimeMs,
    };
    this.tokens.set(accessToken, renewed);
    this.refreshTokens.set(record.refreshToken ?? "", renewed);
    const { provider: _provider, issuedAt: _issuedAt, ...issued } = renewed;
    return issued;
  }

  /** Expires every access token of the platform issued so far; returns how many. */
  expireAccessTokens(provider: ProviderId): number {
    let expired = 0;
    for (const record of this.tokens.values()) {
      if (record.provider === provider) {
        record.expiresAt = this.now() - 1;
        expired += 1;
      }
    }
    return expired;
  }
}

/** Every day from `since` to `until` inclusive, `YYYY-MM-DD`. */
export function daysBetween(since: string, until: string): string[] {
  const days: string[] = [];
  for (
    let day = new Date(`${since}T00:00:00Z`);
    day <= new Date(`${until}T00:00:00Z`);
    day = new Date(day.getTime() + 86_400_000)
  ) {
    days.push(day.toISOString().slice(0, 10));
  }
  return days;
}
