/**
 * Runs one adapter over every ad account of a request: refreshes an expiring token first,
 * refreshes once more if the platform rejects the token mid-fetch, and isolates accounts — an
 * error in one account does not lose the others' rows. A refused refresh (the user must
 * reconnect) fails the remaining accounts with `auth` at once instead of retrying. Each
 * account's rows go to the request's `onAccount` as soon as it is fetched and are not kept.
 */
import type { AxiosInstance } from "axios";
import { z } from "zod";

import type { AccountQuery, AccountRows, AdapterContext, ProviderAdapter } from "./adapter";
import { ProviderError, redact } from "./errors";
import { PlatformHttp } from "./http";
import { canonicalAccountId } from "./ids";
import type { LimiterClock, RateLimiter } from "./limiter";
import { requestedRange } from "./ranges";
import type { SettingsOf } from "./settings";
import type {
  AccountOutcome,
  CredentialFacts,
  Credentials,
  DiscoveredAccount,
  FetchRequest,
  FetchResult,
  ProviderErrorInfo,
  ProviderId,
} from "./types";

export interface FetchDeps<P extends ProviderId> {
  settings: SettingsOf<P>;
  axios: AxiosInstance;
  limiter: RateLimiter;
  clock: LimiterClock;
}

const isoDay = z.iso.date();

const fetchRequestSchema = z
  .object({
    credentials: z.object({
      accessToken: z.string().min(1),
      refreshToken: z.string().min(1).optional(),
      expiresAt: z.number().int().positive().optional(),
    }),
    accountIds: z.array(z.string().min(1)).min(1),
    range: z
      .object({ since: isoDay, until: isoDay })
      .refine((range) => range.since <= range.until, {
        error: "range.since must not be after range.until",
      })
      .optional(),
    window: z.object({ days: z.number().int().min(0), at: z.number().int().positive() }).optional(),
    timeZones: z.record(z.string(), z.string().min(1)).optional(),
    loginCustomerId: z.string().min(1).optional(),
    loginCustomerIds: z.record(z.string(), z.string().min(1)).optional(),
    deadline: z.number().int().positive().optional(),
    bulk: z.boolean().optional(),
  })
  .refine((request) => (request.range === undefined) !== (request.window === undefined), {
    error: "give exactly one of range and window",
  });

/** Every value of the request and settings that must never appear in a message. */
function secretsOf(credentials: Credentials, settings: object): string[] {
  const settingSecrets = ["clientSecret", "developerToken", "appSecret"]
    .map((key) => (settings as Record<string, unknown>)[key])
    .filter((value): value is string => typeof value === "string");
  return [credentials.accessToken, credentials.refreshToken ?? "", ...settingSecrets];
}

