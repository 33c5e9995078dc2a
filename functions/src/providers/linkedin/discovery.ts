/**
 * LinkedIn account discovery and credential facts, and the request plumbing the reporting path
 * (`index.ts`) shares with them.
 *
 * Accounts: `GET /rest/adAccounts?q=search`, the "Search for Accounts" finder, lists the ad
 * accounts the authenticated member has a role on, each with its name, currency and status
 * (https://learn.microsoft.com/en-us/linkedin/marketing/integrations/ads/account-structure/create-and-manage-accounts),
 * in cursor pages (`pageSize`, `pageToken`, `metadata.nextPageToken`:
 * https://learn.microsoft.com/en-us/linkedin/marketing/integrations/ads/cursor-based-pagination).
 * `adAccountUsers?q=authenticatedUser` reaches the same accounts but carries only their URN and
 * the member's role, so every account would cost one more request for what we store.
 *
 * Credentials: `POST https://www.linkedin.com/oauth/v2/introspectToken` (form: client_id,
 * client_secret, token) says whether the access token is active and when it expires, and when
 * the member authorized the app
 * (https://learn.microsoft.com/en-us/linkedin/shared/authentication/token-introspection). The
 * refresh token lives 365 days from that consent whatever the refreshes, and an access token
 * minted late in that year ends with it
 * (https://learn.microsoft.com/en-us/linkedin/shared/authentication/programmatic-refresh-tokens).
 */
import type { z } from "zod";

import type { AccountDiscovery, AdapterContext } from "../adapter";
import { ProviderError } from "../errors";
import type { Credentials, DiscoveredAccount } from "../types";
import { LINKEDIN_REPORT_TIME_ZONE } from "./map";
import { restliQuery, type RestliValue } from "./restli";
import {
  type AdAccountListing,
  adAccountsPageSchema,
  type CursorPage,
  introspectionSchema,
} from "./schema";

type Context = AdapterContext<"linkedin">;

/** The refresh token's fixed lifetime, counted from the member's consent. */
export const REFRESH_TOKEN_LIFETIME_MS = 365 * 86_400_000;

/**
 * Every status an ad account can have, asked for explicitly so that canceled and removed
 * accounts — which the integration may hold from earlier — come back marked, not missing.
 */
const ACCOUNT_STATUSES = ["ACTIVE", "CANCELED", "DRAFT", "PENDING_DELETION", "REMOVED"];
/** LinkedIn's default page is 100; 500 keeps an agency's accounts to a few calls. */
const ACCOUNT_PAGE_SIZE = 500;

/**
 * A GET of the versioned API: every call carries `LinkedIn-Version` (there is no default) and
 * `X-Restli-Protocol-Version: 2.0.0`, which the Rest.li syntax of `restliQuery` needs.
 */
export function restGet<T>(
  ctx: Context,
  credentials: Credentials,
  pathAndQuery: string,
  schema: z.ZodType<T>,
  label: string,
): Promise<T> {
  return ctx.http.request({
    method: "GET",
    url: `${ctx.settings.baseUrl}${pathAndQuery}`,
    headers: {
      Authorization: `Bearer ${credentials.accessToken}`,
      "LinkedIn-Version": ctx.settings.apiVersion,
      "X-Restli-Protocol-Version": "2.0.0",
    },
    schema,
    label,
  });
}

/** Every element of a search finder (`q=search`), following its cursor pages. */
export async function searchAll<T>(
  ctx: Context,
  credentials: Credentials,
  resource: string,
  params: Record<string, RestliValue>,
  pageSize: number,
  schema: z.ZodType<CursorPage<T>>,
  label: string,
): Promise<T[]> {
  const elements: T[] = [];
  let pageToken: string | undefined;
  for (let page = 1; ; page += 1) {
    const query = restliQuery({
      q: "search",
      ...params,
      pageSize,
      ...(pageToken === undefined ? {} : { pageToken }),
    });
    const result = await restGet(
      ctx,
      credentials,
      `${resource}?${query}`,
      schema,
      `${label} page ${page}`,
    );
    elements.push(...result.elements);
    // The last page is the one without a (non-empty) nextPageToken.
    pageToken = result.metadata?.nextPageToken || undefined;
    if (pageToken === undefined) {
      return elements;
    }
  }
}

/** The OAuth client, which token refreshes and introspection both authenticate with. */
export function clientCredentials(
  ctx: Context,
  purpose: string,
): { clientId: string; clientSecret: string } {
  const { clientId, clientSecret } = ctx.settings;
  if (clientId === undefined || clientSecret === undefined) {
    throw new ProviderError(
      "linkedin",
      "permanent",
      "missing_client_credentials",
      `the linkedin clientId and clientSecret settings are needed to ${purpose}`,
    );
  }
  return { clientId, clientSecret };
}

function toDiscovered(account: AdAccountListing): DiscoveredAccount {
  return {
    // The numeric id, as fetchAccount takes it and rows carry it (`canonicalAccountId`).
    accountId: String(account.id),
    name: account.name,
    currency: account.currency,
    // Reports count days in UTC whatever the account's zone (`map.ts`).
    timeZone: LINKEDIN_REPORT_TIME_ZONE,
    // DRAFT accounts have not served yet; the others are closed or on their way out.
    status: account.status === "ACTIVE" ? "active" : "inactive",
    platformStatus: account.status,
    // LinkedIn has no manager accounts: a member reaches each account through its own role.
    hierarchy: [],
  };
}

export const linkedinDiscovery: AccountDiscovery<"linkedin"> = {
  async discover(ctx, credentials) {
    const accounts = await searchAll(
      ctx,
      credentials,
      "/adAccounts",
      { search: { status: { values: ACCOUNT_STATUSES } } },
      ACCOUNT_PAGE_SIZE,
      adAccountsPageSchema,
      "adAccounts search",
    );
    return accounts.map(toDiscovered);
  },

  async inspect(ctx, credentials) {
    const { clientId, clientSecret } = clientCredentials(ctx, "introspect tokens");
    const facts = await ctx.http.request({
      method: "POST",
      url: ctx.settings.introspectUrl,
      data: new URLSearchParams({
        client_id: clientId,
        client_secret: clientSecret,
        token: credentials.accessToken,
      }),
      schema: introspectionSchema,
      label: "LinkedIn token introspection",
    });
    const accessTokenExpiresAt = facts.expires_at === undefined ? null : facts.expires_at * 1000;
    const consentEndsAt =
      facts.authorized_at === undefined
        ? null
        : facts.authorized_at * 1000 + REFRESH_TOKEN_LIFETIME_MS;
    return {
      valid: facts.active,
      accessTokenExpiresAt,
      // Without a refresh token nothing extends the access token: the connection ends with it.
      connectionExpiresAt:
        credentials.refreshToken === undefined ? accessTokenExpiresAt : consentEndsAt,
    };
  },
};
