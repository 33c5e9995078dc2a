/**
 * A new integration (the web app created its document): its history is planned at once — the
 * default two years, newest first (`DEFAULT_BACKFILL_DAYS`) — and its recent days, which the
 * backfill leaves to the syncs, are synced now rather than at the next nightly slot, so the
 * dashboard fills from today backwards as soon as the user has connected.
 *
 * Idempotent, for the trigger's at-least-once deliveries: a second delivery finds the plan with
 * its job (`existing`) and the sync job active (`existing`), and adds nothing.
 */
import {
  discoverIntegration,
  type DiscoveryDeps,
  type DiscoveryOutcome,
} from "../integrations/discovery";
import { MAX_LOOKBACK_DAYS } from "../integrations/model";
import { enqueueJobs, type EnqueueOutcome, type StoreDeps } from "../jobs/store";
import { RESTATEMENT_LOOKBACK_DAYS } from "../jobs/window";
import type { HistoryLimits } from "../providers/adapter";
import { dayCount, dayIn } from "../providers/ranges";
import type { ProviderId } from "../providers/types";
import { DEFAULT_BACKFILL_DAYS } from "./plan";
import { type BackfillOutcome, requestBackfill, sinceDaysBack } from "./store";

export const CONNECT_SOURCE = "on-connect";

/**
 * The days the first sync pulls: back to the plan's newest day, so that no day is left between
 * the plan and the syncs' window whatever the accounts' zones (the day both cover is written
 * twice, harmlessly); without a plan, the platform's restatement window and the plan's margin.
 */
function syncDays(backfill: BackfillOutcome, now: Date, providerId: ProviderId): number {
  const newest =
    "plan" in backfill
      ? Object.values(backfill.plan.accounts)
          .map((account) => account.until)
          .sort()[0]
      : undefined;
  return newest === undefined
    ? RESTATEMENT_LOOKBACK_DAYS[providerId] + 2
    : Math.min(
        MAX_LOOKBACK_DAYS,
        dayCount({ since: newest, until: dayIn(now.getTime(), "UTC") }) - 1,
      );
}

/**
 * `discovery`: the connection's accounts are discovered first (`integrations/discovery.ts`), so
 * the plan and the first sync cover the accounts the login reaches, and the credentials' health
 * is known from the start; a connection refused there gets neither.
 */
export async function onIntegrationConnected(
  deps: StoreDeps,
  target: { userId: string; providerId: ProviderId },
  history: HistoryLimits,
  discovery?: DiscoveryDeps,
): Promise<{ discovery?: DiscoveryOutcome; backfill: BackfillOutcome; sync: EnqueueOutcome }> {
  const discovered = discovery ? await discoverIntegration(discovery, target) : undefined;
  const backfill = await requestBackfill(
    deps,
    {
      ...target,
      since: sinceDaysBack(deps.clock(), DEFAULT_BACKFILL_DAYS),
      source: CONNECT_SOURCE,
    },
    history,
  );
  const [sync] = await enqueueJobs(deps, [
    {
      ...target,
      type: "manual-sync",
      timeframeDays: syncDays(backfill, deps.clock(), target.providerId),
      source: CONNECT_SOURCE,
    },
  ]);
  return { ...(discovered ? { discovery: discovered } : {}), backfill, sync: sync! };
}
