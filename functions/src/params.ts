/**
 * The functions' configuration. Firebase params are only what a deploy must ask for: the two
 * required strings and the secrets. Everything optional is a plain environment variable with its
 * default where it is parsed (see OPTIONAL_VARIABLES). Values are read only inside handlers,
 * through `readRawEnv()`, and validated in `shared/` with zod: never call `.value()` at import
 * time (the Firebase CLI evaluates this module during deploy discovery).
 *
 * Numbers and URLs are strings on purpose: `defineInt` turns "abc" into 0 silently, and we want a
 * wrong value to fail with a message that names the variable.
 */
import { defineSecret, defineString } from "firebase-functions/params";

import type { RawEnv } from "./shared/config";

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

/**
 * The keys that encrypt OAuth tokens at rest, as JSON
 * `{"current":"k2","keys":{"k1":"<base64 of 32 bytes>","k2":"…"}}` (`integrations/token-keys.ts`);
 * bound only to the functions that process jobs.
 */
export const tokenEncryptionKeys = defineSecret("TOKEN_ENCRYPTION_KEYS");

export const nextPublicAppUrl = defineString("NEXT_PUBLIC_APP_URL", {
  description: "Public base URL of the Cohorts app, e.g. https://app.example.com",
});
export const adminEmails = defineString("ADMIN_EMAILS", {
  description: "Comma-separated e-mail addresses allowed to use admin endpoints",
});

/**
 * The optional settings: plain environment variables (`functions/.env`, deployed as the
 * functions' environment), not Firebase params, each defaulted where it is parsed (`shared/`,
 * `providers/settings.ts`). Declared as params they would make every deploy ask for them:
 * firebase-tools applies no param default without asking, and a non-interactive deploy stops on
 * each one missing from the dotenv file (`deploy/functions/params.js` resolveParams; the deploy
 * tests check it). Each is documented in `functions/.env.example`.
 */
export const OPTIONAL_VARIABLES = [
  // Scheduler alerts and insights (`shared/alert-config.ts`), /api/health (`shared/config.ts`).
  "SCHEDULER_ALERT_WEBHOOK_URL",
  "SCHEDULER_ALERT_FAILURE_THRESHOLD",
  "SCHEDULER_ALERT_THRESHOLDS",
  "SCHEDULER_ALERT_COOLDOWN_MINUTES",
  "SCHEDULER_ALERT_TIMEOUT_MS",
  "SCHEDULER_ALERT_RESOLVE_RUNS",
  "SCHEDULER_QUEUE_STUCK_MINUTES",
  "SCHEDULER_QUEUE_UNHEALTHY_MINUTES",
  "SCHEDULER_QUEUE_FAILED_WARNING",
  "STRIPE_API_BASE_URL",
  "HEALTH_CHECK_TIMEOUT_MS",
  // Per-platform overrides as JSON (`providers/settings.ts`).
  "PROVIDER_SETTINGS",
  // Failed-authentication monitoring and endpoint rate limits (`shared/rate-limit-config.ts`).
  "AUTH_FAILURE_THRESHOLD",
  "AUTH_FAILURE_WINDOW_SECONDS",
  "AUTH_FAILURE_BLOCK_SECONDS",
  "ENDPOINT_RATE_LIMITS",
  "TRUSTED_PROXY_HOPS",
] as const;

const requiredParams = [nextPublicAppUrl, adminEmails] as const;
/** Secrets: each must exist in Secret Manager before a deploy (`firebase functions:secrets:set`). */
export const secretParams = [
  integrationsCronSecret,
  integrationsCronSecretPrevious,
  stripeSecretKey,
  providerSecrets,
  tokenEncryptionKeys,
] as const;
/** Every Firebase param: what a deploy resolves. */
export const allParams = [...requiredParams, ...secretParams] as const;

/** The values that are not secrets: the required params and the optional variables. */
export const VARIABLE_NAMES: readonly string[] = [
  ...requiredParams.map((param) => param.name),
  ...OPTIONAL_VARIABLES,
];
export const SECRET_NAMES: readonly string[] = secretParams.map((param) => param.name);

/**
 * Splits configuration into what a Functions emulator run reads from `functions/.env` (the
 * variables given a value) and from `.secret.local` (every secret, never empty: the emulator
 * looks an empty one up in Secret Manager, so an unset one is "none", which the functions read
 * as absent). A required param without a value, or a name the functions do not read, throws.
 */
export function splitConfiguration(values: RawEnv): {
  variables: Record<string, string>;
  secrets: Record<string, string>;
} {
  const unknown = Object.keys(values).filter(
    (name) => !VARIABLE_NAMES.includes(name) && !SECRET_NAMES.includes(name),
  );
  if (unknown.length > 0) {
    throw new Error(`Not configuration of the functions (src/params.ts): ${unknown.join(", ")}`);
  }
  const variables: Record<string, string> = {};
  for (const name of VARIABLE_NAMES) {
    const value = values[name];
    if (value !== undefined) {
      variables[name] = value;
    }
  }
  const missing = requiredParams.filter((param) => !variables[param.name]);
  if (missing.length > 0) {
    throw new Error(`Required: ${missing.map((param) => param.name).join(", ")}`);
  }
  const secrets = Object.fromEntries(SECRET_NAMES.map((name) => [name, values[name] || "none"]));
  return { variables, secrets };
}

/**
 * The raw values of every parameter, read from the environment the Functions runtime fills in
 * (params and the secrets bound to the function). Call inside handlers only.
 */
export function readRawEnv(source: NodeJS.ProcessEnv = process.env): RawEnv {
  return Object.fromEntries(
    [...VARIABLE_NAMES, ...SECRET_NAMES].map((name) => [name, source[name]]),
  );
}
