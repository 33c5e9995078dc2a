/**
 * Helpers the provider contract tests share: a sandbox world on a loopback server, adapters run
 * over real HTTP with test settings, the rows the sandbox generated as an adapter must return
 * them, and the checks every platform is held to (totals, redaction, the measured request rate).
 */
import axios, { type AxiosInstance } from "axios";

import type { PlatformSandbox } from "../../dev/sandbox/platform";
import { type RunningSandbox, startSandbox } from "../../dev/sandbox/server";
import { daysBetween, type SandboxAccount, SandboxWorld } from "../../dev/sandbox/world";
import type { ProviderAdapter } from "../../src/providers/adapter";
import { type FetchDeps, fetchMetrics } from "../../src/providers/fetch";
import { RateLimiter, realClock } from "../../src/providers/limiter";
import { parseProviderSettings, type SettingsOf } from "../../src/providers/settings";
import type {
  DateRange,
  FetchRequest,
  FetchResult,
  MetricRow,
  ProviderErrorInfo,
  ProviderId,
} from "../../src/providers/types";

/**
 * The date LinkedIn-Version sunsets are judged at (`createLinkedinSandbox({ versionsActiveAt })`):
 * fixed, so the suite does not start failing when the adapter's default version sunsets.
 */
export const LINKEDIN_VERSIONS_AT = Date.UTC(2026, 9, 15);

/** Fast-failing defaults: short timeouts, short inline waits, no client-side rate limit to speak of. */
const TEST_SETTINGS = { timeoutMs: 2_000, maxInlineWaitMs: 3_000, requestsPerSecond: 100 };

export function sandboxAccount(
  provider: ProviderId,
  id: string,
  campaigns: number,
  timeZone: string,
  currency: string,
  name = `Account ${id.slice(-2)}`,
): SandboxAccount {
  return { provider, id, name, timeZone, currency, campaigns };
}

export async function startWorld(
  accounts: readonly SandboxAccount[],
  platforms: readonly PlatformSandbox[],
): Promise<{ world: SandboxWorld; sandbox: RunningSandbox }> {
  const world = new SandboxWorld(accounts);
  return { world, sandbox: await startSandbox({ world, platforms }) };
}

/** One platform's settings pointed at the sandbox: test defaults, then `overrides`. */
export function sandboxSettings<P extends ProviderId>(
  provider: P,
  sandbox: RunningSandbox,
  overrides: Record<string, unknown> = {},
): SettingsOf<P> {
  return parseProviderSettings({
    [provider]: { ...sandbox.baseUrls()[provider], ...TEST_SETTINGS, ...overrides },
  })[provider];
}

/** What `fetchMetrics` needs besides the adapter: settings, HTTP client, a fresh limiter. */
export function sandboxDeps<P extends ProviderId>(
  provider: P,
  sandbox: RunningSandbox,
  overrides: Record<string, unknown> = {},
  http: AxiosInstance = axios.create(),
): FetchDeps<P> {
  const settings = sandboxSettings(provider, sandbox, overrides);
  return { settings, axios: http, limiter: new RateLimiter(settings, realClock), clock: realClock };
}

export interface RunOptions {
  settings?: Record<string, unknown>;
  http?: AxiosInstance;
}

/** A fetch's result with every row its accounts handed over, in the order they came. */
export type FetchedRows = FetchResult & { rows: MetricRow[] };

/** `fetchMetrics` with an `onAccount` that keeps every account's rows, for tests to compare. */
export async function fetchWithRows<P extends ProviderId>(
  adapter: ProviderAdapter<P>,
  deps: FetchDeps<P>,
  request: FetchRequest,
): Promise<FetchedRows> {
  const rows: MetricRow[] = [];
  const result = await fetchMetrics(adapter, deps, {
    ...request,
    onAccount: (account) => {
      rows.push(...account.rows);
      return Promise.resolve();
    },
  });
  return { ...result, rows };
}

/** One fetch over real HTTP against the sandbox, as a job would run it. */
export function runAdapter<P extends ProviderId>(
  adapter: ProviderAdapter<P>,
  sandbox: RunningSandbox,
  request: FetchRequest,
  { settings = {}, http }: RunOptions = {},
): Promise<FetchedRows> {
  return fetchWithRows(adapter, sandboxDeps(adapter.id, sandbox, settings, http), request);
}

