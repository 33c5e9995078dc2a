/**
 * Configuration: the raw parameter values (see `params.ts`) validated with zod on first use.
 * A wrong or missing value fails with a message that names the variable and says what is
 * expected; a missing cron secret never means "accept anything".
 */
import { z } from "zod";

import { type ProviderSettings, providerSettingsSchema } from "../providers/settings";

/** Defaults applied when a variable is unset or empty (also declared on the Firebase params). */
export const CONFIG_DEFAULTS = {
  SCHEDULER_ALERT_WEBHOOK_URL: "",
  SCHEDULER_ALERT_FAILURE_THRESHOLD: "3",
  STRIPE_API_BASE_URL: "https://api.stripe.com",
  HEALTH_CHECK_TIMEOUT_MS: "3000",
  PROVIDER_SETTINGS: "{}",
  PROVIDER_SECRETS: "{}",
} as const;

/** Variables without which the service cannot do its job; /api/health lists those missing. */
export const REQUIRED_VARIABLES = [
  "INTEGRATIONS_CRON_SECRET",
  "NEXT_PUBLIC_APP_URL",
  "ADMIN_EMAILS",
] as const;

export type RawEnv = Readonly<Record<string, string | undefined>>;

const MIN_SECRET_LENGTH = 16;

const isLoopbackHost = (host: string): boolean =>
  host === "localhost" || host === "[::1]" || /^127(\.\d{1,3}){3}$/.test(host);

const httpUrl = z.url({ protocol: /^https?$/, error: "must be an http(s) URL" });

/** https anywhere; plain http only to a loopback host (local runs). */
export const webhookUrl = httpUrl.refine(
  (value) => {
    const url = new URL(value);
    return url.protocol === "https:" || isLoopbackHost(url.hostname);
  },
  { error: "must be an https URL (http is accepted only for localhost)" },
);

/** A whole number from 1 to `max`, given as a string (every numeric variable). */
export const positiveIntString = (max: number) =>
  z
    .string()
    .regex(/^\d+$/, { error: `must be a whole number from 1 to ${max}` })
    .transform(Number)
    .pipe(
      z
        .number()
        .int()
        .min(1, { error: "must be at least 1" })
        .max(max, { error: `must be at most ${max}` }),
    );

/** A whole number from 1 to `max` inside a JSON variable, with messages that say so. */
export const wholeNumberInJson = (max: number) =>
  z
    .number({ error: "must be a number" })
    .int({ error: "must be a whole number" })
    .min(1, { error: "must be at least 1" })
    .max(max, { error: `must be at most ${max}` });

const emailList = z
  .string()
  .transform((value) =>
    value
      .split(",")
      .map((email) => email.trim().toLowerCase())
      .filter((email) => email.length > 0),
  )
  .pipe(
    z
      .array(z.email({ error: "must be a comma-separated list of e-mail addresses" }))
      .min(1, { error: "must name at least one e-mail address" }),
  );

/** A variable holding a JSON object; the issue says so without echoing the value. */
export const jsonObject = z.string().transform((value, ctx) => {
  try {
    const parsed: unknown = JSON.parse(value);
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) {
      return parsed as Record<string, Record<string, unknown>>;
    }
  } catch {
    // reported below
  }
  ctx.addIssue({ code: "custom", message: "must be a JSON object" });
  return z.NEVER;
});

/**
 * Per-platform settings with the secret fields merged in, validated as one. Issues name the
 * fields, never the values: PROVIDER_SECRETS holds client secrets.
 */
function toProviderSettings(
  input: {
    PROVIDER_SETTINGS: Record<string, Record<string, unknown>>;
    PROVIDER_SECRETS: Record<string, Record<string, unknown>>;
  },
  ctx: z.RefinementCtx,
): ProviderSettings {
  const merged: Record<string, Record<string, unknown>> = { ...input.PROVIDER_SETTINGS };
  for (const [provider, values] of Object.entries(input.PROVIDER_SECRETS)) {
    merged[provider] = { ...merged[provider], ...values };
  }
  const parsed = providerSettingsSchema.safeParse(merged);
  if (parsed.success) {
    return parsed.data;
  }
  const fields = parsed.error.issues
    .map((issue) => `${issue.path.join(".")} (${issue.message})`)
    .join(", ");
  ctx.addIssue({
    code: "custom",
    path: ["PROVIDER_SETTINGS"],
    message: `has invalid platform settings: ${fields}`,
  });
  return z.NEVER;
}

const providerFields = { PROVIDER_SETTINGS: jsonObject, PROVIDER_SECRETS: jsonObject };

