/**
 * TikTok account discovery over real HTTP against the TikTok sandbox: the advertisers that
 * authorized our app for the token (`/oauth2/advertiser/get/`), each with its name, status,
 * currency and zone (`/advertiser/info/`, batched), the ones disabled marked inactive, one
 * authorized between two runs found on the second, a revoked token failing `auth`, and the token
 * facts TikTok can give (valid or not; no expiry). The last block checks the sandbox's rendering
 * of those endpoints itself.
 */
import axios from "axios";

import type { RunningSandbox } from "../../dev/sandbox/server";
import { TIKTOK_SANDBOX_APP, tiktokSandbox } from "../../dev/sandbox/tiktok";
import type { SandboxAccount, SandboxWorld } from "../../dev/sandbox/world";
import type { AdapterContext } from "../../src/providers/adapter";
import { ProviderError } from "../../src/providers/errors";
import { PlatformHttp } from "../../src/providers/http";
import { RateLimiter, realClock } from "../../src/providers/limiter";
import { tiktokAdapter } from "../../src/providers/tiktok";
import { classifyTikTok } from "../../src/providers/tiktok/classify";
import {
  ADVERTISER_IDS_PER_REQUEST,
  type TikTokApp,
  tiktokDiscovery,
} from "../../src/providers/tiktok/discovery";
import type { DiscoveredAccount } from "../../src/providers/types";
import {
  requestsTo,
  runAdapter,
  sandboxAccount,
  sandboxSettings,
  startWorld,
} from "../harness/sandbox";

const BERLIN = sandboxAccount("tiktok", "7000000000000000011", 2, "Europe/Berlin", "EUR", "Berlin");
const TOKYO = sandboxAccount("tiktok", "7000000000000000012", 1, "Asia/Tokyo", "JPY", "Tokyo");
const CLOSED: SandboxAccount = {
  ...sandboxAccount("tiktok", "7000000000000000013", 1, "Etc/GMT+8", "USD", "Closed"),
  disabled: true,
};
/** Authorized only after the first run. */
const LATER: SandboxAccount = {
  ...sandboxAccount("tiktok", "7000000000000000014", 1, "America/New_York", "USD", "Later"),
  hidden: true,
};

let world: SandboxWorld;
let sandbox: RunningSandbox;
let token: string;

beforeEach(async () => {
  ({ world, sandbox } = await startWorld([BERLIN, TOKYO, CLOSED, LATER], [tiktokSandbox]));
  token = world.issueTokens("tiktok").accessToken;
});

afterEach(() => sandbox.stop());

/** A discovery context as a run would build it: the platform's limiter, classifier, redaction. */
function context(
  app: TikTokApp = TIKTOK_SANDBOX_APP,
  overrides: Record<string, unknown> = {},
): AdapterContext<"tiktok"> {
  const settings = sandboxSettings("tiktok", sandbox, overrides);
  return {
    settings,
    now: () => realClock.now(),
    http: new PlatformHttp({
      provider: "tiktok",
      axios: axios.create(),
      limiter: new RateLimiter(settings, realClock),
      clock: realClock,
      classify: classifyTikTok,
      timeoutMs: settings.timeoutMs,
      maxInlineWaitMs: settings.maxInlineWaitMs,
      maxInlineRetries: settings.maxInlineRetries,
      secrets: [token, app.secret],
    }),
  };
}

const discovery = (app: TikTokApp = TIKTOK_SANDBOX_APP) => tiktokDiscovery(() => app);
const discover = (app?: TikTokApp) => discovery(app).discover(context(app), { accessToken: token });
const inspect = async (settings: Record<string, unknown> = {}) => {
  const facts = await discovery().inspect?.(context(TIKTOK_SANDBOX_APP, settings), {
    accessToken: token,
  });
  if (!facts) {
    throw new Error("TikTok discovery has no inspect");
  }
  return facts;
};

