/**
 * What only the Google Ads adapter does, over real HTTP against the Google sandbox: customer-id
 * forms, the optional headers, customer errors that come as UNAUTHENTICATED, the token refresh
 * through OAuth2Client (rotation, eager refresh, refusals), the 37 months of daily metrics counted
 * in each customer's zone. The contract every platform shares is asserted in
 * `providers.contract.test.ts`. The last block checks the sandbox's own request validation, so
 * the adapter is tested against Google's rules and not a lenient stub.
 */
import axios, { type AxiosInstance } from "axios";

import { GOOGLE_SANDBOX_CLIENT, googleSandbox } from "../../dev/sandbox/google";
import type { PlatformSandbox } from "../../dev/sandbox/platform";
import { type RunningSandbox, startSandbox } from "../../dev/sandbox/server";
import { type SandboxAccount, SandboxWorld } from "../../dev/sandbox/world";
import { googleAdapter } from "../../src/providers/google";
import { realClock } from "../../src/providers/limiter";
import type { Credentials, DateRange, FetchRequest } from "../../src/providers/types";
import {
  byDayAndCampaign,
  expectedRows,
  expectNoSecrets,
  type FetchedRows,
  fetchWithRows,
  requestsTo,
  runAdapter,
  sandboxAccount,
  sandboxDeps,
  startWorld,
} from "../harness/sandbox";

const STREAM = /googleAds:searchStream$/;

const account = (id: string, campaigns: number, timeZone: string, currency: string) =>
  sandboxAccount("google", id, campaigns, timeZone, currency, `Customer ${id.slice(-2)}`);

/** 115 campaigns: 90 days of them stream in two batches. */
const LARGE = account("4567890123", 115, "Europe/Berlin", "EUR");
const SMALL = account("1234567890", 3, "America/New_York", "USD");
const TOKYO = account("2345678901", 2, "Asia/Tokyo", "JPY");
const UNKNOWN_ID = "9999999999";

const SHORT: DateRange = { since: "2026-03-01", until: "2026-03-03" };

let world: SandboxWorld;
let sandbox: RunningSandbox;
let credentials: Credentials;

/** Serves `platform` over a new world (a variant of the Google sandbox, or other accounts). */
async function serve(platform: PlatformSandbox, accounts = [LARGE, SMALL, TOKYO]): Promise<void> {
  ({ world, sandbox } = await startWorld(accounts, [platform]));
  credentials = world.issueTokens("google", { lifetimeMs: 3_600_000, refreshable: true });
}

async function restartSandbox(platform: PlatformSandbox, accounts?: SandboxAccount[]) {
  await sandbox.stop();
  await serve(platform, accounts);
}

beforeEach(() => serve(googleSandbox));

afterEach(() => sandbox.stop());

interface RunOptions extends Partial<Omit<FetchRequest, "accountIds">> {
  accountIds: string[];
  settings?: Record<string, number | string>;
  http?: AxiosInstance;
}

function run({ settings = {}, http, ...request }: RunOptions): Promise<FetchedRows> {
  return runAdapter(
    googleAdapter,
    sandbox,
    { credentials, range: SHORT, ...request },
    { settings: { ...GOOGLE_SANDBOX_CLIENT, ...settings }, ...(http ? { http } : {}) },
  );
}

const streamRequests = () => requestsTo(world, "google", STREAM);
const requestKinds = () =>
  world.requestLog.map((entry) => (STREAM.test(entry.path) ? "searchStream" : entry.path));