/** How a platform reports an account's rows where it differs from the account itself. */
export interface ReportedAs {
  /** The zone the platform counts days in, when not the account's own (LinkedIn: UTC). */
  timeZone?: string;
}

/**
 * Every campaign-day the sandbox generated for the account, archived and deleted campaigns
 * included, as the adapter must return it: under the account's canonical id (the sandbox's ids
 * are canonical), whichever spelling the fetch asked for.
 */
export function expectedRows(
  world: SandboxWorld,
  account: SandboxAccount,
  range: DateRange,
  reported: ReportedAs = {},
): MetricRow[] {
  return daysBetween(range.since, range.until).flatMap((date) =>
    world.campaigns(account).map((campaign) => ({
      provider: account.provider,
      accountId: account.id,
      campaignId: campaign.id,
      campaignName: campaign.name,
      date,
      timeZone: reported.timeZone ?? account.timeZone,
      currency: account.currency,
      ...world.metrics(account, campaign.id, date),
    })),
  );
}

/** Rows in a fixed order (account, day, campaign), so results compare whatever the fetch order. */
export const byDayAndCampaign = (rows: readonly MetricRow[]): MetricRow[] =>
  [...rows].sort(
    (a, b) =>
      a.accountId.localeCompare(b.accountId) ||
      a.date.localeCompare(b.date) ||
      a.campaignId.localeCompare(b.campaignId),
  );

export function totals(rows: readonly MetricRow[]) {
  return rows.reduce(
    (sum, row) => ({
      impressions: sum.impressions + row.impressions,
      clicks: sum.clicks + row.clicks,
      // A spend the platform did not send (null) adds nothing.
      spendMicros: sum.spendMicros + (row.spendMicros ?? 0n),
      conversions: sum.conversions + row.conversions,
      conversionValueMicros: sum.conversionValueMicros + row.conversionValueMicros,
    }),
    { impressions: 0, clicks: 0, spendMicros: 0n, conversions: 0, conversionValueMicros: 0n },
  );
}

/** The error of a failed account, by request position or account id; `undefined` when it is ok. */
export function failure(
  result: FetchResult,
  which: number | string = 0,
): ProviderErrorInfo | undefined {
  const outcome =
    typeof which === "number"
      ? result.accounts[which]
      : result.accounts.find((entry) => entry.accountId === which);
  return outcome?.status === "failed" ? outcome.error : undefined;
}

/** The distinct ranges of a platform's report queries, in order, answered or refused as too large. */
export function queriedRanges(
  world: SandboxWorld,
  provider: ProviderId,
  tooLarge: boolean,
): string[] {
  const ranges = world.queryLog
    .filter((query) => query.provider === provider && query.tooLarge === tooLarge)
    .map((query) => `${query.since}..${query.until}`);
  return [...new Set(ranges)];
}

/** Requests the sandbox received for a platform, oldest first, optionally only matching paths. */
export function requestsTo(
  world: SandboxWorld,
  provider: ProviderId,
  path: RegExp = /./,
): SandboxWorld["requestLog"] {
  return world.requestLog.filter((entry) => entry.provider === provider && path.test(entry.path));
}

/** No token or secret appears anywhere in the serialised result. */
export function expectNoSecrets(
  result: FetchResult,
  secrets: readonly (string | undefined)[],
): void {
  const text = JSON.stringify(result, (_key, value: unknown) =>
    typeof value === "bigint" ? value.toString() : value,
  );
  for (const secret of secrets) {
    if (secret !== undefined) {
      expect(text).not.toContain(secret);
    }
  }
}

/**
 * No more than `requestsPerSecond` requests arrived within any one second. The sandbox stamps
 * arrival, which trails the limiter's start by loopback transit and event-loop delay (the sandbox
 * shares the process with the client): `jitterMs` allows for that. With 4 requests a second and
 * 50 ms, a limiter letting 5 through (800 ms apart) or a burst still fails.
 */
export function expectRequestRate(
  arrivals: readonly number[],
  requestsPerSecond: number,
  jitterMs = 50,
): void {
  const sorted = [...arrivals].sort((a, b) => a - b);
  for (let i = requestsPerSecond; i < sorted.length; i += 1) {
    expect((sorted[i] ?? 0) - (sorted[i - requestsPerSecond] ?? 0)).toBeGreaterThanOrEqual(
      1_000 - jitterMs,
    );
  }
}
