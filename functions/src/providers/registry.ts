/**
 * The one place that knows every platform adapter. The mapped type makes a missing platform a
 * compile error. `createProviderRuntime` builds what the jobs need: one limiter per platform,
 * shared by every job the instance runs, and one HTTP client.
 */
import axios, { type AxiosInstance } from "axios";

import type { ProviderAdapter } from "./adapter";
import { fetchMetrics } from "./fetch";
import { googleAdapter } from "./google";
import { type LimiterClock, RateLimiter, realClock } from "./limiter";
import { linkedinAdapter } from "./linkedin";
import { metaAdapter } from "./meta";
import type { ProviderSettings } from "./settings";
import { tiktokAdapter } from "./tiktok";
import { type FetchRequest, type FetchResult, PROVIDER_IDS, type ProviderId } from "./types";

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
  const limiters = Object.fromEntries(
    PROVIDER_IDS.map((id) => [
      id,
      new RateLimiter(
        {
          requestsPerSecond: settings[id].requestsPerSecond,
          concurrency: settings[id].concurrency,
        },
        clock,
      ),
    ]),
  ) as Record<ProviderId, RateLimiter>;

  const run = <P extends ProviderId>(providerId: P, request: FetchRequest) =>
    fetchMetrics(
      ADAPTERS[providerId],
      { settings: settings[providerId], axios: http, limiter: limiters[providerId], clock },
      request,
    );
  return run;
}
