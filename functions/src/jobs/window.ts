/**
 * Which days a job re-pulls. A job with `timeframeDays: N` pulls each account's last N complete
 * days plus its current day, in the zone the platform reports the account's days in (Google,
 * Meta, TikTok: the account's own; LinkedIn: UTC) — `timeframeDays: 1` is yesterday and today
 * *for the account*: at 2026-12-01T02:00Z a Los Angeles account (still on Nov 30) gets Nov 29–30,
 * not UTC's Nov 30–Dec 1, and a Kiritimati account (UTC+14, already Dec 1) Nov 30–Dec 1. The
 * partial current
 * day is included because dashboards show "today so far" and the next run restates it; a day
 * that has not started for the account is never asked for (`providers/ranges.ts` `rangeIn`).
 * Scheduled syncs are widened to the platform's restatement window, because platforms keep
 * revising a day's numbers (conversions are credited to the click date) for weeks; the
 * integration's `lookbackDays` preference replaces the platform default.
 */
import type { Automation } from "../integrations/model";
import type { ProviderId } from "../providers/types";
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

/**
 * Whether a cadence slot (`<hours>h-<index>`, `schedule.ts` `cadenceSlot`) is the one that starts
 * a day's slots at 02:00 UTC. A slot of a daily cadence always is; without a slot (an older job)
 * every scheduled run counts as daily.
 */
export function isDailySlot(slot: string | null): boolean {
  const match = slot === null ? null : /^(\d+)h-(-?\d+)$/.exec(slot);
  return !match || (Number(match[1]) * Number(match[2])) % 24 === 0;
}

/**
 * How many complete days before each account's current day a job re-pulls. A scheduled sync
 * re-pulls the platform's restatement window once a day — in its 02:00 UTC slot — and only its
 * `timeframeDays` in the day's other slots: an hourly cadence costs one full window and 23 short
 * ones a day instead of 24 full ones, and the days that still move are refreshed every hour.
 */
export function windowDays(
  job: { type: JobType; timeframeDays: number; slot?: string | null },
  providerId: ProviderId,
  automation: Automation,
): number {
  if (job.type !== "scheduled-sync" || !isDailySlot(job.slot ?? null)) {
    return job.timeframeDays;
  }
  const lookback = automation.lookbackDays ?? RESTATEMENT_LOOKBACK_DAYS[providerId];
  return Math.max(job.timeframeDays, lookback);
}
