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
import { discoverAccounts, type DiscoveryResult, fetchMetrics } from "./fetch";
import { googleAdapter } from "./google";
import { type LimiterClock, RateLimiter, realClock } from "./limiter";
import { linkedinAdapter } from "./linkedin";
import { metaAdapter } from "./meta";
import type { ProviderSettings } from "./settings";
import { tiktokAdapter } from "./tiktok";
import type { Credentials, FetchRequest, FetchResult, ProviderId } from "./types";

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

export type DiscoveryRuntime = (
  providerId: ProviderId,
  credentials: Credentials,
) => Promise<DiscoveryResult>;

interface RuntimeOptions {
  axios?: AxiosInstance;
  clock?: LimiterClock;
}

/** What one call to a platform needs: its settings, the HTTP client, a limiter of the run's own. */
function depsFor<P extends ProviderId>(
  settings: ProviderSettings,
  providerId: P,
  options: RuntimeOptions,
) {
  const clock = options.clock ?? realClock;
  return {
    settings: settings[providerId],
    axios: options.axios ?? axios.create(),
    limiter: new RateLimiter(runLimits(providerId, settings[providerId]), clock, {
      startFull: true,
    }),
    clock,
  };
}

export function createProviderRuntime(
  settings: ProviderSettings,
  options: RuntimeOptions = {},
): ProviderRuntime {
  const shared = { ...options, axios: options.axios ?? axios.create() };
  return (providerId, request) =>
    fetchMetrics(ADAPTERS[providerId], depsFor(settings, providerId, shared), request);
}

/** Account discovery and credential inspection, each call within one run's share of the budget. */
export function createDiscoveryRuntime(
  settings: ProviderSettings,
  options: RuntimeOptions = {},
): DiscoveryRuntime {
  const shared = { ...options, axios: options.axios ?? axios.create() };
  return (providerId, credentials) =>
    discoverAccounts(ADAPTERS[providerId], depsFor(settings, providerId, shared), credentials);
}
