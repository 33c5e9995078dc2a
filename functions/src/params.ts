/**
 * Every deploy-time parameter of the functions. Values are read only inside handlers, through
 * `readRawEnv()` in `shared/config.ts`, and validated there with zod: never call `.value()` at
 * import time (the Firebase CLI evaluates this module during deploy discovery).
 *
 * Numbers and URLs are declared as strings on purpose: `defineInt` turns "abc" into 0 silently,
 * and we want a wrong value to fail with a message that names the variable.
 */
import { defineSecret, defineString } from "firebase-functions/params";

import { CONFIG_DEFAULTS, type RawEnv } from "./shared/config";

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
] as const;

/**
 * The raw values of every parameter, read from the environment the Functions runtime fills in
 * (params and the secrets bound to the function). Call inside handlers only.
 */
export function readRawEnv(source: NodeJS.ProcessEnv = process.env): RawEnv {
  return Object.fromEntries(allParams.map((param) => [param.name, source[param.name]]));
}
