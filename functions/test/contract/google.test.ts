/**
 * The Google Ads adapter over real HTTP against the Google sandbox: date slices and stream
 * batches come back complete and normalised, every error class from Google's own signals, the
 * token refresh through OAuth2Client, rate-limit waits, the client-side request rate, per-account
 * isolation and redaction. The last block checks the sandbox's own request validation, so the
 * adapter is tested against Google's rules and not a lenient stub.
 */
import axios, { type AxiosInstance } from "axios";

import { GOOGLE_SANDBOX_CLIENT, googleSandbox } from "../../dev/sandbox/google";
import type { PlatformSandbox } from "../../dev/sandbox/platform";
import { type RunningSandbox, startSandbox } from "../../dev/sandbox/server";
import { daysBetween, type SandboxAccount, SandboxWorld } from "../../dev/sandbox/world";
import { fetchMetrics } from "../../src/providers/fetch";
import { googleAdapter } from "../../src/providers/google";
import { RateLimiter, realClock } from "../../src/providers/limiter";
import { parseProviderSettings } from "../../src/providers/settings";
import type {
  Credentials,
  DateRange,
  FetchRequest,
  FetchResult,
  MetricRow,
} from "../../src/providers/types";

const STREAM = /googleAds:searchStream$/;

const account = (
  id: string,
  campaigns: number,
  timeZone: string,
  currency: string,
): SandboxAccount => ({
  provider: "google",
  id,
  name: `Customer ${id.slice(-2)}`,
  timeZone,
  currency,
  campaigns,
});

/** 115 campaigns × 95 days: two slices (90 + 5 days), the first streamed in two batches. */
const LARGE = account("4567890123", 115, "Europe/Berlin", "EUR");
const SMALL = account("1234567890", 3, "America/New_York", "USD");
const TOKYO = account("2345678901", 2, "Asia/Tokyo", "JPY");
const UNKNOWN_ID = "9999999999";

const SHORT: DateRange = { since: "2026-03-01", until: "2026-03-03" };
const LONG: DateRange = { since: "2026-01-01", until: "2026-04-05" };

let world: SandboxWorld;
let sandbox: RunningSandbox;
let credentials: Credentials;

beforeEach(async () => {
  world = new SandboxWorld([LARGE, SMALL, TOKYO]);
  sandbox = await startSandbox({ world, platforms: [googleSandbox] });
  credentials = world.issueTokens("google", { lifetimeMs: 3_600_000, refreshable: true });
});

afterEach(async () => {
  await sandbox.stop();
});

/** Serves `platform` over a new world (a variant of the Google sandbox, or other accounts). */
async function restartSandbox(platform: PlatformSandbox, accounts = world.accounts): Promise<void> {
  await sandbox.stop();
  world = new SandboxWorld(accounts);
  sandbox = await startSandbox({ world, platforms: [platform] });
  credentials = world.issueTokens("google", { lifetimeMs: 3_600_000, refreshable: true });
}

interface RunOptions extends Partial<Omit<FetchRequest, "accountIds">> {
  accountIds: string[];
  settings?: Record<string, number | string>;
  http?: AxiosInstance;
}

function run({
  settings = {},
  http = axios.create(),
  ...request
}: RunOptions): Promise<FetchResult> {
  const google = parseProviderSettings({
    google: {
      ...sandbox.baseUrls().google,
      ...GOOGLE_SANDBOX_CLIENT,
      timeoutMs: 2_000,
      maxInlineWaitMs: 3_000,
      requestsPerSecond: 100,
      ...settings,
    },
  }).google;
  return fetchMetrics(
    googleAdapter,
    {
      settings: google,
      axios: http,
      limiter: new RateLimiter(google, realClock),
      clock: realClock,
    },
    { credentials, range: SHORT, ...request },
  );
}

