/**
 * Google Ads account discovery over real HTTP against the Google sandbox: the login's
 * accessible customers and the manager hierarchies below them (manager → sub-manager →
 * clients), each client with the managers it is reached through; the login-customer-id its
 * reports then need; accounts revealed between two discoveries; a revoked token. The last block
 * checks the sandbox's own rendering of listAccessibleCustomers and customer_client.
 */
import axios, { type AxiosInstance } from "axios";

import { GOOGLE_SANDBOX_CLIENT, googleSandbox } from "../../dev/sandbox/google";
import type { RunningSandbox } from "../../dev/sandbox/server";
import type { SandboxAccount, SandboxWorld } from "../../dev/sandbox/world";
import type { AdapterContext } from "../../src/providers/adapter";
import { ProviderError } from "../../src/providers/errors";
import { googleAdapter } from "../../src/providers/google";
import { PlatformHttp } from "../../src/providers/http";
import type { Credentials, DateRange, DiscoveredAccount } from "../../src/providers/types";
import {
  byDayAndCampaign,
  expectedRows,
  failure,
  runAdapter,
  sandboxAccount,
  sandboxDeps,
  startWorld,
} from "../harness/sandbox";

const customer = (id: string, name: string, more: Partial<SandboxAccount> = {}) => ({
  ...sandboxAccount("google", id, more.manager ? 0 : 2, "Europe/Berlin", "EUR", name),
  ...more,
});

/** The top manager the login was granted, a sub-manager below it, and their clients. */
const AGENCY = customer("1000000001", "Agency", { manager: true });
const REGION = customer("1000000002", "Agency DACH", { manager: true, parents: [AGENCY.id] });
const SHOES = customer("2000000001", "Shoes", {
  parents: [AGENCY.id],
  timeZone: "America/New_York",
  currency: "USD",
});
const BIKES = customer("2000000002", "Bikes", { parents: [AGENCY.id, REGION.id] });
const CLOSED = customer("2000000003", "Old shop", {
  parents: [AGENCY.id, REGION.id],
  disabled: true,
});
/** Created after the first discovery (`world.reveal`). */
const LATER = customer("2000000004", "New shop", { parents: [AGENCY.id, REGION.id], hidden: true });
/** Another manager the login was granted, which has no clients. */
const OTHER_AGENCY = customer("1000000009", "Other agency", { manager: true });
/** Granted to the login directly, no manager in between. */
const OWN = customer("3000000001", "Own shop", { timeZone: "Asia/Tokyo", currency: "JPY" });
/** Granted directly and canceled since: Google refuses every query on it. */
const OWN_CANCELED = customer("3000000002", "Own old shop", { disabled: true });

const WORLD = [AGENCY, REGION, SHOES, BIKES, CLOSED, LATER, OTHER_AGENCY, OWN, OWN_CANCELED];

const SHORT: DateRange = { since: "2026-03-01", until: "2026-03-03" };

let world: SandboxWorld;
let sandbox: RunningSandbox;
let credentials: Credentials;

beforeEach(async () => {
  ({ world, sandbox } = await startWorld(WORLD, [googleSandbox]));
  credentials = world.issueTokens("google", { lifetimeMs: 3_600_000, refreshable: true });
});

afterEach(() => sandbox.stop());

/** What a caller of `discover` hands it: the platform's settings and HTTP client. */
function context(client?: AxiosInstance): AdapterContext<"google"> {
  const { settings, axios: http, limiter, clock } = sandboxDeps("google", sandbox, {}, client);
  return {
    settings,
    now: () => clock.now(),
    http: new PlatformHttp({
      provider: "google",
      axios: http,
      limiter,
      clock,
      classify: googleAdapter.classify,
      timeoutMs: settings.timeoutMs,
      maxInlineWaitMs: settings.maxInlineWaitMs,
      maxInlineRetries: settings.maxInlineRetries,
      secrets: [credentials.accessToken],
    }),
  };
}

async function discover(): Promise<DiscoveredAccount[]> {
  const { discovery } = googleAdapter;
  if (!discovery) {
    throw new Error("the Google adapter has no discovery");
  }
  const accounts = await discovery.discover(context(), credentials);
  return [...accounts].sort((a, b) => a.accountId.localeCompare(b.accountId));
}

const active = (account: SandboxAccount, hierarchy: string[]): DiscoveredAccount => ({
  accountId: account.id,
  name: account.name,
  currency: account.currency,
  timeZone: account.timeZone,
  status: "active",
  platformStatus: "ENABLED",
  hierarchy,
});

