/**
 * GET /api/health. Overall status is `unhealthy` (HTTP 503) when Firestore does not answer a
 * read within the timeout or a required variable is missing or invalid: without either, no sync
 * can run. Stripe is not used by the sync; when `STRIPE_SECRET_KEY` is set its reachability is
 * reported for the dashboard's operators but does not change the overall status. Check results
 * name variables, never their values.
 */
import type { AxiosInstance } from "axios";
import axios from "axios";
import type { Firestore } from "firebase-admin/firestore";

import { CONFIG_DEFAULTS, parseConfig, type RawEnv } from "../shared/config";
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

  const environment: EnvironmentCheck = parsed.ok
    ? { status: "ok" }
    : {
        status: "error",
        missing: parsed.missing,
        invalid: parsed.issues
          .map((issue) => issue.variable)
          .filter((name) => !parsed.missing.includes(name as never)),
      };

  const stripeKey = parsed.ok ? parsed.config.STRIPE_SECRET_KEY : deps.env.STRIPE_SECRET_KEY;
  const stripeBase = parsed.ok
    ? parsed.config.STRIPE_API_BASE_URL
    : CONFIG_DEFAULTS.STRIPE_API_BASE_URL;

  const [firebase, stripe] = await Promise.all([
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
  ]);

  const healthy = firebase.status === "ok" && environment.status === "ok";
  return {
    status: healthy ? 200 : 503,
    body: {
      status: healthy ? "healthy" : "unhealthy",
      timestamp: new Date(start).toISOString(),
      uptime: Math.round(deps.uptimeSeconds()),
      responseTime: deps.now() - start,
      checks: { firebase, stripe, environment },
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
