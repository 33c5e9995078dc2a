/**
 * Every deploy-time parameter of the functions. Values are read only inside handlers, through
 * `readRawEnv()` in `shared/config.ts`, and validated there with zod: never call `.value()` at
 * import time (the Firebase CLI evaluates this module during deploy discovery).
 *
 * Numbers and URLs are declared as strings on purpose: `defineInt` turns "abc" into 0 silently,
 * and we want a wrong value to fail with a message that names the variable.
 */
import { defineSecret, defineString } from "firebase-functions/params";

import { ALERT_DEFAULTS } from "./shared/alert-config";
import { CONFIG_DEFAULTS, type RawEnv } from "./shared/config";
import { AUTH_FAILURE_DEFAULTS } from "./shared/rate-limit-config";

export const REGION = "us-central1";

/** Shared secret for the cron, worker, process and schedule endpoints (`x-cron-key`). */
export const integrationsCronSecret = defineSecret("INTEGRATIONS_CRON_SECRET");
/** Optional: the previous cron secret, still accepted while callers move to the new one. */
export const integrationsCronSecretPrevious = defineSecret("INTEGRATIONS_CRON_SECRET_PREVIOUS");
/** Optional Stripe key; when set, /api/health checks Stripe reachability. */
export const stripeSecretKey = defineSecret("STRIPE_SECRET_KEY");
/**
 * Ad-platform OAuth client secrets as JSON, merged into PROVIDER_SETTINGS:
 * `{"google":{"clientSecret":"…","developerToken":"…"},"linkedin":{"clientSecret":"…"},"meta":{"appSecret":"…"}}`.
 */
export const providerSecrets = defineSecret("PROVIDER_SECRETS");

export const nextPublicAppUrl = defineString("NEXT_PUBLIC_APP_URL", {
  description: "Public base URL of the Cohorts app, e.g. https://app.example.com",
});
export const adminEmails = defineString("ADMIN_EMAILS", {
  description: "Comma-separated e-mail addresses allowed to use admin endpoints",
});
export const schedulerAlertWebhookUrl = defineString("SCHEDULER_ALERT_WEBHOOK_URL", {
  default: "",
  description: "Optional Slack/Teams incoming-webhook URL for scheduler alerts",
});
export const schedulerAlertFailureThreshold = defineString("SCHEDULER_ALERT_FAILURE_THRESHOLD", {
  default: CONFIG_DEFAULTS.SCHEDULER_ALERT_FAILURE_THRESHOLD,
  description: "Failures per run that trigger an alert (positive integer)",
});
export const stripeApiBaseUrl = defineString("STRIPE_API_BASE_URL", {
  default: CONFIG_DEFAULTS.STRIPE_API_BASE_URL,
  description: "Stripe API base URL (only changed for local testing)",
});
export const providerSettings = defineString("PROVIDER_SETTINGS", {
  default: CONFIG_DEFAULTS.PROVIDER_SETTINGS,
  description:
    'Per-platform overrides as JSON, e.g. {"google":{"clientId":"…","apiVersion":"v25"},"tiktok":{"requestsPerSecond":2}}',
});
export const healthCheckTimeoutMs = defineString("HEALTH_CHECK_TIMEOUT_MS", {
  default: CONFIG_DEFAULTS.HEALTH_CHECK_TIMEOUT_MS,
  description: "Timeout of each /api/health dependency check, in milliseconds",
});

// Tokens at rest.
/**
 * The keys that encrypt OAuth tokens at rest, as JSON
 * `{"current":"k2","keys":{"k1":"<base64 of 32 bytes>","k2":"…"}}` (`integrations/token-keys.ts`);
 * bound only to the functions that process jobs.
 */
export const tokenEncryptionKeys = defineSecret("TOKEN_ENCRYPTION_KEYS");