const streamRequests = () => world.requestLog.filter((entry) => STREAM.test(entry.path));
const requestKinds = () =>
  world.requestLog.map((entry) => (STREAM.test(entry.path) ? "searchStream" : entry.path));

/** What the sandbox generated for the account, as the adapter must return it. */
function expectedRows(source: SandboxAccount, range: DateRange): MetricRow[] {
  return daysBetween(range.since, range.until).flatMap((date) =>
    world.campaigns(source).map((campaign) => ({
      provider: "google" as const,
      accountId: source.id,
      campaignId: campaign.id,
      campaignName: campaign.name,
      date,
      timeZone: source.timeZone,
      currency: source.currency,
      ...world.metrics(source, campaign.id, date),
    })),
  );
}

const byDayAndCampaign = (rows: readonly MetricRow[]): MetricRow[] =>
  [...rows].sort(
    (a, b) =>
      a.accountId.localeCompare(b.accountId) ||
      a.date.localeCompare(b.date) ||
      a.campaignId.localeCompare(b.campaignId),
  );

function totals(rows: readonly MetricRow[]) {
  return rows.reduce(
    (sum, row) => ({
      impressions: sum.impressions + row.impressions,
      clicks: sum.clicks + row.clicks,
      spendMicros: sum.spendMicros + row.spendMicros,
      conversions: sum.conversions + row.conversions,
      conversionValueMicros: sum.conversionValueMicros + row.conversionValueMicros,
    }),
    { impressions: 0, clicks: 0, spendMicros: 0, conversions: 0, conversionValueMicros: 0 },
  );
}

function expectNoSecrets(result: FetchResult, secrets: readonly (string | undefined)[]): void {
  const text = JSON.stringify(result);
  for (const secret of [...secrets, GOOGLE_SANDBOX_CLIENT.clientSecret]) {
    expect(secret && text.includes(secret)).toBeFalsy();
  }
}

describe("reporting", () => {
  it("returns every campaign-day of a multi-slice, multi-batch range, normalised", async () => {
    // The user typed the id with the UI's dashes; rows carry the canonical 10 digits.
    const result = await run({ accountIds: ["456-789-0123"], range: LONG });

    const expected = expectedRows(LARGE, LONG);
    expect(result.accounts).toEqual([
      { accountId: "456-789-0123", status: "ok", rows: expected.length },
    ]);
    expect(expected.length).toBe(115 * 95);
    expect(byDayAndCampaign(result.rows)).toEqual(byDayAndCampaign(expected));
    expect(totals(result.rows)).toEqual(totals(expected));
    // One searchStream per slice: 90 days, then the remaining 5.
    expect(streamRequests()).toHaveLength(2);
  });

  it("keeps each account's own currency and reporting time zone", async () => {
    const result = await run({ accountIds: [SMALL.id, TOKYO.id] });

    expect(byDayAndCampaign(result.rows)).toEqual(
      byDayAndCampaign([...expectedRows(SMALL, SHORT), ...expectedRows(TOKYO, SHORT)]),
    );
    expect(new Set(result.rows.map((row) => `${row.currency} ${row.timeZone}`))).toEqual(
      new Set(["USD America/New_York", "JPY Asia/Tokyo"]),
    );
  });

  it("sends login-customer-id and developer-token only when they are configured", async () => {
    const sent: Array<Record<string, unknown>> = [];
    const http = axios.create();
    http.interceptors.request.use((config) => {
      sent.push(config.headers.toJSON());
      return config;
    });

    await run({ accountIds: [SMALL.id], http });
    await run({
      accountIds: [SMALL.id],
      loginCustomerId: "987-654-3210",
      settings: { developerToken: "ABcdEF0123456789abcdEF" },
      http,
    });

    expect(sent[0]).not.toHaveProperty("login-customer-id");
    expect(sent[0]).not.toHaveProperty("developer-token");
    expect(sent[0]).toMatchObject({ Authorization: `Bearer ${credentials.accessToken}` });
    expect(sent[1]).toMatchObject({
      "login-customer-id": "9876543210",
      "developer-token": "ABcdEF0123456789abcdEF",
    });
  });
});

