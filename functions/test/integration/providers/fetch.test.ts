/**
 * The fetch runner over real HTTP: a minimal adapter against a scripted loopback "platform", to
 * test what the runner itself guarantees (account isolation, refresh orchestration, auth
 * short-circuit, redaction). The four real adapters are tested in test/contract/.
 */
import axios from "axios";
import { z } from "zod";

import type { ProviderAdapter } from "../../../src/providers/adapter";
import { ProviderError } from "../../../src/providers/errors";
import { fetchMetrics } from "../../../src/providers/fetch";
import { RateLimiter, realClock } from "../../../src/providers/limiter";
import { parseProviderSettings } from "../../../src/providers/settings";
import type { FetchedAccount, FetchRequest, MetricRow } from "../../../src/providers/types";
import { listenOnLoopback, type RunningServer } from "../../harness/http";

let server: RunningServer;
let validToken = "at-1";
let tokenStatus = 200;
let requests: string[] = [];

beforeAll(async () => {
  server = await listenOnLoopback((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    requests.push(url.pathname);
    res.setHeader("content-type", "application/json");
    if (url.pathname === "/token") {
      if (tokenStatus !== 200) {
        res.statusCode = tokenStatus;
        res.end(JSON.stringify({ error: tokenStatus === 400 ? "invalid_grant" : "unavailable" }));
        return;
      }
      validToken = `at-${Number(validToken.slice(3)) + 1}`;
      res.end(JSON.stringify({ access_token: validToken }));
      return;
    }
    if (req.headers.authorization !== `Bearer ${validToken}`) {
      res.statusCode = 401;
      res.end("{}");
      return;
    }
    const account = url.pathname.slice("/accounts/".length);
    res.statusCode = account === "broken" ? 403 : 200;
    res.end(JSON.stringify({ clicks: account.length }));
  });
});
afterAll(() => server.close());
beforeEach(() => {
  validToken = "at-1";
  tokenStatus = 200;
  requests = [];
});

const adapter: ProviderAdapter<"google"> = {
  id: "google",
  classify: () => undefined,
  history: { retentionMonths: 37, source: "test", backfillSliceDays: 30 },
  tokens: {
    isExpiring: (credentials, now) => (credentials.expiresAt ?? Infinity) < now + 60_000,
    refresh: async (ctx, credentials) => {
      try {
        const body = await ctx.http.request({
          method: "POST",
          url: `${server.url}/token`,
          schema: z.object({ access_token: z.string() }),
          label: "refresh",
        });
        return { ...credentials, accessToken: body.access_token, expiresAt: ctx.now() + 3_600_000 };
      } catch (error) {
        if (error instanceof ProviderError && error.reason === "http_400") {
          throw new ProviderError("google", "auth", "invalid_grant", "refresh refused");
        }
        throw error;
      }
    },
  },
  fetchAccount: async (ctx, credentials, query) => {
    const body = await ctx.http.request({
      method: "GET",
      url: `${server.url}/accounts/${query.accountId}`,
      headers: { authorization: `Bearer ${credentials.accessToken}` },
      schema: z.object({ clicks: z.number() }),
      label: `account ${query.accountId}`,
    });
    const range = query.rangeIn("UTC");
    const rows: MetricRow[] = [
      {
        provider: "google",
        accountId: query.accountId,
        campaignId: "c1",
        campaignName: "C1",
        date: range.since,
        timeZone: "UTC",
        currency: "EUR",
        impressions: 0,
        clicks: body.clicks,
        spendMicros: 0n,
        conversions: 0,
        conversionValueMicros: 0n,
      },
    ];
    return { rows, range, timeZone: "UTC" };
  },
};

const deps = {
  settings: parseProviderSettings({ google: { maxInlineRetries: 0 } }).google,
  axios: axios.create(),
  limiter: new RateLimiter({ requestsPerSecond: 100, concurrency: 2 }),
  clock: realClock,
};

const RANGE = { since: "2026-01-01", until: "2026-01-02" };
const request = (overrides: Partial<FetchRequest> = {}): FetchRequest => ({
  credentials: { accessToken: "at-1", refreshToken: "rt-secret-abcdef" },
  accountIds: ["a", "broken", "ccc"],
  range: RANGE,
  ...overrides,
});

/** A request whose `onAccount` records what each account handed over, and when. */
function recording(overrides: Partial<FetchRequest> = {}) {
  const handed: Array<FetchedAccount & { requestsBefore: string[] }> = [];
  return {
    handed,
    request: request({
      ...overrides,
      onAccount: (account) => {
        handed.push({ ...account, requestsBefore: [...requests] });
        return Promise.resolve();
      },
    }),
  };
}

