/**
 * The one place that knows every platform adapter. The mapped type makes a missing platform a
 * compile error. `createProviderRuntime` builds what the jobs need: one HTTP client, and for
 * each fetch (one job run) a limiter of its own holding the run's share of the platform's
 * fleet-wide budget (`budget.ts`) — not one per instance, which would multiply the budget by
 * the number of instances.
 */
import axios, { type AxiosInstance } from "axios";

import type { ProviderAdapter } from "./adapter";
import { runLimits } from "./budget";
import { fetchMetrics } from "./fetch";
import { googleAdapter } from "./google";
import { type LimiterClock, RateLimiter, realClock } from "./limiter";
import { linkedinAdapter } from "./linkedin";
import { metaAdapter } from "./meta";
import type { ProviderSettings } from "./settings";
import { tiktokAdapter } from "./tiktok";
import type { FetchRequest, FetchResult, ProviderId } from "./types";

export const ADAPTERS: { readonly [P in ProviderId]: ProviderAdapter<P> } = {
  google: googleAdapter,
  meta: metaAdapter,
  linkedin: linkedinAdapter,
  tiktok: tiktokAdapter,
};

export type ProviderRuntime = (
  providerId: ProviderId,
  request: FetchRequest,
) => Promise<FetchResult>;

export function createProviderRuntime(
  settings: ProviderSettings,
  options: { axios?: AxiosInstance; clock?: LimiterClock } = {},
): ProviderRuntime {
  const http = options.axios ?? axios.create();
  const clock = options.clock ?? realClock;
  const run = <P extends ProviderId>(providerId: P, request: FetchRequest) =>
    fetchMetrics(
      ADAPTERS[providerId],
      {
        settings: settings[providerId],
        axios: http,
        limiter: new RateLimiter(runLimits(providerId, settings[providerId]), clock, {
          startFull: true,
        }),
        clock,
      },
      request,
    );
  return run;
}