describe("reporting", () => {
  it("accepts a customer id with the UI's dashes and reports rows under the canonical id", async () => {
    const result = await run({ accountIds: ["123-456-7890"] });

    const expected = expectedRows(world, SMALL, SHORT);
    expect(result.accounts).toEqual([
      {
        accountId: "123-456-7890",
        status: "ok",
        rows: expected.length,
        range: SHORT,
        timeZone: SMALL.timeZone,
      },
    ]);
    expect(byDayAndCampaign(result.rows)).toEqual(byDayAndCampaign(expected));
  });

  it("looks a customer's time zone up once for a window, and not when an earlier sync knew it", async () => {
    const window = { days: 1, at: Date.now() };
    const first = await run({ accountIds: [SMALL.id], window, range: undefined });
    expect(first.accounts[0]).toMatchObject({ status: "ok", timeZone: SMALL.timeZone });
    // The zone query, then the report.
    expect(streamRequests()).toHaveLength(2);
    world.requestLog.splice(0);

    const known = await run({
      accountIds: [SMALL.id],
      window,
      range: undefined,
      timeZones: { [SMALL.id]: SMALL.timeZone },
    });
    expect(known.accounts[0]).toEqual(first.accounts[0]);
    expect(streamRequests()).toHaveLength(1);
    world.requestLog.splice(0);

    // Fixed days need no zone: the rows name it.
    const fixed = await run({ accountIds: [SMALL.id] });
    expect(fixed.accounts[0]).toMatchObject({ range: SHORT, timeZone: SMALL.timeZone });
    expect(streamRequests()).toHaveLength(1);
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
  it("reports unknown and malformed customer ids as permanent, without a token refresh", async () => {
    const result = await run({ accountIds: [UNKNOWN_ID, "12-34"] });

    expect(result.accounts).toMatchObject([
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
    expect(streamRequests()).toHaveLength(1);
    // CUSTOMER_NOT_FOUND comes as UNAUTHENTICATED, yet it must not trigger a token refresh.
    expect(requestKinds()).not.toContain("/token");
  });
});

describe("history: 37 months of daily metrics, in the customer's zone", () => {
  // 20:00 UTC: still 2026-12-01 in New York, already 2026-12-02 in Tokyo. The world and the
  // adapter share one clock running from there, so no real midnight can move the limit.
  const shift = Date.UTC(2026, 11, 1, 20) - Date.now();
  const clock = { ...realClock, now: () => Date.now() + shift };

  beforeEach(async () => {
    await sandbox.stop();
    world = new SandboxWorld([SMALL, TOKYO], clock.now);
    sandbox = await startSandbox({ world, platforms: [googleSandbox] });
    credentials = world.issueTokens("google", { lifetimeMs: 3_600_000, refreshable: true });
  });

  const fetchRange = (accountIds: string[], range: DateRange) =>
    fetchWithRows(
      googleAdapter,
      { ...sandboxDeps("google", sandbox, GOOGLE_SANDBOX_CLIENT), clock },
      { credentials, accountIds, range },
    );

  it("fails as beyond_retention the account whose 37 months start later, while the other is served", async () => {
    // 37 months before each customer's current day: New York 2023-11-01, Tokyo 2023-11-02.
    const range = { since: "2023-11-01", until: "2023-11-03" };
    const result = await fetchRange([TOKYO.id, SMALL.id], range);

    expect(result.accounts).toEqual([
      {
        accountId: TOKYO.id,
        status: "failed",
        error: {
          code: "permanent",
          reason: "beyond_retention",
          message: expect.stringContaining("only available for the last 37 months") as unknown,
        },
      },
      {
        accountId: SMALL.id,
        status: "ok",
        rows: expectedRows(world, SMALL, range).length,
        range,
        timeZone: SMALL.timeZone,
      },
    ]);
    expect(byDayAndCampaign(result.rows)).toEqual(
      byDayAndCampaign(expectedRows(world, SMALL, range)),
    );
    // Permanent: the refused query is not sent again.
    expect(streamRequests()).toHaveLength(2);

    // From its own first day, Tokyo is served too.
    const inside = { since: "2023-11-02", until: "2023-11-03" };
    const tokyo = await fetchRange([TOKYO.id], inside);
    expect(tokyo.accounts[0]).toMatchObject({ status: "ok", range: inside });
    expect(byDayAndCampaign(tokyo.rows)).toEqual(
      byDayAndCampaign(expectedRows(world, TOKYO, inside)),
    );
  });
});

describe("tokens", () => {
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

  it("fails with auth at once when a rejected token cannot be refreshed", async () => {
    credentials = { accessToken: "ya29.not-a-token-the-sandbox-issued" };

    const result = await run({ accountIds: [SMALL.id, TOKYO.id] });

    expect(
      result.accounts.map((outcome) => outcome.status === "failed" && outcome.error.code),
    ).toEqual(["auth", "auth"]);
    expect(requestKinds()).toEqual(["searchStream"]);
    expectNoSecrets(result, [credentials.accessToken, GOOGLE_SANDBOX_CLIENT.clientSecret]);
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

  it("refuses daily metrics older than 37 months with a DateRangeError (INVALID_DATE before v24)", async () => {
    const old = query.replace(SHORT.since, "2020-01-01").replace(SHORT.until, "2020-01-31");
    const dateRangeError = (code: string) => ({
      status: 400,
      body: {
        error: {
          code: 400,
          status: "INVALID_ARGUMENT",
          details: [{ errors: [{ errorCode: { dateRangeError: code } }] }],
        },
      },
    });

    const refused = await post(SMALL.id, { query: old });
    expect(refused).toMatchObject({
      ...dateRangeError("REQUESTED_DATE_GRANULARITY_NOT_SUPPORTED"),
      classified: { code: "permanent", reason: "beyond_retention" },
    });
    const v23 = await axios.post<unknown>(
      `${sandbox.url}/google/v23/customers/${SMALL.id}/googleAds:searchStream`,
      { query: old },
      {
        headers: { Authorization: `Bearer ${credentials.accessToken}` },
        validateStatus: () => true,
      },
    );
    expect({ status: v23.status, body: v23.data }).toMatchObject(dateRangeError("INVALID_DATE"));
    // Within the 37 months the same query is served.
    expect((await post(SMALL.id, { query })).status).toBe(200);
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