const discovered = (
  account: SandboxAccount,
  status: DiscoveredAccount["status"],
  platformStatus: string,
): DiscoveredAccount => ({
  accountId: account.id,
  name: account.name,
  currency: account.currency,
  timeZone: account.timeZone,
  status,
  platformStatus,
  hierarchy: [],
});

const tiktokRequests = (path?: RegExp) => requestsTo(world, "tiktok", path);

async function rejection(promise: Promise<unknown>): Promise<ProviderError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ProviderError);
  return error as ProviderError;
}

describe("TikTok advertiser discovery", () => {
  it("lists the authorized advertisers with their info, a disabled one inactive", async () => {
    const accounts = await discover();

    expect(accounts).toEqual([
      discovered(BERLIN, "active", "STATUS_ENABLE"),
      discovered(TOKYO, "active", "STATUS_ENABLE"),
      discovered(CLOSED, "inactive", "STATUS_DISABLE"),
    ]);
    // One listing, then one info request for all three.
    expect(tiktokRequests().map((entry) => entry.path.replace(/^.*v1\.3/, ""))).toEqual([
      "/oauth2/advertiser/get/",
      "/advertiser/info/",
    ]);
  });

  it("gives each account the id fetchAccount takes", async () => {
    const [berlin] = await discover();
    const result = await runAdapter(tiktokAdapter, sandbox, {
      credentials: { accessToken: token },
      accountIds: [berlin?.accountId ?? ""],
      range: { since: "2026-03-01", until: "2026-03-02" },
    });

    expect(result.accounts).toEqual([
      expect.objectContaining({ accountId: BERLIN.id, status: "ok", rows: 2 * 2 }),
    ]);
  });

  it("finds an advertiser authorized between two runs on the second", async () => {
    const first = await discover();
    world.reveal(LATER);
    const second = await discover();

    expect(first.map((account) => account.accountId)).not.toContain(LATER.id);
    expect(second).toContainEqual(discovered(LATER, "active", "STATUS_ENABLE"));
    expect(second).toHaveLength(first.length + 1);
  });

  it("asks for the info of at most 100 advertisers a request", async () => {
    const many = Array.from({ length: ADVERTISER_IDS_PER_REQUEST + 1 }, (_, index) =>
      sandboxAccount("tiktok", String(7100000000000000000n + BigInt(index)), 0, "UTC", "USD"),
    );
    world.accounts.push(...many);

    const accounts = await discover();

    expect(accounts).toHaveLength(3 + many.length);
    expect(accounts.slice(3).map((account) => account.accountId)).toEqual(
      many.map((account) => account.id),
    );
    // 104 authorized advertisers: info asked for 100, then 4.
    expect(tiktokRequests(/\/advertiser\/info\/$/)).toHaveLength(2);
  });

  it("fails with auth on a revoked token, without retries", async () => {
    world.setFaults("tiktok", { revokeTokens: true });

    const error = await rejection(discover());

    expect(error).toMatchObject({ code: "auth", reason: "tiktok_code_40105" });
    expect(error.message).not.toContain(token);
    expect(tiktokRequests()).toHaveLength(1);
  });

  it("fails as permanent, without the secret in its message, when TikTok refuses our app", async () => {
    const wrongSecret = { ...TIKTOK_SANDBOX_APP, secret: "not-the-app-secret" };
    const error = await rejection(discover(wrongSecret));

    expect(error).toMatchObject({ code: "permanent", reason: "tiktok_code_40101" });
    expect(error.message).not.toContain(wrongSecret.secret);
  });

  it("fails as not configured, before any request, while the settings carry no app", async () => {
    const { discovery: configured } = tiktokAdapter;
    const error = await rejection(
      configured?.discover(context(), { accessToken: token }) ?? Promise.resolve(),
    );

    expect(error).toMatchObject({ code: "permanent", reason: "app_not_configured" });
    expect(tiktokRequests()).toHaveLength(0);
  });
});

