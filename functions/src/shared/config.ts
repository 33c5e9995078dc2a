/**
 * Configuration: the raw parameter values (see `params.ts`) validated with zod on first use.
 * A wrong or missing value fails with a message that names the variable and says what is
 * expected; a missing cron secret never means "accept anything".
 */
import { z } from "zod";

import { parseProviderSettings, type ProviderSettings } from "../providers/settings";

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
const webhookUrl = httpUrl.refine(
  (value) => {
    const url = new URL(value);
    return url.protocol === "https:" || isLoopbackHost(url.hostname);
  },
  { error: "must be an https URL (http is accepted only for localhost)" },
);

const positiveIntString = (max: number) =>
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

const jsonObject = z.string().transform((value, ctx) => {
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

/** Per-platform settings with the secret fields merged in; both validated as one. */
function mergeProviderSettings(
  settings: Record<string, Record<string, unknown>>,
  secrets: Record<string, Record<string, unknown>>,
): ProviderSettings {
  const merged: Record<string, Record<string, unknown>> = { ...settings };
  for (const [provider, values] of Object.entries(secrets)) {
    merged[provider] = { ...merged[provider], ...values };
  }
  return parseProviderSettings(merged);
}

const configSchema = z.object({
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
  PROVIDER_SETTINGS: jsonObject,
  PROVIDER_SECRETS: jsonObject,
});

export type Config = Omit<
  z.infer<typeof configSchema>,
  "PROVIDER_SETTINGS" | "PROVIDER_SECRETS"
> & {
  providers: ProviderSettings;
};

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

/** Validates raw variables. Never echoes a value: issues name variables only. */
export function parseConfig(raw: RawEnv): ConfigResult {
  const input = withDefaults(raw);
  const missing = REQUIRED_VARIABLES.filter((name) => input[name] === undefined);
  const parsed = configSchema.safeParse(input);
  if (parsed.success) {
    const { PROVIDER_SETTINGS, PROVIDER_SECRETS, ...rest } = parsed.data;
    try {
      return {
        ok: true,
        config: { ...rest, providers: mergeProviderSettings(PROVIDER_SETTINGS, PROVIDER_SECRETS) },
      };
    } catch (error) {
      // Name the fields, never the values: PROVIDER_SECRETS holds client secrets.
      const fields =
        error instanceof z.ZodError
          ? error.issues.map((issue) => `${issue.path.join(".")} (${issue.message})`).join(", ")
          : "unreadable";
      return {
        ok: false,
        missing: [],
        issues: [
          { variable: "PROVIDER_SETTINGS", message: `has invalid platform settings: ${fields}` },
        ],
      };
    }
  }
  const issues = parsed.error.issues.map((issue) => {
    const variable = String(issue.path[0] ?? "configuration");
    const message = missing.includes(variable as (typeof REQUIRED_VARIABLES)[number])
      ? "is required but not set"
      : issue.message;
    return { variable, message };
  });
  return { ok: false, issues, missing };
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
