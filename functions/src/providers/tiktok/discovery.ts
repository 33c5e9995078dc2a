/**
 * Which TikTok advertisers a connection reaches, and what TikTok says of its token.
 * `GET /oauth2/advertiser/get/` lists the advertisers that authorized our developer app for the
 * user's token — the one call that also takes the app's own `app_id` and `secret`; then
 * `GET /advertiser/info/` gives each one's name, status, currency and zone, many ids a request.
 * TikTok has no manager accounts: every advertiser is reached directly (`hierarchy: []`).
 */
import type { AccountDiscovery, AdapterContext } from "../adapter";
import { ProviderError } from "../errors";
import { canonicalAccountId } from "../ids";
import type { SettingsOf } from "../settings";
import type { DiscoveredAccount } from "../types";
import { authHeaders } from "./report";
import {
  ADVERTISER_STATUS_FIELDS,
  type AdvertiserStatus,
  advertiserStatusResponseSchema,
  authorizedAdvertisersSchema,
} from "./schema";

/** Our developer app, as TikTok's Application Management page shows it. */
export interface TikTokApp {
  appId: string;
  secret: string;
}

/** Where discovery finds the app's credentials. */
export type AppOf = (settings: SettingsOf<"tiktok">) => TikTokApp;

/**
 * The app of the settings (`appId`, `appSecret`); without them discovery fails as a configuration
 * error, before any request, naming what is missing.
 */
export const settingsApp: AppOf = (settings) => {
  if (settings.appId === undefined || settings.appSecret === undefined) {
    throw new ProviderError(
      "tiktok",
      "permanent",
      "app_not_configured",
      "listing TikTok advertisers needs the developer app's app_id and secret: set tiktok.appId and tiktok.appSecret",
    );
  }
  return { appId: settings.appId, secret: settings.appSecret };
};

/**
 * `advertiser_ids` of one `/advertiser/info/` request: 100, as Airbyte's connector batches them
 * (`MultipleAdvertiserIdsPartitionRouter`); more ids in one request is what TikTok's return code
 * 40011 refuses ("Too many IDs are provided in a single request").
 */
export const ADVERTISER_IDS_PER_REQUEST = 100;

/**
 * The one status in which TikTok has approved the account to deliver. Every other is
 * `inactive`: disabled (`STATUS_DISABLE`), restricted as a penalty (`STATUS_LIMIT`), still in or
 * failed at review, or without an effective contract — no delivery, so nothing new to report.
 * The raw value stays in `platformStatus` for whoever needs the distinction.
 */
const ACTIVE_STATUS = "STATUS_ENABLE";

/** The advertisers that authorized our app for this token, each once, in TikTok's order. */
async function authorizedAdvertiserIds(
  ctx: AdapterContext<"tiktok">,
  accessToken: string,
  app: TikTokApp,
): Promise<string[]> {
  const response = await ctx.http.request({
    method: "GET",
    url: `${ctx.settings.baseUrl}/oauth2/advertiser/get/`,
    headers: authHeaders(accessToken),
    params: { app_id: app.appId, secret: app.secret },
    schema: authorizedAdvertisersSchema,
    label: "authorized advertisers",
  });
  return [...new Set(response.data.list.map((entry) => entry.advertiser_id))];
}

/** Each advertiser's info, as many ids a request as TikTok takes, one request after another. */
async function advertiserStatuses(
  ctx: AdapterContext<"tiktok">,
  accessToken: string,
  advertiserIds: readonly string[],
): Promise<Map<string, AdvertiserStatus>> {
  const found = new Map<string, AdvertiserStatus>();
  for (let start = 0; start < advertiserIds.length; start += ADVERTISER_IDS_PER_REQUEST) {
    const batch = advertiserIds.slice(start, start + ADVERTISER_IDS_PER_REQUEST);
    const response = await ctx.http.request({
      method: "GET",
      url: `${ctx.settings.baseUrl}/advertiser/info/`,
      headers: authHeaders(accessToken),
      params: {
        advertiser_ids: JSON.stringify(batch),
        fields: JSON.stringify(ADVERTISER_STATUS_FIELDS),
      },
      schema: advertiserStatusResponseSchema,
      label: `advertiser info (${batch.length} advertisers)`,
    });
    for (const advertiser of response.data.list) {
      found.set(advertiser.advertiser_id, advertiser);
    }
  }
  return found;
}

function toDiscoveredAccount(advertiser: AdvertiserStatus): DiscoveredAccount {
  return {
    // The spelling fetchAccount reads the id in (TikTok's ids have no other).
    accountId: canonicalAccountId("tiktok", advertiser.advertiser_id),
    name: advertiser.name,
    currency: advertiser.currency,
    timeZone: advertiser.timezone,
    status: advertiser.status === ACTIVE_STATUS ? "active" : "inactive",
    platformStatus: advertiser.status,
    hierarchy: [],
  };
}

export function tiktokDiscovery(appOf: AppOf): AccountDiscovery<"tiktok"> {
  return {
    async discover(ctx, credentials) {
      const ids = await authorizedAdvertiserIds(ctx, credentials.accessToken, appOf(ctx.settings));
      const statuses = await advertiserStatuses(ctx, credentials.accessToken, ids);
      return ids.map((id) => {
        const advertiser = statuses.get(id);
        if (!advertiser) {
          throw new ProviderError(
            "tiktok",
            "permanent",
            "advertiser_not_found",
            `advertiser info ${id}: TikTok lists it as authorized but returned no info for it`,
          );
        }
        return toDiscoveredAccount(advertiser);
      });
    },
    /**
     * Marketing API tokens have no expiry and no refresh (notes §4.5): what TikTok can say is
     * whether the token still works, which the authorized-advertisers call answers — 40105 once
     * revoked (or the user cancelled the authorization), `auth` from the classifier. Every other
     * failure says nothing about the token and is thrown.
     */
    async inspect(ctx, credentials) {
      let valid = true;
      try {
        await authorizedAdvertiserIds(ctx, credentials.accessToken, appOf(ctx.settings));
      } catch (error) {
        if (!(error instanceof ProviderError) || error.code !== "auth") {
          throw error;
        }
        valid = false;
      }
      return { valid, accessTokenExpiresAt: null, connectionExpiresAt: null };
    },
  };
}
