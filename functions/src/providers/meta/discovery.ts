/**
 * Which Meta ad accounts a connection reaches, and what Meta says of its token (`AccountDiscovery`).
 *
 * Accounts: those the user has access to (`GET /{v}/me/adaccounts`,
 * https://developers.facebook.com/docs/graph-api/reference/user/adaccounts/), then, for every
 * business the user belongs to (`GET /{v}/me/businesses`,
 * https://developers.facebook.com/docs/graph-api/reference/user/businesses/), the ad accounts it
 * owns and those its clients share with it (`GET /{v}/{business_id}/owned_ad_accounts` and
 * `/client_ad_accounts`, https://developers.facebook.com/docs/marketing-api/reference/business/owned_ad_accounts/
 * and https://developers.facebook.com/docs/marketing-api/reference/business/client_ad_accounts/):
 * a business member reaches through the business accounts they hold no role on themselves. Every
 * listing is cursor-paged like insights.
 *
 * Token facts: `GET /{v}/debug_token?input_token={token}` with the app's token
 * (https://developers.facebook.com/docs/graph-api/reference/debug_token/), which answers for a
 * token that no longer works too.
 */
import type { z } from "zod";

import type { AccountDiscovery, AdapterContext } from "../adapter";
import { ProviderError } from "../errors";
import type { DiscoveredAccount } from "../types";
import {
  adAccountListingPageSchema,
  businessPageSchema,
  debugTokenSchema,
  type GraphPage,
  LISTED_AD_ACCOUNT_FIELDS,
  type ListedAdAccount,
} from "./schema";

/** How a Graph request authenticates: the token's header, and `appsecret_proof` when configured. */
export interface GraphAuth {
  headers: Record<string, string>;
  params: Record<string, string>;
}

/** A cursor-paged edge to read whole. */
export interface GraphEdge<Item> {
  endpoint: string;
  /** The first page's query, auth parameters included. */
  firstPage: Readonly<Record<string, string>>;
  /** What the edge is, for messages. */
  what: string;
  schema: z.ZodType<GraphPage<Item>>;
}

/** The Graph helpers discovery shares with the report fetch (`index.ts`). */
export interface GraphClient {
  authOf(ctx: AdapterContext<"meta">, accessToken: string): GraphAuth;
  readEdge<Item>(
    ctx: AdapterContext<"meta">,
    auth: GraphAuth,
    edge: GraphEdge<Item>,
  ): Promise<Item[]>;
}

export interface MetaDiscoveryOptions {
  /** Objects per listing page (`limit`). */
  pageSize: number;
}

/**
 * The `account_status` values of an account whose ads run: 1 ACTIVE, and 8 PENDING_SETTLEMENT and
 * 9 IN_GRACE_PERIOD, which Meta counts with ACTIVE when it decides whether an ad is running ("Running Or In Review", https://developers.facebook.com/docs/marketing-api/reference/ad-account/):
 * an account in its payment grace period still spends, so its days must still be synced. Every
 * other status (2 DISABLED, 3 UNSETTLED, 7 PENDING_RISK_REVIEW, 100 PENDING_CLOSURE, 101 CLOSED,
 * and any Meta adds) serves no ads.
 */
const RUNNING_ACCOUNT_STATUSES: ReadonlySet<number> = new Set([1, 8, 9]);

export function accountStatusOf(accountStatus: number): DiscoveredAccount["status"] {
  return RUNNING_ACCOUNT_STATUSES.has(accountStatus) ? "active" : "inactive";
}

function discovered(account: ListedAdAccount, hierarchy: string[]): DiscoveredAccount {
  return {
    // The number without `act_`: the canonical spelling fetchAccount and the rows use (`ids.ts`).
    accountId: account.account_id,
    name: account.name,
    currency: account.currency ?? null,
    timeZone: account.timezone_name ?? null,
    status: accountStatusOf(account.account_status),
    platformStatus: String(account.account_status),
    hierarchy,
  };
}

/** Graph's seconds since the epoch as ms; absent or 0 ("never", or nothing said) as null. */
const msOf = (seconds: number | undefined): number | null =>
  seconds === undefined || seconds === 0 ? null : seconds * 1000;