describe("discovery", () => {
  it("lists every client below the login's managers with its manager path, and its own accounts", async () => {
    const accounts = await discover();

    expect(accounts).toEqual([
      active(SHOES, [AGENCY.id]),
      active(BIKES, [AGENCY.id, REGION.id]),
      // Listed with its status by its manager, inactive.
      { ...active(CLOSED, [AGENCY.id, REGION.id]), status: "inactive", platformStatus: "CANCELED" },
      active(OWN, []),
      // Google refuses the canceled customer itself: nothing but that it is not enabled.
      {
        accountId: OWN_CANCELED.id,
        name: OWN_CANCELED.id,
        currency: null,
        timeZone: null,
        status: "inactive",
        platformStatus: "CUSTOMER_NOT_ENABLED",
        hierarchy: [],
      },
    ]);
    // Managers have no metrics and are left out; the hidden account is not reachable yet.
    const ids = accounts.map((account) => account.accountId);
    for (const left of [AGENCY, REGION, OTHER_AGENCY, LATER]) {
      expect(ids).not.toContain(left.id);
    }
  });

  it("walks a sub-manager logged in as the top manager, one customer_client query per customer", async () => {
    const sent: Array<{ url: string; login: unknown }> = [];
    const http = axios.create();
    http.interceptors.request.use((config) => {
      sent.push({ url: config.url ?? "", login: config.headers["login-customer-id"] });
      return config;
    });

    await googleAdapter.discovery?.discover(context(http), credentials);

    const path = (url: string) => url.replace(/^.*\/google\/v\d+\//, "");
    expect(sent.map(({ url, login }) => [path(url), login])).toEqual([
      ["customers:listAccessibleCustomers", undefined],
      [`customers/${AGENCY.id}/googleAds:searchStream`, AGENCY.id],
      [`customers/${OTHER_AGENCY.id}/googleAds:searchStream`, OTHER_AGENCY.id],
      [`customers/${OWN.id}/googleAds:searchStream`, OWN.id],
      [`customers/${OWN_CANCELED.id}/googleAds:searchStream`, OWN_CANCELED.id],
      [`customers/${REGION.id}/googleAds:searchStream`, AGENCY.id],
    ]);
  });

  it("finds an account added between two discoveries in the second", async () => {
    const first = await discover();
    expect(first.map((account) => account.accountId)).not.toContain(LATER.id);

    world.reveal(LATER);
    const second = await discover();

    expect(second).toContainEqual(active(LATER, [AGENCY.id, REGION.id]));
    expect(second).toHaveLength(first.length + 1);
  });

  it("fails with auth when the token was revoked", async () => {
    world.setFaults("google", { revokeTokens: true });

    const refused = await discover().catch((error: unknown) => error);

    expect(refused).toBeInstanceOf(ProviderError);
    expect(refused).toMatchObject({ code: "auth" });
  });

  it("finds nothing for a login without Google Ads accounts", async () => {
    await sandbox.stop();
    ({ world, sandbox } = await startWorld([], [googleSandbox]));
    credentials = world.issueTokens("google", { lifetimeMs: 3_600_000 });

    expect(await discover()).toEqual([]);
  });
});

describe("reporting through a manager", () => {
  const fetch = (accountId: string, loginCustomerId?: string) =>
    runAdapter(
      googleAdapter,
      sandbox,
      {
        credentials,
        accountIds: [accountId],
        range: SHORT,
        ...(loginCustomerId ? { loginCustomerId } : {}),
      },
      { settings: GOOGLE_SANDBOX_CLIENT },
    );

  it("fetches a client's rows with its hierarchy's first manager as login-customer-id", async () => {
    const bikes = (await discover()).find((account) => account.accountId === BIKES.id);
    expect(bikes?.hierarchy[0]).toBe(AGENCY.id);

    const result = await fetch(BIKES.id, bikes?.hierarchy[0]);

    expect(result.accounts[0]).toMatchObject({ status: "ok", timeZone: BIKES.timeZone });
    expect(byDayAndCampaign(result.rows)).toEqual(
      byDayAndCampaign(expectedRows(world, BIKES, SHORT)),
    );
  });

  it("fails permanently as USER_PERMISSION_DENIED without login-customer-id or with a manager not above it", async () => {
    for (const login of [undefined, OTHER_AGENCY.id]) {
      const result = await fetch(BIKES.id, login);
      expect(failure(result)).toMatchObject({
        code: "permanent",
        reason: "user_permission_denied",
      });
      expect(failure(result)?.message).toContain("login-customer-id");
    }
    // Permanent: each refusal was asked once, not retried.
    const reports = world.requestLog.filter((entry) => entry.accountId === BIKES.id);
    expect(reports).toHaveLength(2);
  });

  it("refuses metrics of a manager and of a canceled client as Google does", async () => {
    const manager = await fetch(REGION.id, AGENCY.id);
    expect(failure(manager)).toMatchObject({
      code: "permanent",
      reason: "requested_metrics_for_manager",
    });
    const canceled = await fetch(CLOSED.id, AGENCY.id);
    expect(failure(canceled)).toMatchObject({ code: "permanent", reason: "customer_not_enabled" });
  });
});

describe("the sandbox renders Google's account listings", () => {
  const base = () => `${sandbox.url}/google/v25`;
  const auth = () => ({ Authorization: `Bearer ${credentials.accessToken}` });

  it("lists the customers the login accesses directly: top managers and granted clients, canceled ones too", async () => {
    const { status, data } = await axios.get<unknown>(
      `${base()}/customers:listAccessibleCustomers`,
      {
        headers: auth(),
      },
    );

    expect(status).toBe(200);
    expect(data).toEqual({
      resourceNames: [AGENCY, OTHER_AGENCY, OWN, OWN_CANCELED].map(({ id }) => `customers/${id}`),
    });
  });

  it("answers customer_client with the manager itself at level 0 and every client below at its distance", async () => {
    const query =
      "SELECT customer_client.client_customer, customer_client.level, customer_client.manager, customer_client.status FROM customer_client";
    const { data } = await axios.post<Array<{ results: Array<{ customerClient: object }> }>>(
      `${base()}/customers/${AGENCY.id}/googleAds:searchStream`,
      { query },
      { headers: { ...auth(), "login-customer-id": AGENCY.id } },
    );

    const link = (id: string) => ({
      resourceName: `customers/${AGENCY.id}/customerClients/${id}`,
      clientCustomer: `customers/${id}`,
    });
    // proto3 JSON: level 0 and manager false are left out.
    expect(data.flatMap((batch) => batch.results.map((row) => row.customerClient))).toEqual([
      { ...link(AGENCY.id), manager: true, status: "ENABLED" },
      { ...link(REGION.id), level: "1", manager: true, status: "ENABLED" },
      { ...link(SHOES.id), level: "1", status: "ENABLED" },
      { ...link(BIKES.id), level: "2", status: "ENABLED" },
      { ...link(CLOSED.id), level: "2", status: "CANCELED" },
    ]);
  });
});
