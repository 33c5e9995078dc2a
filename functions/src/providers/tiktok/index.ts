/**
 * TikTok Ads (API for Business v1.3). Marketing API tokens are long-term and cannot be
 * refreshed (a refresh token on them is refused with 40107), so `tokens` is absent: an expired or
 * revoked token is `auth` and the user re-authorizes.
 */
import type { ProviderAdapter } from "../adapter";
import { canonicalAccountId } from "../ids";
import { fetchSlices, sliceRange } from "../ranges";
import { classifyTikTok } from "./classify";
import { fetchAdvertiser, fetchReportSlice, MAX_DAYS_PER_REQUEST } from "./report";

export const tiktokAdapter: ProviderAdapter<"tiktok"> = {
  id: "tiktok",
  classify: classifyTikTok,
  history: {
    retentionMonths: 36,
    source: "TO VERIFY: TikTok reporting retention",
    backfillSliceDays: 30,
  },
  async fetchAccount(ctx, credentials, { accountId, rangeIn }) {
    // Rows carry the advertiser id TikTok answers with, which is this canonical id.
    const advertiserId = canonicalAccountId("tiktok", accountId);
    const advertiser = await fetchAdvertiser(ctx, credentials.accessToken, advertiserId);
    // Report days are the advertiser's: its zone decides which days have started.
    const range = rangeIn(advertiser.timezone);
    // Slices run one after another: TikTok's QPS limit is per developer app, shared by every
    // advertiser we sync, so one account does not burst the whole allowance. A slice TikTok
    // refuses as too large (40067) is fetched again in halves.
    const rows = await fetchSlices(sliceRange(range, MAX_DAYS_PER_REQUEST), (slice) =>
      fetchReportSlice(ctx, credentials.accessToken, advertiser, slice),
    );
    return { rows, range, timeZone: advertiser.timezone };
  },
};