describe("error classes", () => {
  it("waits as long as retryDelay asks before retrying a rate-limited request", async () => {
    world.setFaults("google", { rateLimit: { count: 1, retryAfterSeconds: 1 } });

    const result = await run({ accountIds: [SMALL.id], settings: { maxInlineWaitMs: 2_000 } });

    expect(result.accounts[0]?.status).toBe("ok");
    const [limited, retried] = streamRequests();
    expect(retried && limited && retried.at - limited.at).toBeGreaterThanOrEqual(1_000);
  });

  it("hands a wait longer than the inline limit back as rate_limited with its retryAfterMs", async () => {
    world.setFaults("google", { rateLimit: { count: 1, retryAfterSeconds: 40_591 } });

    const result = await run({ accountIds: [SMALL.id] });

    expect(result.accounts[0]).toMatchObject({
      status: "failed",
      error: { code: "rate_limited", reason: "resource_exhausted", retryAfterMs: 40_591_000 },
    });
    expect(streamRequests()).toHaveLength(1);
  });

  it("retries a 500 INTERNAL inline and reports persistent ones as transient", async () => {
    world.setFaults("google", { serverErrors: 1 });
    const recovered = await run({ accountIds: [SMALL.id] });
    expect(recovered.accounts[0]?.status).toBe("ok");
    expect(streamRequests()).toHaveLength(2);

    world.setFaults("google", { serverErrors: 5 });
    const failed = await run({ accountIds: [SMALL.id], settings: { maxInlineRetries: 1 } });
    expect(failed.accounts[0]).toMatchObject({
      status: "failed",
      error: { code: "transient", reason: "internal_error" },
    });
  });

  it("reports a response slower than the timeout as transient", async () => {
    world.setFaults("google", { slowMs: 600 });

    const result = await run({
      accountIds: [SMALL.id],
      settings: { timeoutMs: 200, maxInlineRetries: 0 },
    });

    expect(result.accounts[0]).toMatchObject({
      status: "failed",
      error: { code: "transient", reason: "timeout" },
    });
  });

  it("reports malformed and truncated bodies as transient", async () => {
    world.setFaults("google", { malformed: 1 });
    const malformed = await run({ accountIds: [SMALL.id], settings: { maxInlineRetries: 0 } });
    expect(malformed.accounts[0]).toMatchObject({
      status: "failed",
      error: { code: "transient", reason: "malformed_response" },
    });

    world.setFaults("google", { truncated: 1 });
    const truncated = await run({ accountIds: [SMALL.id], settings: { maxInlineRetries: 0 } });
    expect(truncated.accounts[0]).toMatchObject({ status: "failed", error: { code: "transient" } });
  });

  it("reports forbidden, unknown and malformed customer ids as permanent", async () => {
    world.setFaults("google", { forbiddenAccounts: [SMALL.id] });

    const result = await run({ accountIds: [SMALL.id, UNKNOWN_ID, "12-34"] });

    expect(result.accounts).toMatchObject([
      {
        accountId: SMALL.id,
        status: "failed",
        error: { code: "permanent", reason: "user_permission_denied" },
      },
      {
        accountId: UNKNOWN_ID,
        status: "failed",
        error: { code: "permanent", reason: "customer_not_found" },
      },
      {
        accountId: "12-34",
        status: "failed",
        error: { code: "permanent", reason: "invalid_customer_id" },
      },
    ]);
    // Permanent errors are not retried, and the malformed id never reached Google.
    expect(streamRequests()).toHaveLength(2);
    // CUSTOMER_NOT_FOUND comes as UNAUTHENTICATED, yet it must not trigger a token refresh.
    expect(requestKinds()).not.toContain("/token");
  });

  it("loses only the failing account's rows when one of three fails", async () => {
    world.setFaults("google", { forbiddenAccounts: [SMALL.id] });

    const result = await run({ accountIds: [TOKYO.id, SMALL.id, LARGE.id] });

    expect(result.accounts.map((outcome) => outcome.status)).toEqual(["ok", "failed", "ok"]);
    expect(byDayAndCampaign(result.rows)).toEqual(
      byDayAndCampaign([...expectedRows(TOKYO, SHORT), ...expectedRows(LARGE, SHORT)]),
    );
  });
});