export async function fetchMetrics<P extends ProviderId>(
  adapter: ProviderAdapter<P>,
  deps: FetchDeps<P>,
  request: FetchRequest,
): Promise<FetchResult> {
  const valid = fetchRequestSchema.safeParse(request);
  if (!valid.success) {
    throw new ProviderError(
      adapter.id,
      "permanent",
      "invalid_request",
      `invalid fetch request: ${valid.error.issues.map((issue) => `${issue.path.join(".")} ${issue.message}`).join("; ")}`,
    );
  }

  const session = new Session(adapter, deps, request.credentials, request.deadline);
  const context = (accountId?: string) => session.context(accountId);
  const refresh = () => session.refresh();
  const { secrets } = session;

  const accounts: AccountOutcome[] = [];
  let fatal: ProviderError | undefined;

  try {
    await session.refreshIfExpiring();
  } catch (error) {
    fatal = asProviderError(adapter.id, error, secrets);
  }

  for (const accountId of request.accountIds) {
    if (fatal) {
      accounts.push({ accountId, status: "failed", error: fatal.toInfo() });
      continue;
    }
    const knownTimeZone = request.timeZones?.[canonicalAccountId(adapter.id, accountId)];
    const loginCustomer = request.loginCustomerIds?.[accountId] ?? request.loginCustomerId;
    const query: AccountQuery = {
      accountId,
      // Fixed days, or the window in the account's own days once the adapter knows its zone.
      rangeIn: (timeZone) => rangeForZone(adapter.id, request, timeZone),
      ...(request.range ? { fixedRange: request.range } : {}),
      ...(knownTimeZone ? { knownTimeZone } : {}),
      ...(loginCustomer ? { loginCustomerId: loginCustomer } : {}),
      ...(request.bulk ? { bulk: true } : {}),
    };
    let accountRows: AccountRows;
    try {
      try {
        accountRows = await adapter.fetchAccount(context(accountId), session.credentials, query);
      } catch (error) {
        // The platform rejected the token mid-fetch: refresh once, then try this account again.
        if (!session.mayRefreshAfter(error)) {
          throw error;
        }
        try {
          await refresh();
        } catch (refreshError) {
          // Whatever the class, a refresh that failed here would fail again for every account.
          fatal = asProviderError(adapter.id, refreshError, secrets);
          throw fatal;
        }
        accountRows = await adapter.fetchAccount(context(accountId), session.credentials, query);
      }
    } catch (error) {
      const providerError = asProviderError(adapter.id, error, secrets);
      accounts.push({ accountId, status: "failed", error: providerError.toInfo() });
      if (providerError.code === "auth") {
        fatal ??= providerError;
      }
      continue;
    }
    const { rows, range, timeZone } = accountRows;
    accounts.push({ accountId, status: "ok", rows: rows.length, range, timeZone });
    // Outside the account's error handling: a sink that fails (the store) ends the fetch.
    await request.onAccount?.({
      accountId,
      rows,
      range,
      timeZone,
      ...(session.refreshed ? { refreshedCredentials: session.credentials } : {}),
    });
  }

  return {
    accounts,
    ...(session.refreshed ? { refreshedCredentials: session.credentials } : {}),
    requests: session.sent.requests,
  };
}

/**
 * One fetch's (or discovery's) dealings with a platform: the credentials as they stand (a
 * refresh replaces them), every token seen so far for redaction, the requests sent, and the
 * adapter context for each request — bound to the limiter, the deadline, and the account or
 * user a platform's wait may be scoped to.
 */
class Session<P extends ProviderId> {
  credentials: Credentials;
  refreshed = false;
  /** Every token seen, old and new, is redacted from every message. */
  readonly secrets: string[];
  readonly sent = { requests: 0 };

  constructor(
    private readonly adapter: ProviderAdapter<P>,
    private readonly deps: FetchDeps<P>,
    private readonly original: Credentials,
    private readonly deadline?: number,
  ) {
    this.credentials = original;
    this.secrets = secretsOf(original, deps.settings);
  }

  context(accountId?: string): AdapterContext<P> {
    const { adapter, deps } = this;
    return {
      settings: deps.settings,
      now: () => deps.clock.now(),
      http: new PlatformHttp({
        provider: adapter.id,
        axios: deps.axios,
        limiter: deps.limiter,
        clock: deps.clock,
        classify: adapter.classify,
        timeoutMs: deps.settings.timeoutMs,
        maxInlineWaitMs: deps.settings.maxInlineWaitMs,
        maxInlineRetries: deps.settings.maxInlineRetries,
        secrets: this.secrets,
        // A wait the platform scopes to this account or this user holds back only their requests.
        scope: {
          member: this.original.refreshToken ?? this.original.accessToken,
          ...(accountId === undefined ? {} : { accountId }),
        },
        ...(this.deadline === undefined ? {} : { deadlineMs: this.deadline }),
        sent: this.sent,
      }),
    };
  }

  async refresh(): Promise<void> {
    const { adapter } = this;
    if (!adapter.tokens || !this.credentials.refreshToken) {
      throw new ProviderError(
        adapter.id,
        "auth",
        "reconnect_required",
        "the access token is no longer valid and cannot be refreshed: the user must reconnect",
      );
    }
    this.credentials = await adapter.tokens.refresh(this.context(), this.credentials);
    this.secrets.push(...secretsOf(this.credentials, {}));
    this.refreshed = true;
  }