// Failed-authentication monitoring and endpoint rate limits (`http/rate-limit.ts`).
export const authFailureThreshold = defineString("AUTH_FAILURE_THRESHOLD", {
  default: String(AUTH_FAILURE_DEFAULTS.AUTH_FAILURE_THRESHOLD),
  description: "Failed authentications a source address may make within the window (1-10000)",
});
export const authFailureWindowSeconds = defineString("AUTH_FAILURE_WINDOW_SECONDS", {
  default: String(AUTH_FAILURE_DEFAULTS.AUTH_FAILURE_WINDOW_SECONDS),
  description: "Window in which a source's failed authentications are counted, in seconds",
});
export const authFailureBlockSeconds = defineString("AUTH_FAILURE_BLOCK_SECONDS", {
  default: String(AUTH_FAILURE_DEFAULTS.AUTH_FAILURE_BLOCK_SECONDS),
  description: "How long a source that exceeded the threshold gets 429, in seconds",
});
export const endpointRateLimits = defineString("ENDPOINT_RATE_LIMITS", {
  default: "{}",
  description:
    'Requests per caller per minute, per endpoint, overriding the defaults, e.g. {"status":240}',
});

// Scheduler insights and alerts (`shared/alert-config.ts`, `scheduler/alerts.ts`, `/api/health`).
export const schedulerAlertThresholds = defineString("SCHEDULER_ALERT_THRESHOLDS", {
  default: ALERT_DEFAULTS.SCHEDULER_ALERT_THRESHOLDS,
  description:
    'Failure thresholds per platform and per event type, e.g. {"providers":{"meta":5},"operations":{"process_job":1}}',
});
export const schedulerAlertCooldownMinutes = defineString("SCHEDULER_ALERT_COOLDOWN_MINUTES", {
  default: String(ALERT_DEFAULTS.SCHEDULER_ALERT_COOLDOWN_MINUTES),
  description: "Minutes during which repeats of a firing alert are suppressed (1-10080)",
});
export const schedulerAlertTimeoutMs = defineString("SCHEDULER_ALERT_TIMEOUT_MS", {
  default: String(ALERT_DEFAULTS.SCHEDULER_ALERT_TIMEOUT_MS),
  description: "Timeout of one alert webhook delivery, in milliseconds (1-30000)",
});
export const schedulerQueueStuckMinutes = defineString("SCHEDULER_QUEUE_STUCK_MINUTES", {
  default: String(ALERT_DEFAULTS.SCHEDULER_QUEUE_STUCK_MINUTES),
  description: "A due job waiting this many minutes means a stuck queue: alert and health warning",
});
export const schedulerQueueUnhealthyMinutes = defineString("SCHEDULER_QUEUE_UNHEALTHY_MINUTES", {
  default: String(ALERT_DEFAULTS.SCHEDULER_QUEUE_UNHEALTHY_MINUTES),
  description: "A due job waiting this many minutes makes /api/health answer 503",
});
export const schedulerQueueFailedWarning = defineString("SCHEDULER_QUEUE_FAILED_WARNING", {
  default: String(ALERT_DEFAULTS.SCHEDULER_QUEUE_FAILED_WARNING),
  description: "Failed jobs in the last 24 hours that make a /api/health queue warning",
});

/** Every parameter; `readRawEnv` reads exactly these names. */
export const allParams = [
  integrationsCronSecret,
  integrationsCronSecretPrevious,
  nextPublicAppUrl,
  adminEmails,
  schedulerAlertWebhookUrl,
  schedulerAlertFailureThreshold,
  stripeSecretKey,
  stripeApiBaseUrl,
  healthCheckTimeoutMs,
  providerSettings,
  providerSecrets,
  tokenEncryptionKeys,
  authFailureThreshold,
  authFailureWindowSeconds,
  authFailureBlockSeconds,
  endpointRateLimits,
  schedulerAlertThresholds,
  schedulerAlertCooldownMinutes,
  schedulerAlertTimeoutMs,
  schedulerQueueStuckMinutes,
  schedulerQueueUnhealthyMinutes,
  schedulerQueueFailedWarning,
] as const;

/**
 * The raw values of every parameter, read from the environment the Functions runtime fills in
 * (params and the secrets bound to the function). Call inside handlers only.
 */
export function readRawEnv(source: NodeJS.ProcessEnv = process.env): RawEnv {
  return Object.fromEntries(allParams.map((param) => [param.name, source[param.name]]));
}