describe("tokens", () => {
  it("refreshes an expired token once, retries and hands the new credentials back", async () => {
    world.expireAccessTokens("google");
    const before = Date.now();

    const result = await run({ accountIds: [SMALL.id, TOKYO.id] });

    expect(result.accounts.map((outcome) => outcome.status)).toEqual(["ok", "ok"]);
    expect(requestKinds()).toEqual(["searchStream", "/token", "searchStream", "searchStream"]);
    const refreshed = result.refreshedCredentials;
    expect(refreshed?.accessToken).not.toBe(credentials.accessToken);
    expect(world.checkAccessToken("google", refreshed?.accessToken)).toBe("valid");
    expect(refreshed?.refreshToken).toBe(credentials.refreshToken);
    // expires_in 3599 s, computed by OAuth2Client from the time of the response.
    expect(refreshed?.expiresAt).toBeGreaterThanOrEqual(before + 3_599_000);
    expect(refreshed?.expiresAt).toBeLessThanOrEqual(Date.now() + 3_599_000);
    expectNoSecrets({ ...result, refreshedCredentials: undefined }, [
      credentials.accessToken,
      credentials.refreshToken,
      refreshed?.accessToken,
    ]);
  });

  it("keeps a refresh token the token endpoint rotated", async () => {
    // Google normally keeps the refresh token; when a response carries a new one, it wins.
    await restartSandbox({
      ...googleSandbox,
      handle(req, sandboxWorld) {
        const reply = googleSandbox.handle(req, sandboxWorld);
        return req.path === "/token" && reply.status === 200
          ? { ...reply, body: { ...(reply.body as object), refresh_token: "1//rotated-token" } }
          : reply;
      },
    });
    world.expireAccessTokens("google");

    const result = await run({ accountIds: [SMALL.id] });

    expect(result.accounts[0]?.status).toBe("ok");
    expect(result.refreshedCredentials?.refreshToken).toBe("1//rotated-token");
  });

  it("refreshes a token about to expire before the first report request", async () => {
    credentials = world.issueTokens("google", { lifetimeMs: 60_000, refreshable: true });

    const result = await run({ accountIds: [SMALL.id] });

    expect(result.accounts[0]?.status).toBe("ok");
    expect(requestKinds()).toEqual(["/token", "searchStream"]);
    expect(result.refreshedCredentials?.accessToken).toBeDefined();
  });

  it("fails every account with auth, without retries, when the grant was revoked", async () => {
    world.setFaults("google", { revokeTokens: true });

    const result = await run({ accountIds: [SMALL.id, TOKYO.id, LARGE.id] });

    for (const outcome of result.accounts) {
      expect(outcome).toMatchObject({
        status: "failed",
        error: { code: "auth", reason: "invalid_grant" },
      });
    }
    expect(requestKinds()).toEqual(["searchStream", "/token"]);
    expect(result.refreshedCredentials).toBeUndefined();
    expectNoSecrets(result, [credentials.accessToken, credentials.refreshToken]);
  });

  it("fails with auth at once when a rejected token cannot be refreshed", async () => {
    credentials = { accessToken: "ya29.not-a-token-the-sandbox-issued" };

    const result = await run({ accountIds: [SMALL.id, TOKYO.id] });

    expect(
      result.accounts.map((outcome) => outcome.status === "failed" && outcome.error.code),
    ).toEqual(["auth", "auth"]);
    expect(requestKinds()).toEqual(["searchStream"]);
    expectNoSecrets(result, [credentials.accessToken]);
  });

  it("reports a refresh refused for our OAuth client as permanent", async () => {
    world.expireAccessTokens("google");

    const result = await run({
      accountIds: [SMALL.id],
      settings: { clientSecret: "GOCSPX-wrong-secret" },
    });

    expect(result.accounts[0]).toMatchObject({
      status: "failed",
      error: { code: "permanent", reason: "oauth_invalid_client" },
    });
    expect(JSON.stringify(result)).not.toContain("GOCSPX-wrong-secret");
  });
});