/**
 * Discovery over Meta's listings; `inspect` only with the app's id (it needs the app's token),
 * which the settings do not carry yet.
 */
export function createMetaDiscovery(
  graph: GraphClient,
  { pageSize }: MetaDiscoveryOptions,
): AccountDiscovery<"meta"> {
  const rootOf = (ctx: AdapterContext<"meta">) =>
    `${ctx.settings.baseUrl}/${ctx.settings.apiVersion}`;

  const discover: AccountDiscovery<"meta">["discover"] = async (ctx, credentials) => {
    const root = rootOf(ctx);
    const auth = graph.authOf(ctx, credentials.accessToken);
    const page = { limit: String(pageSize), ...auth.params };
    const adAccounts = async (path: string, what: string, hierarchy: string[]) => {
      const listed = await graph.readEdge(ctx, auth, {
        endpoint: `${root}/${path}`,
        firstPage: { fields: LISTED_AD_ACCOUNT_FIELDS, ...page },
        what,
        schema: adAccountListingPageSchema,
      });
      return listed.map((account) => discovered(account, hierarchy));
    };

    const own = await adAccounts("me/adaccounts", "the user's ad accounts", []);
    const businesses = await graph.readEdge(ctx, auth, {
      endpoint: `${root}/me/businesses`,
      firstPage: { fields: "id", ...page },
      what: "the user's businesses",
      schema: businessPageSchema,
    });
    const owned: DiscoveredAccount[] = [];
    const clients: DiscoveredAccount[] = [];
    for (const { id } of businesses) {
      owned.push(
        ...(await adAccounts(`${id}/owned_ad_accounts`, `business ${id}'s accounts`, [id])),
      );
      clients.push(
        ...(await adAccounts(`${id}/client_ad_accounts`, `business ${id}'s clients' accounts`, [
          id,
        ])),
      );
    }
    // Each account once. One a business owns is kept as that business's, even when the user also
    // holds a role on it (it is then in /me/adaccounts too): it is the business's asset, which is
    // what `hierarchy` names and what stays when the user's own role goes. Its owner comes before
    // a business it is shared with as a client's, and either before the user.
    const byId = new Map<string, DiscoveredAccount>();
    for (const account of [...owned, ...clients, ...own]) {
      if (!byId.has(account.accountId)) {
        byId.set(account.accountId, account);
      }
    }
    return [...byId.values()];
  };

  const inspect: NonNullable<AccountDiscovery<"meta">["inspect"]> = async (ctx, credentials) => {
    const { appSecret } = ctx.settings;
    const app = ctx.settings.appId;
    if (appSecret === undefined || app === undefined) {
      throw new ProviderError(
        "meta",
        "permanent",
        "app_not_configured",
        "debug_token needs the Meta app's token: settings.meta.appId and appSecret must be set",
      );
    }
    // The app token is "{app-id}|{app-secret}"
    // (https://developers.facebook.com/docs/facebook-login/guides/access-tokens#apptokens); it
    // travels in the header as every token does. The token inspected can only be named as
    // `input_token`: the URL never reaches a message (labels do), and messages are redacted.
    const auth = graph.authOf(ctx, `${app}|${appSecret}`);
    let answer: z.infer<typeof debugTokenSchema>;
    try {
      answer = await ctx.http.request({
        method: "GET",
        url: `${rootOf(ctx)}/debug_token`,
        params: { input_token: credentials.accessToken, ...auth.params },
        headers: auth.headers,
        schema: debugTokenSchema,
        label: "debug_token",
      });
    } catch (error) {
      // Meta's verdict on the user's token comes back as `is_valid`: a token error here is about
      // the app's token (a wrong app id or secret), which no reconnect fixes.
      if (error instanceof ProviderError && error.code === "auth") {
        throw new ProviderError(
          "meta",
          "permanent",
          "app_token_refused",
          `debug_token refused the app's token (check the Meta app id and secret): ${error.message}`,
        );
      }
      throw error;
    }
    const { is_valid, expires_at, data_access_expires_at } = answer.data;
    return {
      valid: is_valid,
      accessTokenExpiresAt: msOf(expires_at),
      connectionExpiresAt: msOf(data_access_expires_at),
    };
  };

  return { discover, inspect };
}
