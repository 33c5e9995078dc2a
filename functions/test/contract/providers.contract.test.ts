/**
 * The provider-adapter contract, asserted once for every platform over real HTTP against its
 * sandbox: complete, normalised multi-page results whose totals are what the sandbox generated;
 * every error class from the platform's own signal (rate limit, 5xx, timeout, malformed and
 * truncated bodies, a forbidden account, a revoked token); an expired token refreshed and handed
 * back where the platform can refresh, `auth` where it cannot; the measured request rate; per-
 * account isolation; one canonical account id in the rows whichever spelling was asked for; a
 * query the platform finds too large split into halves down to single days (Google has no such
 * answer: searchStream streams any number of rows as one operation, notes §1.4); no token or
 * secret in a result. What only one platform does (its request checks, slicing rules,
 * classification details) is in `<platform>.test.ts`.
 */
import { GOOGLE_SANDBOX_CLIENT, googleSandbox } from "../../dev/sandbox/google";
import { createLinkedinSandbox } from "../../dev/sandbox/linkedin";
import { META_SANDBOX_APP_SECRET, metaSandbox } from "../../dev/sandbox/meta";
import type { PlatformSandbox } from "../../dev/sandbox/platform";
import type { RunningSandbox } from "../../dev/sandbox/server";
import { tiktokSandbox } from "../../dev/sandbox/tiktok";
import type { FaultKnobs, SandboxAccount, SandboxWorld } from "../../dev/sandbox/world";
import type { ProviderAdapter } from "../../src/providers/adapter";
import { googleAdapter } from "../../src/providers/google";
import { DEFAULT_RATE_LIMIT_WAIT_MS } from "../../src/providers/http";
import { createLinkedinAdapter } from "../../src/providers/linkedin";
import { createMetaAdapter } from "../../src/providers/meta";
import { tiktokAdapter } from "../../src/providers/tiktok";
import { RATE_LIMIT_WAIT_MS } from "../../src/providers/tiktok/classify";
import type { Credentials, DateRange, FetchResult, ProviderId } from "../../src/providers/types";
import {
  byDayAndCampaign,
  expectedRows,
  expectNoSecrets,
  expectRequestRate,
  failure,
  fetchWithRows,
  LINKEDIN_VERSIONS_AT,
  queriedRanges,
  requestsTo,
  runAdapter,
  sandboxAccount,
  sandboxDeps,
  startWorld,
  totals,
} from "../harness/sandbox";

/** A rate-limit signal as the adapter must report it. */
interface RateLimitSignal {
  /** The wait the sandbox is asked to state (where the platform's signal can state one). */
  retryAfterSeconds: number;
  retryAfterMs: number;
  reason: string;
}

/** What an expired access token leads to on the platform. */
type OnExpiry =
  | { refresh: true; tokenPath: string; accessTokenLifetimeMs: number }
  | { refresh: false; reason: string };