const providerConfigSchema = z.object(providerFields).transform(toProviderSettings);

const configSchema = z
  .object({
    INTEGRATIONS_CRON_SECRET: z.string().min(MIN_SECRET_LENGTH, {
      error: `must be at least ${MIN_SECRET_LENGTH} characters (generate one with: node -e "console.log(require('crypto').randomBytes(32).toString('hex'))")`,
    }),
    INTEGRATIONS_CRON_SECRET_PREVIOUS: z
      .string()
      .min(MIN_SECRET_LENGTH, { error: `must be at least ${MIN_SECRET_LENGTH} characters` })
      .optional(),
    NEXT_PUBLIC_APP_URL: httpUrl,
    ADMIN_EMAILS: emailList,
    SCHEDULER_ALERT_WEBHOOK_URL: z.union([z.literal(""), webhookUrl]),
    SCHEDULER_ALERT_FAILURE_THRESHOLD: positiveIntString(1000),
    STRIPE_SECRET_KEY: z.string().optional(),
    STRIPE_API_BASE_URL: httpUrl,
    HEALTH_CHECK_TIMEOUT_MS: positiveIntString(60_000),
    ...providerFields,
  })
  .transform(({ PROVIDER_SETTINGS, PROVIDER_SECRETS, ...rest }, ctx) => ({
    ...rest,
    providers: toProviderSettings({ PROVIDER_SETTINGS, PROVIDER_SECRETS }, ctx),
  }));

export type Config = z.infer<typeof configSchema>;

export interface ConfigIssue {
  variable: string;
  message: string;
}

export type ConfigResult =
  { ok: true; config: Config } | { ok: false; issues: ConfigIssue[]; missing: string[] };

/**
 * Unset and empty values count as absent, so that defaults apply to both. An optional secret
 * that must exist for deploy (STRIPE_SECRET_KEY) may be set to "none" to mean absent.
 */
const withDefaults = (raw: RawEnv): Record<string, string | undefined> => {
  const present = Object.fromEntries(
    Object.entries(raw).filter(
      ([, value]) => value !== undefined && value !== "" && value !== "none",
    ),
  );
  return { ...CONFIG_DEFAULTS, ...present };
};

function parseWith<T>(
  schema: z.ZodType<T, unknown>,
  raw: RawEnv,
  required: readonly string[],
): { ok: true; value: T } | { ok: false; issues: ConfigIssue[]; missing: string[] } {
  const input = withDefaults(raw);
  const missing = required.filter((name) => input[name] === undefined);
  const parsed = schema.safeParse(input);
  if (parsed.success) {
    return { ok: true, value: parsed.data };
  }
  const issues = parsed.error.issues.map((issue) => {
    const variable = String(issue.path[0] ?? "configuration");
    return {
      variable,
      message: missing.includes(variable) ? "is required but not set" : issue.message,
    };
  });
  return { ok: false, issues, missing };
}

/** Validates raw variables. Never echoes a value: issues name variables only. */
export function parseConfig(raw: RawEnv): ConfigResult {
  const result = parseWith(configSchema, raw, REQUIRED_VARIABLES);
  return result.ok ? { ok: true, config: result.value } : result;
}

/**
 * Only the platform settings, for functions that call the platforms but have no business with
 * the cron secret or admin list (least privilege: they are not bound to those secrets).
 */
export function requireProviderSettings(raw: RawEnv): ProviderSettings {
  return requireVariables(providerConfigSchema, raw);
}

/**
 * The variables one module owns (its schema keyed by variable name), with the defaults above,
 * or a `ConfigError` naming each bad or missing one.
 */
export function requireVariables<T>(
  schema: z.ZodType<T, unknown>,
  raw: RawEnv,
  required: readonly string[] = [],
): T {
  const result = parseWith(schema, raw, required);
  if (!result.ok) {
    throw new ConfigError(result.issues);
  }
  return result.value;
}

/** A configuration error whose message lists each offending variable and what it expects. */
export class ConfigError extends Error {
  constructor(readonly issues: ConfigIssue[]) {
    super(
      `Invalid configuration: ${issues.map((issue) => `${issue.variable} ${issue.message}`).join("; ")}`,
    );
    this.name = "ConfigError";
  }
}

/** Parses the configuration or throws a `ConfigError` naming every bad variable. */
export function requireConfig(raw: RawEnv): Config {
  const result = parseConfig(raw);
  if (!result.ok) {
    throw new ConfigError(result.issues);
  }
  return result.config;
}
