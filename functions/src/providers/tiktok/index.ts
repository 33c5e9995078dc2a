/**
 * TikTok Ads (API for Business v1.3). Marketing API tokens are long-term and cannot be
 * refreshed (a refresh token on them is refused with 40107), so `tokens` is absent: an expired or
 * revoked token is `auth` and the user re-authorizes.
 */
import type { ProviderAdapter } from "../adapter";
import { ProviderError } from "../errors";
import { canonicalAccountId } from "../ids";
import { fetchSlices, sliceRange } from "../ranges";
import { classifyTikTok } from "./classify";
import { settingsApp, tiktokDiscovery } from "./discovery";
import { fetchAdvertiser, fetchReportSlice, MAX_DAYS_PER_REQUEST } from "./report";
import { fetchReportTask } from "./task";

/** TikTok's answer to a task's creation by an app not allowlisted for asynchronous reports. */
const ASYNC_NOT_ALLOWED = "tiktok_code_40118";

export const tiktokAdapter: ProviderAdapter<"tiktok"> = {
  id: "tiktok",
  classify: classifyTikTok,
  // The advertiser listing is the one call that needs our developer app's app_id and secret.
  discovery: tiktokDiscovery(settingsApp),
  history: {
    // TikTok keeps report data without limit, so any bound is ours: ten years (the backfill's
    // longest request, MAX_BACKFILL_DAYS), which also reaches Airbyte's default start_date
    // (2016-09-01) for years to come.
    retentionMonths: 120,
    source:
      "TikTok Reporting FAQs (https://business-api.tiktok.com/portal/docs?id=1738864850353154): " +
      '"Report data is retained forever, and there is no query lookback range restriction"; no ' +
      "error for a start_date too far back is documented. 120 months is our bound, not TikTok's.",
    // One asynchronous task per slice, and a task takes any range ("Asynchronous reports have no
    // time range limitations", https://business-api.tiktok.com/portal/docs?id=1740302766489602).
    // What binds is the task count: 1 QPS and 4,500 tasks per app per day, 500 per ad account
    // per hour (same page; Reporting FAQs). 90 days cuts a history's tasks threefold against the
    // synchronous 30, and keeps one task's file small (a 1,000-campaign advertiser: 90,000 rows)
    // and quick to build within asyncMaxWaitMs; a task that is not is asked again in halves.
    backfillSliceDays: 90,
  },
  async fetchAccount(ctx, credentials, { accountId, rangeIn, bulk }) {
    // Rows carry the advertiser id TikTok answers with, which is this canonical id.
    const advertiserId = canonicalAccountId("tiktok", accountId);
    const advertiser = await fetchAdvertiser(ctx, credentials.accessToken, advertiserId);
    // Report days are the advertiser's: its zone decides which days have started.
    const range = rangeIn(advertiser.timezone);
    // Slices run one after another: TikTok's QPS limit is per developer app, shared by every
    // advertiser we sync, so one account does not burst the whole allowance. A slice TikTok
    // refuses as too large (40067), or a task that fails or does not finish, is fetched again in
    // halves.
    const synchronous = () =>
      fetchSlices(sliceRange(range, MAX_DAYS_PER_REQUEST), (slice) =>
        fetchReportSlice(ctx, credentials.accessToken, advertiser, slice),
      );
    let rows;
    try {
      rows = bulk
        ? await fetchSlices([range], (slice) =>
            fetchReportTask(ctx, credentials.accessToken, advertiser, slice),
          )
        : await synchronous();
    } catch (error) {
      // Asynchronous reports are for allowlisted apps only: an app without them (40118 on the
      // task's creation, before any task exists) backfills through the synchronous report.
      if (!bulk || !(error instanceof ProviderError) || error.reason !== ASYNC_NOT_ALLOWED) {
        throw error;
      }
      rows = await synchronous();
    }
    return { rows, range, timeZone: advertiser.timezone };
  },
};
