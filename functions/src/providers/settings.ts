/**
 * Every platform's base URL, API version, token endpoint, timeouts and client-side limits, in one
 * place. Production URLs are the defaults; a sandbox base URL only ever comes from configuration
 * (the `PROVIDER_SETTINGS` JSON), never from a request.
 *
 * Rate-limit defaults stay at or under what each platform documents (provider-apis notes):
 * TikTok Basic tier allows 10 QPS per app; Google and LinkedIn publish no QPS, so we stay
 * conservative; Meta's limits are per ad account per rolling hour (BUC), answered by reading
 * its usage headers, with a low global rate on top.
 */
import { z } from "zod";

import type { ProviderId } from "./types";

const url = z.url({ protocol: /^https?$/ }).transform((value) => value.replace(/\/+$/, ""));

const common = {
  /** Per-request timeout: nothing can hang a function. */
  timeoutMs: z.number().int().min(100).max(120_000).default(30_000),
  /**
   * The app-wide budget, across every instance: each job run gets an equal share of both
   * (`budget.ts`).
   */
  requestsPerSecond: z.number().positive().max(1000),
  concurrency: z.number().int().min(1).max(100),
  /** Waits a platform asks for up to this long are honoured inline; longer ones defer the job. */
  maxInlineWaitMs: z.number().int().min(0).max(60_000).default(10_000),
  /** Inline retries of one request for transient and short rate-limit failures. */
  maxInlineRetries: z.number().int().min(0).max(5).default(2),
};

const secret = z.string().min(1).optional();

/**
 * Asynchronous reports (Meta insights report runs, TikTok report tasks, `FetchRequest.bulk`):
 * how often a run's status is checked, and how long one may take before the adapter gives up on
 * it and asks for its range in smaller parts. Each status check is a request of the budget.
 */
const asyncReports = {
  asyncPollMs: z.number().int().min(1).max(60_000).default(5_000),
  asyncMaxWaitMs: z.number().int().min(1).max(3_600_000).default(300_000),
};

export const providerSettingsSchema = z.strictObject({
  google: z
    .strictObject({
      ...common,
      requestsPerSecond: common.requestsPerSecond.default(5),
      concurrency: common.concurrency.default(4),
      baseUrl: url.default("https://googleads.googleapis.com"),
      apiVersion: z
        .string()
        .regex(/^v\d+(_\d+)?$/)
        .default("v25"),
      tokenUrl: url.default("https://oauth2.googleapis.com/token"),
      clientId: secret,
      clientSecret: secret,
      /** Optional since developer tokens were sunset (2026-09-09); sent only when set. */
      developerToken: secret,
    })
    .prefault({}),
  meta: z
    .strictObject({
      ...common,
      requestsPerSecond: common.requestsPerSecond.default(2),
      concurrency: common.concurrency.default(2),
      baseUrl: url.default("https://graph.facebook.com"),
      apiVersion: z
        .string()
        .regex(/^v\d+\.\d+$/)
        .default("v26.0"),
      /** When set, requests carry `appsecret_proof` (HMAC-SHA256 of the token). */
      appSecret: secret,
      /** The Meta app's id: with `appSecret`, the app token `debug_token` needs. */
      appId: z.string().regex(/^\d+$/).optional(),
      ...asyncReports,
    })
    .prefault({}),
  linkedin: z
    .strictObject({
      ...common,
      requestsPerSecond: common.requestsPerSecond.default(2),
      concurrency: common.concurrency.default(2),
      baseUrl: url.default("https://api.linkedin.com/rest"),
      /** `LinkedIn-Version` header, YYYYMM; each version is supported for at least a year. */
      apiVersion: z
        .string()
        .regex(/^\d{6}$/)
        .default("202603"),
      tokenUrl: url.default("https://www.linkedin.com/oauth/v2/accessToken"),
      /** Token introspection (https://learn.microsoft.com/linkedin/shared/authentication/token-introspection). */
      introspectUrl: url.default("https://www.linkedin.com/oauth/v2/introspectToken"),
      clientId: secret,
      clientSecret: secret,
    })
    .prefault({}),
  tiktok: z
    .strictObject({
      ...common,
      requestsPerSecond: common.requestsPerSecond.default(5),
      concurrency: common.concurrency.default(5),
      baseUrl: url.default("https://business-api.tiktok.com/open_api/v1.3"),
      /** The developer app's `app_id` and `secret`, which listing its advertisers needs. */
      appId: z.string().min(1).optional(),
      appSecret: secret,
      ...asyncReports,
    })
    .prefault({}),
});

export type ProviderSettings = z.infer<typeof providerSettingsSchema>;
export type SettingsOf<P extends ProviderId> = ProviderSettings[P];

/** Defaults for every platform, overridden by the (validated, strict) partial `overrides`. */
export function parseProviderSettings(overrides: unknown = {}): ProviderSettings {
  return providerSettingsSchema.parse(overrides);
}