interface ContractCase {
  provider: ProviderId;
  adapter: ProviderAdapter<ProviderId>;
  platform: PlatformSandbox;
  /** Settings every run of this platform gets (OAuth client, app secret). */
  settings: Record<string, unknown>;
  /** Configured secrets that must never show in a result. */
  settingSecrets: string[];
  /** A working credential, as the platform issues it. */
  issue(world: SandboxWorld): Credentials;
  onExpiry: OnExpiry;
  /** The requests the sandbox injects faults into (its `isReportingRequest`). */
  reportingPath: RegExp;
  /** The zone rows are reported in when it is not the account's own. */
  reportedTimeZone?: string;
  /** An account and range the platform answers in several pages or slices. */
  multiPage: { account: SandboxAccount; range: DateRange; requests: number };
  /** Three small accounts with different currencies and time zones. */
  accounts: [SandboxAccount, SandboxAccount, SandboxAccount];
  /** A range over which the three accounts need more than 2 × RATE requests. */
  busyRange: DateRange;
  /** Every spelling of an account id the platform accepts (canonical: the sandbox's own id). */
  spellings(id: string): string[];
  /**
   * How the platform answers a query over the `maxRowsPerQuery` knob; absent for Google, which
   * has no such answer.
   */
  querySize?: {
    /**
     * The adapter for a platform limit of `maxRows`, when it must be told: LinkedIn's only signal
     * is a response of exactly its cap, so the adapter needs the cap to recognise one.
     */
    adapter?: (maxRows: number) => ProviderAdapter<ProviderId>;
    /**
     * The adapter sizes its queries under the limit before asking (LinkedIn, from the campaign
     * count), so nothing is refused; otherwise the refused query and its halves are asked first.
     */
    plannedAhead?: boolean;
  };
  /** Each fault knob's real signal, as the adapter classifies it. */
  signals: {
    rateLimit: RateLimitSignal;
    /**
     * The platform's signals for one ad account's limit and for the app's (`throttles` knob);
     * absent for LinkedIn, which counts no limit per ad account and whose 429 does not say
     * whether the app's or the member's limit was reached (`linkedin.test.ts`).
     */
    throttles?: { account: RateLimitSignal; app: RateLimitSignal };
    /** The wait a 1-second rate limit is honoured for inline, when not that second. */
    shortWaitMs?: number;
    serverError: string;
    forbidden: { reason: string; message?: string };
    revoked: string;
  };
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** Requests per second for the rate measurement. */
const RATE = 4;
const SHORT: DateRange = { since: "2026-03-01", until: "2026-03-03" };
/** LinkedIn's adAnalytics cap in this suite, so that small accounts need several slices. */
const LINKEDIN_CAP = 40;

const google = (id: string, campaigns: number, timeZone: string, currency: string) =>
  sandboxAccount("google", id, campaigns, timeZone, currency);
const meta = (id: string, campaigns: number, timeZone: string, currency: string) =>
  sandboxAccount("meta", id, campaigns, timeZone, currency);
const linkedin = (id: string, campaigns: number, timeZone: string, currency: string) =>
  sandboxAccount("linkedin", id, campaigns, timeZone, currency);
const tiktok = (id: string, campaigns: number, timeZone: string, currency: string) =>
  sandboxAccount("tiktok", id, campaigns, timeZone, currency);

const CASES: ContractCase[] = [
  {
    provider: "google",
    adapter: googleAdapter,
    platform: googleSandbox,
    settings: { ...GOOGLE_SANDBOX_CLIENT },
    settingSecrets: [GOOGLE_SANDBOX_CLIENT.clientSecret],
    issue: (world) => world.issueTokens("google", { lifetimeMs: HOUR_MS, refreshable: true }),
    onExpiry: { refresh: true, tokenPath: "/token", accessTokenLifetimeMs: 3_599_000 },
    reportingPath: /googleAds:searchStream$/,
    // 115 campaigns × 95 days: two slices (90 + 5 days), the first streamed in two batches.
    multiPage: {
      account: google("4567890123", 115, "Europe/Berlin", "EUR"),
      range: { since: "2026-01-01", until: "2026-04-05" },
      requests: 2,
    },
    accounts: [
      google("1234567890", 3, "America/New_York", "USD"),
      google("2345678901", 2, "Asia/Tokyo", "JPY"),
      google("3456789012", 2, "Europe/London", "GBP"),
    ],
    // 182 days: three slices (90 + 90 + 2) per account.
    busyRange: { since: "2025-10-01", until: "2026-03-31" },
    spellings: (id) => [`${id.slice(0, 3)}-${id.slice(3, 6)}-${id.slice(6)}`, id],
    signals: {
      // RESOURCE_EXHAUSTED with the wait in quotaErrorDetails.retryDelay.
      rateLimit: {
        retryAfterSeconds: 40_591,
        retryAfterMs: 40_591_000,
        reason: "resource_exhausted",
      },
      // RESOURCE_EXHAUSTED with rateScope ACCOUNT or DEVELOPER, the wait in retryDelay.
      throttles: {
        account: { retryAfterSeconds: 600, retryAfterMs: 600_000, reason: "resource_exhausted" },
        app: { retryAfterSeconds: 600, retryAfterMs: 600_000, reason: "resource_exhausted" },
      },
      serverError: "internal_error",
      forbidden: { reason: "user_permission_denied" },
      revoked: "invalid_grant",
    },
  },
  {
    provider: "meta",
    // 25 rows a page, so small accounts take several pages.
    adapter: createMetaAdapter({ pageSize: 25 }),
    platform: metaSandbox,
    settings: { appSecret: META_SANDBOX_APP_SECRET },
    settingSecrets: [META_SANDBOX_APP_SECRET],
    issue: (world) => world.issueTokens("meta"),
    onExpiry: { refresh: false, reason: "meta_code_190_463" },
    reportingPath: /\/insights$/,
    // 5 campaigns × 14 days = 70 rows: the account node and three insights pages.
    multiPage: {
      account: meta("1010101010", 5, "Europe/Berlin", "EUR"),
      range: { since: "2026-01-25", until: "2026-02-07" },
      requests: 4,
    },
    accounts: [
      meta("2020202020", 3, "America/Los_Angeles", "USD"),
      meta("3030303030", 2, "Europe/London", "GBP"),
      meta("5050505050", 2, "Asia/Singapore", "SGD"),
    ],
    // Per account the node and two insights pages.
    busyRange: { since: "2026-01-25", until: "2026-02-07" },
    spellings: (id) => [`act_${id}`, id],
    querySize: {},
    signals: {
      // Code 17 with the wait in the usage headers (reset_time_duration).
      rateLimit: { retryAfterSeconds: 150, retryAfterMs: 150_000, reason: "meta_code_17_2446079" },
      throttles: {
        // Code 80000 with the minutes to regain access under the account's id in the BUC header.
        account: {
          retryAfterSeconds: 300,
          retryAfterMs: 300_000,
          reason: "meta_code_80000_2446079",
        },
        // Code 4: X-App-Usage states no wait, so the default one applies.
        app: {
          retryAfterSeconds: 300,
          retryAfterMs: DEFAULT_RATE_LIMIT_WAIT_MS,
          reason: "meta_code_4_1504022",
        },
      },
      serverError: "meta_code_2",
      forbidden: { reason: "meta_code_200" },
      revoked: "meta_code_190_458",
    },
  },
  {
    provider: "linkedin",
    adapter: createLinkedinAdapter({ maxElements: LINKEDIN_CAP }),
    platform: createLinkedinSandbox({
      maxElements: LINKEDIN_CAP,
      versionsActiveAt: () => LINKEDIN_VERSIONS_AT,
    }),
    settings: { clientId: "sandbox-client", clientSecret: "sandbox-client-secret" },
    settingSecrets: ["sandbox-client-secret"],
    issue: (world) => world.issueTokens("linkedin", { lifetimeMs: 60 * DAY_MS, refreshable: true }),
    onExpiry: {
      refresh: true,
      tokenPath: "/oauth/v2/accessToken",
      accessTokenLifetimeMs: 60 * DAY_MS,
    },
    reportingPath: /^\/rest\//,
    reportedTimeZone: "UTC",
    // 4 campaigns × 20 days under a 40-element cap: slices of 9 + 9 + 2 days, after the account
    // and its campaigns.
    multiPage: {
      account: linkedin("512345678", 4, "America/New_York", "EUR"),
      range: { since: "2026-10-01", until: "2026-10-20" },
      requests: 5,
    },
    accounts: [
      linkedin("512345679", 3, "America/New_York", "USD"),
      linkedin("512345680", 2, "Europe/London", "GBP"),
      linkedin("512345682", 2, "Asia/Singapore", "SGD"),
    ],
    // Two slices per account, after the account and its campaigns.
    busyRange: { since: "2026-10-01", until: "2026-10-20" },
    spellings: (id) => [`urn:li:sponsoredAccount:${id}`, id],
    querySize: {
      adapter: (maxRows) => createLinkedinAdapter({ maxElements: maxRows }),
      plannedAhead: true,
    },
    signals: {
      // HTTP 429 with a Retry-After header (advertised only when a test asks for a wait).
      rateLimit: { retryAfterSeconds: 120, retryAfterMs: 120_000, reason: "http_429" },
      serverError: "http_500",
      forbidden: { reason: "access_denied", message: "Not enough permissions to access" },
      revoked: "oauth_invalid_grant",
    },
  },
  {
    provider: "tiktok",
    adapter: tiktokAdapter,
    platform: tiktokSandbox,
    settings: {},
    settingSecrets: [],
    issue: (world) => world.issueTokens("tiktok"),
    onExpiry: { refresh: false, reason: "tiktok_code_40102" },
    reportingPath: /\/report\/integrated\/get\/$/,
    // 40 campaigns × 45 days: advertiser info, then a 30-day slice of 1,200 rows in two
    // 1,000-row pages and a 15-day slice in one.
    multiPage: {
      account: tiktok("7000000000000000001", 40, "America/New_York", "USD"),
      range: { since: "2026-01-01", until: "2026-02-14" },
      requests: 4,
    },
    accounts: [
      tiktok("7000000000000000002", 3, "Etc/GMT-8", "EUR"),
      tiktok("7000000000000000003", 2, "Asia/Tokyo", "JPY"),
      tiktok("7000000000000000004", 2, "Europe/London", "GBP"),
    ],
    // Advertiser info and two 30-day slices per account.
    busyRange: { since: "2026-01-01", until: "2026-02-14" },
    // TikTok has a single spelling of an advertiser id.
    spellings: (id) => [id],
    querySize: {},
    signals: {
      // Code 40100 in an HTTP 200 envelope, with no wait: TikTok's documented one second.
      rateLimit: {
        retryAfterSeconds: 1,
        retryAfterMs: RATE_LIMIT_WAIT_MS,
        reason: "tiktok_code_40100",
      },
      shortWaitMs: RATE_LIMIT_WAIT_MS,
      // 40133 (the advertiser's QPS) and 40100 (the app's), neither with a wait: the next second.
      throttles: {
        account: {
          retryAfterSeconds: 1,
          retryAfterMs: RATE_LIMIT_WAIT_MS,
          reason: "tiktok_code_40133",
        },
        app: {
          retryAfterSeconds: 1,
          retryAfterMs: RATE_LIMIT_WAIT_MS,
          reason: "tiktok_code_40100",
        },
      },
      serverError: "tiktok_code_50000",
      forbidden: { reason: "tiktok_code_40001" },
      revoked: "tiktok_code_40105",
    },
  },
];

describe.each(CASES)("$provider adapter contract", (entry) => {
  const { provider, adapter, signals, onExpiry } = entry;
  const [first, second, third] = entry.accounts;
  const reported = entry.reportedTimeZone ? { timeZone: entry.reportedTimeZone } : {};

  let world: SandboxWorld;
  let sandbox: RunningSandbox;
  let credentials: Credentials;

  beforeEach(async () => {
    ({ world, sandbox } = await startWorld(
      [entry.multiPage.account, ...entry.accounts],
      [entry.platform],
    ));
    credentials = entry.issue(world);
  });

  afterEach(() => sandbox.stop());

  const run = (
    accountIds: string[],
    range = SHORT,
    settings: Record<string, unknown> = {},
    runWith: ProviderAdapter<ProviderId> = adapter,
  ) =>
    runAdapter(
      runWith,
      sandbox,
      { credentials, accountIds, range },
      { settings: { ...entry.settings, ...settings } },
    );
  const expected = (accounts: readonly SandboxAccount[], range = SHORT) =>
    accounts.flatMap((account) => expectedRows(world, account, range, reported));
  const requests = () => requestsTo(world, provider);
  const reportingRequests = () => requestsTo(world, provider, entry.reportingPath);
  const withFaults = (knobs: FaultKnobs) => world.setFaults(provider, knobs);
  const noSecrets = (result: FetchResult, ...more: Array<string | undefined>) =>
    expectNoSecrets(result, [
      credentials.accessToken,
      credentials.refreshToken,
      ...entry.settingSecrets,
      ...more,
    ]);
  /** How many requests a fault-free fetch of the accounts takes; the log is cleared after. */
  const baseline = async (accountIds: string[]) => {
    const result = await run(accountIds);
    expect(result.accounts.every((outcome) => outcome.status === "ok")).toBe(true);
    return world.requestLog.splice(0).length;
  };

  it("returns a multi-page result complete and normalised, totals as generated", async () => {
    const { account, range } = entry.multiPage;
    const result = await run([account.id], range);

    const rows = expected([account], range);
    expect(result.accounts).toEqual([
      {
        accountId: account.id,
        status: "ok",
        rows: rows.length,
        range,
        timeZone: entry.reportedTimeZone ?? account.timeZone,
      },
    ]);
    expect(byDayAndCampaign(result.rows)).toEqual(byDayAndCampaign(rows));
    expect(totals(result.rows)).toEqual(totals(rows));
    // More requests than a single page or slice takes.
    expect(requests()).toHaveLength(entry.multiPage.requests);
  });

  it("reports rows under one canonical account id whichever spelling was asked for", async () => {
    const spellings = entry.spellings(first.id);
    const result = await run(spellings);

    // Outcomes answer the request as the caller spelled it; rows carry the canonical id.
    expect(result.accounts.map(({ accountId, status }) => [accountId, status])).toEqual(
      spellings.map((spelling) => [spelling, "ok"]),
    );
    expect(new Set(result.rows.map((row) => row.accountId))).toEqual(new Set([first.id]));
    expect(byDayAndCampaign(result.rows)).toEqual(
      byDayAndCampaign(spellings.flatMap(() => expected([first]))),
    );
  });

  it("loses only the failing account's rows when one of three is forbidden", async () => {
    withFaults({ forbiddenAccounts: [second.id] });
    const result = await run([first.id, second.id, third.id]);

    expect(result.accounts.map((outcome) => outcome.status)).toEqual(["ok", "failed", "ok"]);
    expect(failure(result, 1)).toMatchObject({
      code: "permanent",
      reason: signals.forbidden.reason,
      ...(signals.forbidden.message
        ? { message: expect.stringContaining(signals.forbidden.message) as unknown }
        : {}),
    });
    const rows = expected([first, third]);
    expect(byDayAndCampaign(result.rows)).toEqual(byDayAndCampaign(rows));
    expect(totals(result.rows)).toEqual(totals(rows));
    // Each account keeps its own currency and reporting time zone.
    expect(new Set(result.rows.map((row) => `${row.currency} ${row.timeZone}`))).toEqual(
      new Set(rows.map((row) => `${row.currency} ${row.timeZone}`)),
    );
    noSecrets(result);
  });

  it("does not retry a forbidden account (permanent)", async () => {
    withFaults({ forbiddenAccounts: [second.id] });
    const result = await run([second.id]);

    expect(failure(result)).toMatchObject({ code: "permanent", reason: signals.forbidden.reason });
    expect(requests()).toHaveLength(1);
  });

  it("hands a rate limit longer than the inline budget back as rate_limited with its wait", async () => {
    const { retryAfterSeconds, retryAfterMs, reason } = signals.rateLimit;
    withFaults({ rateLimit: { count: 1, retryAfterSeconds } });
    const result = await run([first.id], SHORT, { maxInlineWaitMs: 500 });

    expect(failure(result)).toMatchObject({ code: "rate_limited", reason, retryAfterMs });
    expect(reportingRequests()).toHaveLength(1);
    noSecrets(result);
  });

  it("honours a short rate-limit wait inline: the retry comes no sooner than asked", async () => {
    const requestsWithoutFault = await baseline([first.id]);
    withFaults({ rateLimit: { count: 1, retryAfterSeconds: 1 } });
    const result = await run([first.id]);

    expect(byDayAndCampaign(result.rows)).toEqual(byDayAndCampaign(expected([first])));
    expect(requests()).toHaveLength(requestsWithoutFault + 1);
    const [limited, retried] = reportingRequests();
    expect(retried?.path).toBe(limited?.path);
    expect((retried?.at ?? 0) - (limited?.at ?? 0)).toBeGreaterThanOrEqual(
      signals.shortWaitMs ?? 1_000,
    );
  });

  const throttles = signals.throttles;
  if (throttles) {
    describe("throttles scoped as the platform scopes them", () => {
      /**
       * Two fetches of `first` and `second` through one limiter, as one instance runs its jobs,
       * without inline waits: a paused account fails at once instead of holding the fetch.
       */
      const fetchTwice = async () => {
        const deps = sandboxDeps(provider, sandbox, { ...entry.settings, maxInlineWaitMs: 0 });
        const fetch = () =>
          fetchWithRows(adapter, deps, {
            credentials,
            accountIds: [first.id, second.id],
            range: SHORT,
          });
        const firstFetch = await fetch();
        const secondFetch = await fetch();
        return { firstFetch, secondFetch };
      };

      it("pauses only a throttled account: its neighbour is fetched in full, in this fetch and the next", async () => {
        const { retryAfterSeconds, retryAfterMs, reason } = throttles.account;
        withFaults({ throttles: [{ scope: "account", id: first.id, retryAfterSeconds }] });
        const { firstFetch, secondFetch } = await fetchTwice();

        expect(failure(firstFetch, 0)).toMatchObject({
          code: "rate_limited",
          reason,
          retryAfterMs,
        });
        // The next fetch fails it with what is left of its wait, the job deferring just that.
        const paused = failure(secondFetch, 0);
        expect(paused).toMatchObject({ code: "rate_limited", reason: "account_paused" });
        expect(paused?.retryAfterMs).toBeGreaterThan(0);
        expect(paused?.retryAfterMs).toBeLessThanOrEqual(retryAfterMs);
        const rows = expected([second]);
        for (const result of [firstFetch, secondFetch]) {
          expect(result.accounts[1]).toMatchObject({ accountId: second.id, status: "ok" });
          expect(byDayAndCampaign(result.rows)).toEqual(byDayAndCampaign(rows));
          expect(totals(result.rows)).toEqual(totals(rows));
        }
        // The throttled account got nothing after the request answered with its throttle ...
        const toThrottled = requests().filter((request) => request.accountId === first.id);
        expect(
          toThrottled.filter((request) => entry.reportingPath.test(request.path)),
        ).toHaveLength(1);
        expect(toThrottled.at(-1)?.path).toMatch(entry.reportingPath);
        // ... while its neighbour was fetched twice within its wait.
        const throttledAt = toThrottled.at(-1)?.at ?? 0;
        const toNeighbour = requests().filter((request) => request.accountId === second.id);
        expect(toNeighbour.length).toBeGreaterThanOrEqual(2);
        expect(
          toNeighbour.every(
            (request) => request.at >= throttledAt && request.at < throttledAt + retryAfterMs,
          ),
        ).toBe(true);
      });

      it("holds every account back on an app-wide throttle, in this fetch and the next", async () => {
        const { retryAfterSeconds, retryAfterMs, reason } = throttles.app;
        withFaults({ throttles: [{ scope: "app", retryAfterSeconds }] });
        const { firstFetch, secondFetch } = await fetchTwice();

        expect(failure(firstFetch, 0)).toMatchObject({
          code: "rate_limited",
          reason,
          retryAfterMs,
        });
        for (const paused of [
          failure(firstFetch, 1),
          failure(secondFetch, 0),
          failure(secondFetch, 1),
        ]) {
          expect(paused).toMatchObject({ code: "rate_limited", reason: "paused" });
          expect(paused?.retryAfterMs).toBeLessThanOrEqual(retryAfterMs);
        }
        expect([...firstFetch.rows, ...secondFetch.rows]).toEqual([]);
        // One request met the throttle and none was sent after it.
        expect(reportingRequests()).toHaveLength(1);
        expect(requests().at(-1)?.path).toMatch(entry.reportingPath);
      });
    });
  }

  it("retries a single 5xx away", async () => {
    const requestsWithoutFault = await baseline([first.id]);
    withFaults({ serverErrors: 1 });
    const result = await run([first.id]);

    expect(byDayAndCampaign(result.rows)).toEqual(byDayAndCampaign(expected([first])));
    expect(requests()).toHaveLength(requestsWithoutFault + 1);
  });

  it("reports a persisting 5xx as transient after the inline retries", async () => {
    withFaults({ serverErrors: 5 });
    const result = await run([first.id], SHORT, { maxInlineRetries: 1 });

    expect(failure(result)).toMatchObject({ code: "transient", reason: signals.serverError });
    expect(reportingRequests()).toHaveLength(2);
    noSecrets(result);
  });

  it("reports a response slower than the timeout as transient", async () => {
    withFaults({ slowMs: 400 });
    const result = await run([first.id], SHORT, { timeoutMs: 150, maxInlineRetries: 0 });

    expect(failure(result)).toMatchObject({ code: "transient", reason: "timeout" });
    noSecrets(result);
  });

  it("reports malformed and truncated bodies as transient", async () => {
    withFaults({ malformed: 1 });
    const malformed = await run([first.id], SHORT, { maxInlineRetries: 0 });
    expect(failure(malformed)).toMatchObject({ code: "transient", reason: "malformed_response" });

    withFaults({ truncated: 1 });
    const truncated = await run([first.id], SHORT, { maxInlineRetries: 0 });
    // The connection closes before the announced length has arrived.
    expect(failure(truncated)).toMatchObject({ code: "transient", reason: "network" });
    noSecrets(malformed);
    noSecrets(truncated);
  });

  it("fails every account with auth, without retries, when the token was revoked", async () => {
    withFaults({ revokeTokens: true });
    const result = await run([first.id, second.id, third.id]);

    expect(result.rows).toEqual([]);
    expect(result.accounts.map(({ status }) => status)).toEqual(["failed", "failed", "failed"]);
    for (const index of [0, 1, 2]) {
      expect(failure(result, index)).toMatchObject({ code: "auth", reason: signals.revoked });
    }
    expect(result.refreshedCredentials).toBeUndefined();
    // One request answered as revoked and, where the platform refreshes, one refused refresh.
    const paths = requests().map((request) => request.path);
    const refreshes = onExpiry.refresh ? [onExpiry.tokenPath] : [];
    expect(paths).toHaveLength(1 + refreshes.length);
    expect(paths.slice(1)).toEqual(refreshes);
    expect(refreshes).not.toContain(paths[0]);
    noSecrets(result);
  });

  it(
    onExpiry.refresh
      ? "refreshes an expired token once, retries and hands the new credentials back"
      : "fails every account with auth on an expired token, without requests after the first",
    async () => {
      const requestsWithoutFault = await baseline([first.id, second.id]);
      world.expireAccessTokens(provider);
      const before = Date.now();
      const result = await run([first.id, second.id]);

      if (!onExpiry.refresh) {
        expect(result.rows).toEqual([]);
        for (const index of [0, 1]) {
          expect(failure(result, index)).toMatchObject({ code: "auth", reason: onExpiry.reason });
        }
        expect(requests()).toHaveLength(1);
        expect(result.refreshedCredentials).toBeUndefined();
        noSecrets(result);
        return;
      }
      expect(result.accounts.map(({ status }) => status)).toEqual(["ok", "ok"]);
      expect(byDayAndCampaign(result.rows)).toEqual(byDayAndCampaign(expected([first, second])));
      const renewed = result.refreshedCredentials;
      expect(renewed?.accessToken).not.toBe(credentials.accessToken);
      expect(world.checkAccessToken(provider, renewed?.accessToken)).toBe("valid");
      expect(renewed?.refreshToken).toBe(credentials.refreshToken);
      expect(renewed?.expiresAt).toBeGreaterThanOrEqual(before + onExpiry.accessTokenLifetimeMs);
      expect(renewed?.expiresAt).toBeLessThanOrEqual(Date.now() + onExpiry.accessTokenLifetimeMs);
      // The request that met the expired token, one refresh, the same request again, then the
      // rest of the fetch as without the fault.
      const paths = requests().map((request) => request.path);
      expect(paths.slice(0, 3)).toEqual([paths[0], onExpiry.tokenPath, paths[0]]);
      expect(paths[0]).not.toBe(onExpiry.tokenPath);
      expect(paths).toHaveLength(requestsWithoutFault + 2);
      noSecrets({ ...result, refreshedCredentials: undefined }, renewed?.accessToken);
    },
  );

  it("never lets more requests arrive in a second than requestsPerSecond", async () => {
    const result = await run([first.id, second.id, third.id], entry.busyRange, {
      requestsPerSecond: RATE,
    });

    expect(result.accounts.map(({ status }) => status)).toEqual(["ok", "ok", "ok"]);
    const arrivals = requests().map((request) => request.at);
    expect(arrivals.length).toBeGreaterThan(2 * RATE);
    expectRequestRate(arrivals, RATE);
  });

  it("keeps money past 2^53 micros exact (an IDR-scale account)", async () => {
    await sandbox.stop();
    const large = { ...first, largeAmounts: true };
    ({ world, sandbox } = await startWorld([large], [entry.platform]));
    credentials = entry.issue(world);

    const result = await run([large.id]);

    const rows = expected([large]);
    expect(rows.every((row) => (row.spendMicros ?? 0n) > 2n ** 53n)).toBe(true);
    expect(byDayAndCampaign(result.rows)).toEqual(byDayAndCampaign(rows));
    expect(totals(result.rows)).toEqual(totals(rows));
  });

  describe("each account's own days", () => {
    // UTC+14 and UTC−11: at any instant their calendar days differ by one or two.
    const zoned = [
      { ...first, timeZone: "Pacific/Kiritimati" },
      { ...second, timeZone: "Pacific/Pago_Pago" },
    ];
    beforeEach(async () => {
      await sandbox.stop();
      ({ world, sandbox } = await startWorld(zoned, [entry.platform]));
      credentials = entry.issue(world);
    });
    /** The sandbox's own idea of the account's last complete day and current day. */
    const ownDays = (account: SandboxAccount): DateRange => {
      const until = world.today(account);
      const since = new Date(Date.parse(`${until}T00:00:00Z`) - 86_400_000).toISOString();
      return { since: since.slice(0, 10), until };
    };

    it("asks each account for its last complete day and current one, never a day not started", async () => {
      const result = await runAdapter(
        adapter,
        sandbox,
        { credentials, accountIds: zoned.map((a) => a.id), window: { days: 1, at: Date.now() } },
        { settings: entry.settings },
      );

      expect(result.accounts).toEqual(
        zoned.map((account) => ({
          accountId: account.id,
          status: "ok",
          rows: expected([account], ownDays(account)).length,
          range: ownDays(account),
          timeZone: entry.reportedTimeZone ?? account.timeZone,
        })),
      );
      const rows = zoned.flatMap((account) => expected([account], ownDays(account)));
      expect(byDayAndCampaign(result.rows)).toEqual(byDayAndCampaign(rows));
      expect(totals(result.rows)).toEqual(totals(rows));
      // Every report query ended on or before the account's current day when it was asked.
      const queries = world.queryLog.filter((query) => query.provider === provider);
      expect(queries.length).toBeGreaterThanOrEqual(zoned.length);
      expect(queries.filter((query) => query.until > query.today)).toEqual([]);
      if (!entry.reportedTimeZone) {
        expect(ownDays(zoned[0]!).until > ownDays(zoned[1]!).until).toBe(true);
      }
    });
  });

  const querySize = entry.querySize;
  // Only the platforms with a query-size signal (Google streams any number of rows).
  if (querySize) {
    describe("queries too large for the platform", () => {
      /** 12 days of `first`'s 3 campaigns: 36 rows, over a limit of 10 until split to 3 days. */
      const TWELVE_DAYS: DateRange = { since: "2026-03-01", until: "2026-03-12" };

      /** A fetch against a platform answering queries over `maxRows` rows as too large. */
      const runLimited = (maxRows: number, accountIds: string[], range: DateRange) => {
        withFaults({ maxRowsPerQuery: maxRows });
        return run(accountIds, range, {}, querySize.adapter?.(maxRows) ?? adapter);
      };

      it("splits a query into halves until the platform accepts them, rows adding up", async () => {
        const result = await runLimited(10, [first.id], TWELVE_DAYS);

        expect(result.accounts).toEqual([
          {
            accountId: first.id,
            status: "ok",
            rows: 36,
            range: TWELVE_DAYS,
            timeZone: entry.reportedTimeZone ?? first.timeZone,
          },
        ]);
        const rows = expected([first], TWELVE_DAYS);
        expect(byDayAndCampaign(result.rows)).toEqual(byDayAndCampaign(rows));
        expect(totals(result.rows)).toEqual(totals(rows));
        // The sandbox answered four 3-day queries, covering the range once ...
        expect(queriedRanges(world, provider, false)).toEqual([
          "2026-03-01..2026-03-03",
          "2026-03-04..2026-03-06",
          "2026-03-07..2026-03-09",
          "2026-03-10..2026-03-12",
        ]);
        // ... after refusing the whole range and its halves, unless the adapter sized its queries
        // under the limit before asking.
        expect(queriedRanges(world, provider, true)).toEqual(
          querySize.plannedAhead
            ? []
            : ["2026-03-01..2026-03-12", "2026-03-01..2026-03-06", "2026-03-07..2026-03-12"],
        );
      });

      it("fails only the account whose single day is still too large, permanently", async () => {
        // 3 rows a query: the multi-page account has more campaigns than that, the others 2.
        const big = entry.multiPage.account;
        const result = await runLimited(3, [big.id, second.id, third.id], SHORT);

        expect(result.accounts.map(({ status }) => status)).toEqual(["failed", "ok", "ok"]);
        expect(failure(result, 0)).toMatchObject({
          code: "permanent",
          reason: "query_too_large",
          message: expect.stringContaining(`single day ${SHORT.since}`) as unknown,
        });
        expect(byDayAndCampaign(result.rows)).toEqual(
          byDayAndCampaign(expected([second, third], SHORT)),
        );
        // Nothing of the failed account was asked for after its first day was refused.
        const bigQueries = world.queryLog.filter((query) => query.accountId === big.id);
        expect(bigQueries.at(-1)).toMatchObject({ since: SHORT.since, until: SHORT.since });
        expect(bigQueries.at(-1)?.tooLarge).toBe(true);
      });
    });
  }
});