  /** Whether `error` is a refused token that one refresh (none done yet) may mend. */
  mayRefreshAfter(error: unknown): boolean {
    return (
      error instanceof ProviderError &&
      error.code === "auth" &&
      !this.refreshed &&
      this.adapter.tokens !== undefined &&
      this.credentials.refreshToken !== undefined
    );
  }

  async refreshIfExpiring(): Promise<void> {
    if (this.adapter.tokens?.isExpiring(this.credentials, this.deps.clock.now())) {
      await this.refresh();
    }
  }
}

/** What a discovery found, with what the platform said of the credentials and any new token. */
export interface DiscoveryResult {
  accounts: DiscoveredAccount[];
  /** Absent where the platform has no inspection endpoint, or the inspection failed. */
  facts?: CredentialFacts;
  /** Why the inspection failed (the listing succeeded). */
  inspectFailure?: ProviderErrorInfo;
  refreshedCredentials?: Credentials;
  requests: number;
}

/**
 * Lists the accounts the credentials reach (and inspects them where the platform can): an
 * expiring token is refreshed first, and a token refused mid-way is refreshed once and the
 * listing asked again, as for a fetch. Throws the `ProviderError` that stopped it, redacted.
 */
export async function discoverAccounts<P extends ProviderId>(
  adapter: ProviderAdapter<P>,
  deps: FetchDeps<P>,
  credentials: Credentials,
): Promise<DiscoveryResult> {
  const { discovery } = adapter;
  if (!discovery) {
    throw new ProviderError(
      adapter.id,
      "permanent",
      "discovery_unsupported",
      `${adapter.id} has no account discovery`,
    );
  }
  const session = new Session(adapter, deps, credentials);
  try {
    await session.refreshIfExpiring();
    let accounts: DiscoveredAccount[];
    try {
      accounts = await discovery.discover(session.context(), session.credentials);
    } catch (error) {
      if (!session.mayRefreshAfter(error)) {
        throw error;
      }
      await session.refresh();
      accounts = await discovery.discover(session.context(), session.credentials);
    }
    let facts: CredentialFacts | undefined;
    let inspectFailure: ProviderErrorInfo | undefined;
    try {
      facts = await discovery.inspect?.(session.context(), session.credentials);
    } catch (error) {
      // The listing stands without the facts: an inspection our side cannot make (an app id
      // not configured) or one the platform answers oddly leaves the health as the calls say.
      if (!(error instanceof ProviderError) || error.code === "auth") {
        throw error;
      }
      inspectFailure = error.redacted(session.secrets).toInfo();
    }
    return {
      accounts,
      ...(facts ? { facts } : {}),
      ...(inspectFailure ? { inspectFailure } : {}),
      ...(session.refreshed ? { refreshedCredentials: session.credentials } : {}),
      requests: session.sent.requests,
    };
  } catch (error) {
    throw asProviderError(adapter.id, error, session.secrets);
  }
}

/**
 * The request's days for an account reported in `timeZone`. A zone the runtime does not know
 * (Intl refuses it) cannot say which days have started: the account fails `permanent`, naming
 * the zone, rather than being retried for nothing.
 */
function rangeForZone(provider: ProviderId, request: FetchRequest, timeZone: string) {
  try {
    return requestedRange(request, timeZone);
  } catch (error) {
    if (!(error instanceof RangeError)) {
      throw error;
    }
    throw new ProviderError(
      provider,
      "permanent",
      "unknown_time_zone",
      `the platform reports this account's days in "${timeZone}", which is not a known time zone`,
    );
  }
}

function asProviderError(
  provider: ProviderId,
  error: unknown,
  secrets: readonly string[],
): ProviderError {
  if (error instanceof ProviderError) {
    return error.redacted(secrets);
  }
  // A value the platform sent that our parsers refuse (e.g. a non-numeric metric): the body
  // was not what the API documents, which is retried like any malformed response.
  return new ProviderError(
    provider,
    "transient",
    "unexpected",
    redact(error instanceof Error ? error.message : String(error), secrets),
  );
}