describe("fetchMetrics", () => {
  it("keeps the other accounts' rows when one account fails", async () => {
    const { handed, request: withSink } = recording();
    const result = await fetchMetrics(adapter, deps, withSink);
    expect(
      handed.flatMap((account) => account.rows).map((row) => [row.accountId, row.clicks]),
    ).toEqual([
      ["a", 1],
      ["ccc", 3],
    ]);
    expect(result.accounts).toEqual([
      { accountId: "a", status: "ok", rows: 1, range: RANGE, timeZone: "UTC" },
      {
        accountId: "broken",
        status: "failed",
        error: expect.objectContaining({ code: "permanent", reason: "http_403" }) as unknown,
      },
      { accountId: "ccc", status: "ok", rows: 1, range: RANGE, timeZone: "UTC" },
    ]);
    expect(result.refreshedCredentials).toBeUndefined();
  });

  it("hands each account's rows over as soon as it is fetched, before the next one", async () => {
    const { handed, request: withSink } = recording();
    await fetchMetrics(adapter, deps, withSink);
    expect(
      handed.map(({ accountId, range, timeZone, requestsBefore }) => ({
        accountId,
        range,
        timeZone,
        requestsBefore,
      })),
    ).toEqual([
      { accountId: "a", range: RANGE, timeZone: "UTC", requestsBefore: ["/accounts/a"] },
      {
        accountId: "ccc",
        range: RANGE,
        timeZone: "UTC",
        requestsBefore: ["/accounts/a", "/accounts/broken", "/accounts/ccc"],
      },
    ]);
  });

  it("ends the fetch with the error of an onAccount that fails, fetching no further account", async () => {
    const failing = request({
      onAccount: () => Promise.reject(new Error("the store is unavailable")),
    });
    await expect(fetchMetrics(adapter, deps, failing)).rejects.toThrow("the store is unavailable");
    expect(requests).toEqual(["/accounts/a"]);
  });

  it("hands a token refreshed mid-fetch over with the rows fetched with it", async () => {
    validToken = "at-5";
    const { handed, request: withSink } = recording({ accountIds: ["a", "ccc"] });
    const result = await fetchMetrics(adapter, deps, withSink);
    expect(handed.map((account) => account.refreshedCredentials?.accessToken)).toEqual([
      "at-6",
      "at-6",
    ]);
    expect(result.refreshedCredentials?.accessToken).toBe("at-6");
  });

  it("refreshes an expiring token before use and hands the new one back", async () => {
    const result = await fetchMetrics(
      adapter,
      deps,
      request({
        accountIds: ["a"],
        credentials: { accessToken: "at-1", refreshToken: "rt-x-123456", expiresAt: Date.now() },
      }),
    );
    expect(result.accounts[0]?.status).toBe("ok");
    expect(result.refreshedCredentials?.accessToken).toBe("at-2");
    expect(requests).toEqual(["/token", "/accounts/a"]);
  });

  it("refreshes once when the platform rejects the token mid-fetch, then retries", async () => {
    validToken = "at-5"; // the stored token was revoked server-side; a refresh yields at-6
    const result = await fetchMetrics(adapter, deps, request({ accountIds: ["a", "ccc"] }));
    expect(result.accounts.map((account) => account.status)).toEqual(["ok", "ok"]);
    expect(result.refreshedCredentials?.accessToken).toBe("at-6");
    expect(requests).toEqual(["/accounts/a", "/token", "/accounts/a", "/accounts/ccc"]);
  });

  it("fails every account with auth, without further requests, when the refresh is refused", async () => {
    validToken = "at-9";
    tokenStatus = 400;
    const result = await fetchMetrics(adapter, deps, request());
    expect(result.accounts.map((account) => account.status)).toEqual([
      "failed",
      "failed",
      "failed",
    ]);
    expect(
      result.accounts.every(
        (account) => account.status === "failed" && account.error.reason === "invalid_grant",
      ),
    ).toBe(true);
    expect(requests).toEqual(["/accounts/a", "/token"]);
    expect(JSON.stringify(result)).not.toContain("rt-secret-abcdef");
  });

  it("stops after a mid-fetch refresh fails for any reason, instead of refreshing per account", async () => {
    validToken = "at-9";
    tokenStatus = 503;
    const result = await fetchMetrics(adapter, deps, request());
    expect(result.accounts.map((account) => account.status)).toEqual([
      "failed",
      "failed",
      "failed",
    ]);
    expect(result.accounts[2]).toMatchObject({ error: { code: "transient" } });
    expect(requests).toEqual(["/accounts/a", "/token"]);
  });

  it("does not try to refresh without a refresh token: the user must reconnect", async () => {
    validToken = "at-9";
    const result = await fetchMetrics(
      adapter,
      deps,
      request({ credentials: { accessToken: "at-1" }, accountIds: ["a", "ccc"] }),
    );
    expect(result.accounts.map((account) => account.status)).toEqual(["failed", "failed"]);
    expect(requests).toEqual(["/accounts/a"]);
  });

  it("fails an account whose platform names a time zone no one knows, permanently", async () => {
    const zoneless: ProviderAdapter<"google"> = {
      ...adapter,
      fetchAccount: (_ctx, _credentials, query) =>
        Promise.resolve({
          rows: [],
          range: query.rangeIn("Mars/Olympus"),
          timeZone: "Mars/Olympus",
        }),
    };
    const { range: _fixed, ...windowed } = request();
    const result = await fetchMetrics(zoneless, deps, {
      ...windowed,
      accountIds: ["a"],
      window: { days: 1, at: Date.now() },
    });
    expect(result.accounts[0]).toMatchObject({
      status: "failed",
      error: { code: "permanent", reason: "unknown_time_zone" },
    });
  });

  it("rejects an invalid request as permanent before any I/O", async () => {
    await expect(
      fetchMetrics(adapter, deps, request({ range: { since: "2026-02-01", until: "2026-01-01" } })),
    ).rejects.toMatchObject({ code: "permanent", reason: "invalid_request" });
    expect(requests).toEqual([]);
  });
});