describe("client-side limits", () => {
  it("never starts more report requests per second than configured", async () => {
    // ~30 months of one small account: 11 slices, i.e. 11 sequential searchStream calls.
    const result = await run({
      accountIds: [TOKYO.id],
      range: { since: "2023-10-01", until: "2026-03-31" },
      settings: { requestsPerSecond: 3 },
    });

    expect(result.accounts[0]?.status).toBe("ok");
    const starts = streamRequests().map((entry) => entry.at);
    expect(starts).toHaveLength(11);
    // The limiter spaces starts by a full second on the client; the server stamps arrivals,
    // which loopback jitter can move by a few ms, hence the 50 ms margin.
    for (const start of starts) {
      const inWindow = starts.filter((at) => at >= start && at < start + 950);
      expect(inWindow.length).toBeLessThanOrEqual(3);
    }
  });
});

describe("the sandbox checks requests as Google does", () => {
  const url = (cid: string) => `${sandbox.url}/google/v25/customers/${cid}/googleAds:searchStream`;
  const query = `SELECT campaign.id, segments.date, metrics.clicks FROM campaign WHERE segments.date BETWEEN '${SHORT.since}' AND '${SHORT.until}'`;

  async function post(
    cid: string,
    body: unknown,
    headers: Record<string, string> = { Authorization: `Bearer ${credentials.accessToken}` },
  ) {
    const response = await axios.post<unknown>(url(cid), body, {
      headers,
      validateStatus: () => true,
    });
    const classified = googleAdapter.classify(
      { status: response.status, headers: {}, body: response.data },
      { now: Date.now(), pause: () => undefined },
    );
    return { status: response.status, body: response.data, classified };
  }

  it("streams batches of at most 10,000 rows holding only the selected fields", async () => {
    const { status, body } = await post(LARGE.id, {
      query: `SELECT campaign.id, segments.date, metrics.conversions FROM campaign WHERE segments.date BETWEEN '2026-01-01' AND '2026-03-31'`,
    });

    expect(status).toBe(200);
    const batches = body as Array<{ results: Array<Record<string, Record<string, unknown>>> }>;
    expect(batches.map((batch) => batch.results.length)).toEqual([10_000, 350]);
    const rows = batches.flatMap((batch) => batch.results);
    expect(Object.keys(rows[0] ?? {}).sort()).toEqual(["campaign", "metrics", "segments"]);
    expect(Object.keys(rows[0]?.campaign ?? {}).sort()).toEqual(["id", "resourceName"]);
    // proto3 JSON: a zero is omitted, not sent as 0.
    const zero = rows.find((row) => row.metrics?.conversions === undefined);
    expect(zero).toBeDefined();
    expect(rows.some((row) => row.metrics?.conversions === 0)).toBe(false);
  });

  it("answers a query without matching rows with one batch without results", async () => {
    await restartSandbox(googleSandbox, [account("5678901234", 0, "UTC", "GBP")]);

    const { status, body } = await post("5678901234", { query });

    expect(status).toBe(200);
    expect(body).toMatchObject([{ fieldMask: "campaign.id,segments.date,metrics.clicks" }]);
    expect(body).toHaveLength(1);
    expect((body as unknown[])[0]).not.toHaveProperty("results");
  });

  it("rejects missing credentials and malformed requests with Google's Status bodies", async () => {
    const cases: Array<{ name: string; call: () => ReturnType<typeof post>; expected: object }> = [
      {
        name: "no Authorization header",
        call: () => post(SMALL.id, { query }, {}),
        expected: { status: 401, code: "auth", reason: "unauthenticated" },
      },
      {
        name: "customer id with dashes in the path",
        call: () => post("123-456-7890", { query }),
        expected: { status: 400, code: "permanent", reason: "invalid_customer_id" },
      },
      {
        name: "malformed login-customer-id",
        call: () =>
          post(
            SMALL.id,
            { query },
            { Authorization: `Bearer ${credentials.accessToken}`, "login-customer-id": "98-76" },
          ),
        expected: { status: 400, code: "permanent", reason: "invalid_login_customer_id" },
      },
      {
        name: "no query",
        call: () => post(SMALL.id, {}),
        expected: { status: 400, code: "permanent", reason: "unexpected_end_of_query" },
      },
      {
        name: "no SELECT",
        call: () => post(SMALL.id, { query: "campaign.id FROM campaign" }),
        expected: { status: 400, code: "permanent", reason: "expected_select" },
      },
      {
        name: "unknown field",
        call: () => post(SMALL.id, { query: query.replace("metrics.clicks", "metrics.klicks") }),
        expected: { status: 400, code: "permanent", reason: "unrecognized_field" },
      },
      {
        name: "segments.date without a date filter",
        call: () => post(SMALL.id, { query: "SELECT campaign.id, segments.date FROM campaign" }),
        expected: { status: 400, code: "permanent", reason: "expected_filters_on_date_range" },
      },
      {
        name: "invalid date",
        call: () => post(SMALL.id, { query: query.replace(SHORT.until, "2026-02-30") }),
        expected: { status: 400, code: "permanent", reason: "invalid_value_with_between_operator" },
      },
      {
        name: "start after end",
        call: () => post(SMALL.id, { query: query.replace(SHORT.since, "2026-04-01") }),
        expected: { status: 400, code: "permanent", reason: "date_range_too_narrow" },
      },
    ];
    for (const { name, call, expected } of cases) {
      const { status, classified } = await call();
      expect({ name, status, code: classified?.code, reason: classified?.reason }).toEqual({
        name,
        ...expected,
      });
    }
  });

  it("implements the refresh_token grant with Google's OAuth error bodies", async () => {
    const grant = (form: Record<string, string>) =>
      axios.post<unknown>(`${sandbox.url}/google/token`, new URLSearchParams(form), {
        validateStatus: () => true,
      });
    const valid = {
      grant_type: "refresh_token",
      client_id: GOOGLE_SANDBOX_CLIENT.clientId,
      client_secret: GOOGLE_SANDBOX_CLIENT.clientSecret,
      refresh_token: credentials.refreshToken ?? "",
    };

    const issued = await grant(valid);
    expect(issued.status).toBe(200);
    expect(issued.data).toMatchObject({ expires_in: 3599, token_type: "Bearer" });

    const refusals: Array<[Record<string, string>, number, string]> = [
      [{ ...valid, grant_type: "password" }, 400, "unsupported_grant_type"],
      [{ ...valid, client_id: "" }, 400, "invalid_request"],
      [{ ...valid, client_secret: "wrong" }, 401, "invalid_client"],
      [{ ...valid, refresh_token: "1//unknown" }, 400, "invalid_grant"],
    ];
    for (const [form, status, error] of refusals) {
      const response = await grant(form);
      expect({ status: response.status, body: response.data }).toMatchObject({
        status,
        body: { error },
      });
    }
    world.setFaults("google", { revokeTokens: true });
    expect((await grant(valid)).data).toEqual({
      error: "invalid_grant",
      error_description: "Token has been expired or revoked.",
    });
  });
});
