/**
 * Which days a job re-pulls. A job with `timeframeDays: N` pulls the last N complete days plus
 * today (UTC dates), so `timeframeDays: 1` covers yesterday and today — the nightly run's intent.
 * Scheduled syncs are widened to the platform's restatement window, because platforms keep
 * revising a day's numbers (conversions are credited to the click date) for weeks; the
 * integration's `lookbackDays` preference replaces the platform default.
 */
import type { Automation } from "../integrations/model";
import type { DateRange, ProviderId } from "../providers/types";
import type { JobType } from "./model";

/**
 * Days a platform keeps restating (provider-apis notes §1.7, 2.7, 3.7, 4.7): Google's tools
 * default to 14 (conversion windows reach 90), Meta attribution settles in 28, LinkedIn's default
 * click window is 30, TikTok's attribution default is 7-day click.
 */
export const RESTATEMENT_LOOKBACK_DAYS: Readonly<Record<ProviderId, number>> = {
  google: 14,
  meta: 28,
  linkedin: 30,
  tiktok: 7,
};

const DAY_MS = 86_400_000;
const isoDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

export function syncWindow(
  job: { type: JobType; timeframeDays: number },
  providerId: ProviderId,
  automation: Automation,
  now: Date,
): DateRange {
  const lookback = automation.lookbackDays ?? RESTATEMENT_LOOKBACK_DAYS[providerId];
  const days =
    job.type === "scheduled-sync" ? Math.max(job.timeframeDays, lookback) : job.timeframeDays;
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  return { since: isoDay(today - days * DAY_MS), until: isoDay(today) };
}
