/**
 * TikTok Ads (API for Business v1.3). Marketing API tokens are long-term and cannot be
 * refreshed (a refresh token on them is refused with 40107), so `tokens` is absent: an expired or
 * revoked token is `auth` and the user re-authorizes.
 */
import type { ProviderAdapter } from "../adapter";
import type { MetricRow } from "../types";
import { classifyTikTok } from "./classify";
import { fetchAdvertiser, fetchReportSlice, MAX_DAYS_PER_REQUEST, sliceRange } from "./report";

export const tiktokAdapter: ProviderAdapter<"tiktok"> = {
  id: "tiktok",
  classify: classifyTikTok,
  async fetchAccount(ctx, credentials, { accountId, range }) {
    const advertiser = await fetchAdvertiser(ctx, credentials.accessToken, accountId);
    const rows: MetricRow[] = [];
    // Slices run one after another: TikTok's QPS limit is per developer app, shared by every
    // advertiser we sync, so one account does not burst the whole allowance.
    for (const slice of sliceRange(range, MAX_DAYS_PER_REQUEST)) {
      rows.push(...(await fetchReportSlice(ctx, credentials.accessToken, advertiser, slice)));
    }
    return rows;
  },
};
