/**
 * GET /api/health. Overall status is `unhealthy` (HTTP 503) when Firestore does not answer a
 * read within the timeout, a required variable is missing or invalid, or the queue check is
 * `error` (its gauges cannot be read, or the oldest due job has waited
 * SCHEDULER_QUEUE_UNHEALTHY_MINUTES): in each case no data is being kept fresh. A queue `warning`
 * (a stuck or stale queue, many recent failures: see `scheduler/gauges.ts`) is reported with its
 * reasons but keeps 200 — someone should look, and nothing restarts or reroutes for it. Stripe is
 * not used by the sync; when `STRIPE_SECRET_KEY` is set its reachability is reported for the
 * dashboard's operators but does not change the overall status. Check results name variables,
 * never their values, and no job or user id.
 */
import type { AxiosInstance } from "axios";
import axios from "axios";
import type { Firestore } from "firebase-admin/firestore";

import { requireTokenKeys, TOKEN_KEYS_VARIABLE } from "../integrations/token-keys";
import { assessQueue, type QueueGauges, readQueueGauges } from "../scheduler/gauges";
import { type AlertConfig, requireAlertConfig } from "../shared/alert-config";
import {
  CONFIG_DEFAULTS,
  ConfigError,
  parseConfig,
  type RawEnv,
  requireProviderSettings,
} from "../shared/config";
import { requireRateLimitConfig } from "../shared/rate-limit-config";
import { withTimeout } from "../shared/timeout";
import { packageVersion } from "../shared/version";
import { defineEndpoint } from "./context";
import type { JsonResponse } from "./respond";

export interface HealthDeps {
  db: Firestore;
  http: AxiosInstance;
  env: RawEnv;
  /** Milliseconds since the epoch (injected so tests control time). */
  now: () => number;
  /** Seconds this instance has been up. */
  uptimeSeconds: () => number;
  version: string;
}

type CheckStatus = "ok" | "error" | "not_configured";

interface Check {
  status: CheckStatus;
  responseTime?: number;
  error?: string;
}

interface EnvironmentCheck {
  status: "ok" | "error";
  missing?: string[];
  invalid?: string[];
}

type QueueCheck = Omit<Check, "status"> &
  Partial<Omit<QueueGauges, "oldestDueJobId">> & {
    status: "ok" | "warning" | "error";
    reasons?: string[];
  };

/** The names of the variables `read` refuses (none when it accepts them). */
function invalidVariables(read: () => unknown): string[] {
  try {
    read();
    return [];
  } catch (error) {
    if (!(error instanceof ConfigError)) {
      throw error;
    }
    return error.issues.map((issue) => issue.variable);
  }
}

/** The alert and queue thresholds, or the defaults and the names of the bad variables. */
function alertConfigOf(env: RawEnv): { config: AlertConfig; invalid: string[] } {
  const invalid = invalidVariables(() => requireAlertConfig(env));
  return { config: requireAlertConfig(invalid.length === 0 ? env : {}), invalid };
}

async function queueCheck(deps: HealthDeps, timeoutMs: number, config: AlertConfig) {
  let gauges: QueueGauges | undefined;
  const read = await timed(deps.now, timeoutMs, async () => {
    gauges = await readQueueGauges(deps.db, new Date(deps.now()));
  });
  if (read.status !== "ok" || !gauges) {
    return { ...read, status: "error" } satisfies QueueCheck;
  }
  const { status, reasons } = assessQueue(gauges, config.queue);
  // Job ids stay out: a scheduled job's id names its user, and this endpoint is public.
  const { oldestDueJobId: _omitted, ...figures } = gauges;
  return {
    status,
    responseTime: read.responseTime,
    ...figures,
    ...(reasons.length > 0 ? { reasons } : {}),
  } satisfies QueueCheck;
}

const describeError = (error: unknown): string =>
  error instanceof Error ? (error.message.split("\n")[0] ?? error.name) : "unknown error";

async function timed(
  now: () => number,
  timeoutMs: number,
  probe: () => Promise<void>,
): Promise<Check> {
  const start = now();
  try {
    await withTimeout(probe(), timeoutMs);
    return { status: "ok", responseTime: now() - start };
  } catch (error) {
    return { status: "error", responseTime: now() - start, error: describeError(error) };
  }
}

export async function checkHealth(deps: HealthDeps): Promise<JsonResponse> {
  const start = deps.now();
  const parsed = parseConfig(deps.env);
  const timeoutMs = parsed.ok
    ? parsed.config.HEALTH_CHECK_TIMEOUT_MS
    : Number(CONFIG_DEFAULTS.HEALTH_CHECK_TIMEOUT_MS);

  const alerting = alertConfigOf(deps.env);
  // The job-processing configuration too: a bad key would otherwise show only as every job
  // failing. Health is bound to these secrets to validate them; it never returns their values.
  const keysMissing = !deps.env[TOKEN_KEYS_VARIABLE];
  const missing: string[] = [
    ...(parsed.ok ? [] : parsed.missing),
    ...(keysMissing ? [TOKEN_KEYS_VARIABLE] : []),
  ];
  const invalid = [
    ...new Set([
      ...(parsed.ok ? [] : parsed.issues.map((issue) => issue.variable)),
      ...alerting.invalid,
      ...invalidVariables(() => requireRateLimitConfig(deps.env)),
      ...invalidVariables(() => requireProviderSettings(deps.env)),
      ...(keysMissing ? [] : invalidVariables(() => requireTokenKeys(deps.env))),
    ]),
  ].filter((name) => !missing.includes(name));
  const environment: EnvironmentCheck =
    missing.length === 0 && invalid.length === 0
      ? { status: "ok" }
      : { status: "error", missing, invalid };

  const stripeKey = parsed.ok ? parsed.config.STRIPE_SECRET_KEY : deps.env.STRIPE_SECRET_KEY;
  const stripeBase = parsed.ok
    ? parsed.config.STRIPE_API_BASE_URL
    : CONFIG_DEFAULTS.STRIPE_API_BASE_URL;

  const [firebase, stripe, queue] = await Promise.all([
    timed(deps.now, timeoutMs, async () => {
      // A real round trip: a point read of a server-only document.
      await deps.db.collection("admin").doc("health").get();
    }),
    stripeKey
      ? timed(deps.now, timeoutMs, async () => {
          await deps.http.get(`${stripeBase}/v1/balance`, {
            headers: { Authorization: `Bearer ${stripeKey}` },
            timeout: timeoutMs,
          });
        })
      : Promise.resolve<Check>({ status: "not_configured" }),
    queueCheck(deps, timeoutMs, alerting.config),
  ]);

  const healthy =
    firebase.status === "ok" && environment.status === "ok" && queue.status !== "error";
  return {
    status: healthy ? 200 : 503,
    body: {
      status: healthy ? "healthy" : "unhealthy",
      timestamp: new Date(start).toISOString(),
      uptime: Math.round(deps.uptimeSeconds()),
      responseTime: deps.now() - start,
      checks: { firebase, stripe, environment, queue },
      version: deps.version,
    },
  };
}

/** GET /api/health: no authentication, no input. */
export const handleHealth = defineEndpoint({
  name: "health",
  method: "GET",
  access: "public",
  parse: () => undefined,
  run: (_input, _caller, deps) =>
    checkHealth({
      db: deps.db,
      http: axios.create(),
      env: deps.env,
      now: () => deps.clock().getTime(),
      uptimeSeconds: () => process.uptime(),
      version: packageVersion(),
    }),
});
