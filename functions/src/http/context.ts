/**
 * What every sync endpoint shares: the request slice handlers read, their dependencies, and one
 * pipeline — method check (405), authentication (401/403, 429 for a source blocked after
 * failed attempts), the caller's rate limit (429), validation (400), then the work — with
 * every error answered through `respond.ts`. Handlers therefore always resolve to a
 * `JsonResponse`; the trigger wiring only sends it.
 */
import { randomUUID } from "node:crypto";

import type { Auth } from "firebase-admin/auth";
import type { Firestore } from "firebase-admin/firestore";

import { requireTokenKeys } from "../integrations/token-keys";
import type { DispatchDeps, TaskQueues } from "../jobs/dispatch";
import { DEFAULT_LEASE_MS } from "../jobs/lease";
import type { MetricsFetcher, ProcessDeps } from "../jobs/process";
import { configured, type OperationDeps, type OperationResult } from "../scheduler/operations";
import type { SchedulerOperation } from "../shared/alert-config";
import type { Clock } from "../shared/clock";
import type { RawEnv } from "../shared/config";
import { AppError } from "../shared/errors";
import type { Logger } from "../shared/logger";
import type { LimitedEndpoint } from "../shared/rate-limit-config";
import {
  type AccessRule,
  authenticate,
  type AuthFailureSpikeHook,
  type CallerByRule,
} from "./auth";
import { enforceRateLimit } from "./rate-limit";
import { errorResponse, type JsonResponse } from "./respond";

/** The slice of an Express request the handlers read. */
export interface HttpRequestLike {
  method: string;
  /** Lower-case header names, as Node delivers them. */
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The parsed JSON body (undefined when there was none). */
  body?: unknown;
  /** The parsed query string. */
  query?: unknown;
  /** The socket's remote address. */
  ip?: string;
}

export interface EndpointDeps {
  db: Firestore;
  auth: Auth;
  clock: Clock;
  logger: Logger;
  /** Raw parameter values (`readRawEnv()`); validated with `requireConfig` where needed. */
  env: RawEnv;
  /** How jobs run: the provider registry's fetch in production, a local function in tests. */
  process: { fetchMetrics: MetricsFetcher; leaseMs?: number };
  /** Where requeued jobs get their tasks (the stale reset): Cloud Tasks in production. */
  queues: TaskQueues;
  /** Alerting on source addresses blocked for failed authentication (`auth.ts`). */
  onAuthFailureSpike?: AuthFailureSpikeHook;
}

export type HttpMethod = "GET" | "POST" | "PATCH";

export type Handler = (req: HttpRequestLike, deps: EndpointDeps) => Promise<JsonResponse>;

export interface EndpointDefinition<Input, Rule extends AccessRule> {
  /**
   * Names the endpoint in logs and in the auth-failure counters; an endpoint that admits only
   * some callers must have a rate limit (`DEFAULT_ENDPOINT_LIMITS`), so its name is one of them.
   */
  name: Rule extends "public" ? string : LimitedEndpoint;
  method: HttpMethod;
  access: Rule;
  /** Validates the request (throws `invalid_argument`); runs before anything is written. */
  parse(req: HttpRequestLike): Input;
  run(input: Input, caller: CallerByRule[Rule], deps: EndpointDeps): Promise<JsonResponse>;
}

export function defineEndpoint<Input, Rule extends AccessRule>(
  definition: EndpointDefinition<Input, Rule>,
): Handler {
  return async (req, deps) => {
    const logger = deps.logger.child({ endpoint: definition.name });
    const scoped: EndpointDeps = { ...deps, logger };
    try {
      if (req.method !== definition.method) {
        throw new AppError(
          "method_not_allowed",
          `${definition.name} accepts ${definition.method} only`,
        );
      }
      const caller = await authenticate(req, definition.access, definition.name, scoped);
      // Before validation: malformed requests count too, or they could be sent without limit.
      await enforceRateLimit(scoped, definition.name, caller);
      const input = definition.parse(req);
      return await definition.run(input, caller, scoped);
    } catch (error) {
      const response = errorResponse(error, logger);
      return response.status === 405
        ? { ...response, headers: { ...response.headers, Allow: definition.method } }
        : response;
    }
  };
}

/**
 * The one response shape of the operation endpoints (cron, worker, schedule, process):
 * `{success: true, operation, counts: {queued, processed, succeeded, failed, retried, skipped},
 * errors: [{provider, code, count}], jobIds, details: {...operation-specific}, eventId,
 * durationMs}` — the scheduler event's figures, with `eventId` naming the event document.
 * `details` stays nested so that its keys (e.g. `skipped` reasons) never collide with `counts`.
 */
export const operationResponse = (result: OperationResult): JsonResponse => ({
  status: 200,
  body: { success: true, ...result },
});

/**
 * Platform requests of an endpoint's jobs stop this long after the request came: Hosting cuts
 * the response at 60 s, and the batch stops claiming at 45 s (`REQUEST_BUDGET_MS`).
 */
const ENDPOINT_RUN_BUDGET_MS = 50_000;

/**
 * Job-running dependencies for one invocation; the lease owner is unique per invocation. A bad
 * TOKEN_ENCRYPTION_KEYS is recorded as the run's crash event and answered as `misconfigured`.
 */
export const processDeps = async (
  deps: EndpointDeps,
  run: { operation: SchedulerOperation; source: string },
): Promise<ProcessDeps & OperationDeps & DispatchDeps> => ({
  db: deps.db,
  queues: deps.queues,
  clock: deps.clock,
  logger: deps.logger,
  env: deps.env,
  fetchMetrics: deps.process.fetchMetrics,
  leaseMs: deps.process.leaseMs ?? DEFAULT_LEASE_MS,
  deadline: new Date(deps.clock().getTime() + ENDPOINT_RUN_BUDGET_MS),
  owner: `${run.source}-${randomUUID()}`,
  // Parsed here, not for every endpoint: only the job-processing ones are bound to the keys.
  tokenKeys: await configured(deps, run.operation, run.source, () => requireTokenKeys(deps.env)),
});