describe("TikTok token facts", () => {
  it("says a working token is valid and never expires", async () => {
    expect(await inspect()).toEqual({
      valid: true,
      accessTokenExpiresAt: null,
      connectionExpiresAt: null,
    });
    expect(tiktokRequests()).toHaveLength(1);
  });

  it("says a revoked token is no longer valid", async () => {
    world.setFaults("tiktok", { revokeTokens: true });

    expect(await inspect()).toEqual({
      valid: false,
      accessTokenExpiresAt: null,
      connectionExpiresAt: null,
    });
  });

  it("throws what says nothing about the token: the app's rate limit", async () => {
    // An app allowance below one request: TikTok answers the listing with 40100.
    world.setFaults("tiktok", { appQps: 0.5 });

    const error = await rejection(inspect({ maxInlineRetries: 0 }));
    expect(error).toMatchObject({ code: "rate_limited", reason: "tiktok_code_40100" });
  });
});

describe("TikTok sandbox: the authorized advertisers and their info", () => {
  const get = (path: string, params: Record<string, string>, headers = { "Access-Token": token }) =>
    axios.get<unknown>(`${sandbox.baseUrls().tiktok.baseUrl}${path}`, {
      params,
      headers,
      validateStatus: () => true,
    });
  const app = { app_id: TIKTOK_SANDBOX_APP.appId, secret: TIKTOK_SANDBOX_APP.secret };

  it("lists the advertisers the login reaches by id and name, hidden ones left out", async () => {
    const response = await get("/oauth2/advertiser/get/", app);

    expect(response.status).toBe(200);
    expect(response.data).toMatchObject({
      code: 0,
      data: {
        list: [BERLIN, TOKYO, CLOSED].map(({ id, name }) => ({
          advertiser_id: id,
          advertiser_name: name,
        })),
      },
    });
  });

  it.each<[string, number, Record<string, string>, Record<string, string>]>([
    ["no app_id", 40002, { secret: app.secret }, {}],
    ["no secret", 40002, { app_id: app.app_id }, {}],
    ["an app_id of another app", 40113, { ...app, app_id: "7000000000000000999" }, {}],
    ["a secret that is not the app's", 40101, { ...app, secret: "wrong" }, {}],
    ["no Access-Token header", 40104, app, { "Access-Token": "" }],
  ])(
    "answers a listing with %s with HTTP 200 and code %i",
    async (_what, code, params, headers) => {
      const response = await get("/oauth2/advertiser/get/", params, {
        "Access-Token": token,
        ...headers,
      });

      expect(response.status).toBe(200);
      expect(response.data).toMatchObject({ code, data: {} });
    },
  );

  it("answers several advertisers' info at once, with their status", async () => {
    const response = await get("/advertiser/info/", {
      advertiser_ids: JSON.stringify([BERLIN.id, CLOSED.id]),
      fields: JSON.stringify(["advertiser_id", "name", "status", "currency", "timezone"]),
    });

    expect(response.data).toMatchObject({
      code: 0,
      data: {
        list: [
          {
            advertiser_id: BERLIN.id,
            name: BERLIN.name,
            status: "STATUS_ENABLE",
            currency: "EUR",
            timezone: "Europe/Berlin",
          },
          {
            advertiser_id: CLOSED.id,
            name: CLOSED.name,
            status: "STATUS_DISABLE",
            currency: "USD",
            timezone: "Etc/GMT+8",
          },
        ],
      },
    });
  });

  it.each<[string, number, string[]]>([
    ["more than 100 ids", 40011, Array.from({ length: 101 }, () => BERLIN.id)],
    ["an advertiser the login does not reach yet", 40001, [BERLIN.id, LATER.id]],
    ["an advertiser that does not exist", 40300, ["7000000000000000999"]],
  ])("answers info for %s with code %i", async (_what, code, ids) => {
    const response = await get("/advertiser/info/", { advertiser_ids: JSON.stringify(ids) });

    expect(response.data).toMatchObject({ code, data: {} });
  });
});
