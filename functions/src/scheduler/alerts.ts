/**
 * Scheduler alerts, posted to SCHEDULER_ALERT_WEBHOOK_URL (Slack or Microsoft Teams). Conditions,
 * each with its own state document `admin/scheduler/alerts/{key}`:
 * - `failures.<platform>`: a platform's failures in one run reach its threshold
 *   (`failureThreshold`: platform override, else event-type override, else the global default).
 *   A trigger run (`process_job`) holds one job, so there the platform's consecutive failed runs
 *   count. Clears when a run reaches the platform without a failure; runs with fewer failures than
 *   the threshold change nothing, so a half-broken platform does not flap.
 * - `queue.backlog`: the oldest due job has waited SCHEDULER_QUEUE_STUCK_MINUTES (measured after
 *   every sweep and stale reset); clears when it has not.
 * - `queue.stale`: running jobs with an expired lease exist; clears when none does.
 * - `auth.failure_spike`: reported by the authentication code (`reportAuthFailureSpike`); clears
 *   after a cooldown without a new report (checked by every sweep).
 *
 * One incident is one message: the first breach alerts, repeats within
 * SCHEDULER_ALERT_COOLDOWN_MINUTES are suppressed (a reminder after it), and the first clear sends
 * a recovery message. Each transition is a transaction, so two instances never both send; the
 * message is posted after the commit, bounded by SCHEDULER_ALERT_TIMEOUT_MS, and a delivery that
 * fails is returned for the run's event and retried at the next breach — it never fails the run.
 * Without a webhook URL nothing is evaluated and no state is kept.
 */
import { type DocumentReference, Timestamp } from "firebase-admin/firestore";
import { z } from "zod";

import type { StoreDeps } from "../jobs/store";
import { PROVIDER_IDS, type ProviderId } from "../providers/types";
import {
  type AlertConfig,
  failureThreshold,
  requireAlertConfig,
  type SchedulerOperation,
} from "../shared/alert-config";
import type { RawEnv } from "../shared/config";
import type { Logger } from "../shared/logger";
import { type ErrorGroup, EVENTS_COLLECTION } from "./events";
import type { QueueGauges } from "./gauges";

export const ALERTS_COLLECTION = "admin/scheduler/alerts";
const AUTH_SPIKE_KEY = "auth.failure_spike";

const PLATFORM_NAMES: Readonly<Record<ProviderId, string>> = {
  google: "Google Ads",
  meta: "Meta Ads",
  linkedin: "LinkedIn Ads",
  tiktok: "TikTok Ads",
};

const AUTH_SPIKE_TITLE = "Failed authentication spike";

// ---------------------------------------------------------------------------------------------
// Conditions and their state

interface Condition {
  /** The state document's id. */
  key: string;
  /** Names the condition in every message of the incident. */
  title: string;
}

/** What one run (or one report) says about one condition. */
export type Observation = Condition &
  (
    | {
        kind: "failures";
        failures: number;
        /** The run reached the platform and nothing failed there. */
        clean: boolean;
        /** Single-job runs: failures add up across runs until a clean one. */
        consecutive: boolean;
        threshold: number;
        detail: (count: number) => string;
        resolution: string;
      }
    | {
        kind: "level";
        value: number;
        threshold: number;
        detail: (value: number) => string;
        resolution: string;
      }
    | { kind: "report"; detail: () => string }
    | { kind: "quiet"; resolution: string }
  );

const date = z.instanceof(Timestamp).transform((timestamp) => timestamp.toDate());

const alertStateSchema = z.object({
  title: z.string(),
  status: z.enum(["firing", "ok"]),
  /** Consecutive failed single-job runs (the `process_job` count). */
  streak: z.number().int().min(0),
  /** When the current incident began; null when not firing. */
  since: date.nullable(),
  /** The last alert or reminder claimed for delivery in this incident; null when none was. */
  lastNotifiedAt: date.nullable(),
  lastBreachAt: date.nullable(),
  lastDetail: z.string(),
  updatedAt: date,
});
export type AlertState = z.infer<typeof alertStateSchema>;

const toDocument = (state: AlertState) => {
  const stamp = (value: Date | null) => (value === null ? null : Timestamp.fromDate(value));
  return {
    ...state,
    since: stamp(state.since),
    lastNotifiedAt: stamp(state.lastNotifiedAt),
    lastBreachAt: stamp(state.lastBreachAt),
    updatedAt: Timestamp.fromDate(state.updatedAt),
  };
};

export type AlertAction = "alert" | "reminder" | "recovery";

export type Decision =
  | { action: "none" }
  /** State changes without a message (a streak, a suppressed report, a silent clear). */
  | { action: "record"; next: AlertState }
  | {
      action: "alert" | "reminder";
      next: AlertState;
      text: string;
      /** `lastNotifiedAt` to put back if the delivery fails, so the next breach retries it. */
      restoreNotifiedAt: Date | null;
    }
  | { action: "recovery"; next: AlertState; text: string };

const PREFIX = "[Cohorts sync]";

const elapsedMinutes = (from: Date, to: Date): number =>
  Math.floor((to.getTime() - from.getTime()) / 60_000);

interface Verdict {
  breach: boolean;
  clear: boolean;
  streak: number;
  detail: string;
  resolution: string;
}

function judge(
  state: AlertState | undefined,
  observation: Observation,
  now: Date,
  cooldownMs: number,
): Verdict {
  const streak = state?.streak ?? 0;
  switch (observation.kind) {
    case "failures": {
      const { resolution } = observation;
      if (observation.clean) {
        return { breach: false, clear: true, streak: 0, detail: "", resolution };
      }
      const count = observation.consecutive ? streak + observation.failures : observation.failures;
      return {
        breach: count >= observation.threshold,
        clear: false,
        streak: observation.consecutive ? count : streak,
        detail: observation.detail(count),
        resolution,
      };
    }
    case "level": {
      const breach = observation.value >= observation.threshold;
      const detail = observation.detail(observation.value);
      return { breach, clear: !breach, streak, detail, resolution: observation.resolution };
    }
    case "report":
      return { breach: true, clear: false, streak, detail: observation.detail(), resolution: "" };
    case "quiet": {
      const lastBreach = state?.lastBreachAt?.getTime();
      const quiet = lastBreach !== undefined && now.getTime() - lastBreach >= cooldownMs;
      return {
        breach: false,
        clear: quiet,
        streak,
        detail: "",
        resolution: observation.resolution,
      };
    }
  }
}

/**
 * The state machine of one condition, pure: what `observation` does to `state` at `now`.
 * Exported for the unit tests; `evaluateAlerts` applies it in a transaction.
 */
export function decide(
  state: AlertState | undefined,
  observation: Observation,
  now: Date,
  cooldownMs: number,
): Decision {
  const verdict = judge(state, observation, now, cooldownMs);
  const firing = state?.status === "firing";
  if (verdict.breach) {
    const breached = {
      title: observation.title,
      status: "firing" as const,
      streak: verdict.streak,
      lastBreachAt: now,
      lastDetail: verdict.detail,
      updatedAt: now,
    };
    const alertText = `${PREFIX} ALERT: ${observation.title}. ${verdict.detail}`;
    if (!state || !firing) {
      return {
        action: "alert",
        next: { ...breached, since: now, lastNotifiedAt: now },
        text: alertText,
        restoreNotifiedAt: null,
      };
    }
    const since = state.since ?? now;
    const notified = state.lastNotifiedAt;
    if (notified === null || now.getTime() - notified.getTime() >= cooldownMs) {
      return {
        action: notified === null ? "alert" : "reminder",
        next: { ...breached, since, lastNotifiedAt: now },
        text:
          notified === null
            ? alertText
            : `${PREFIX} STILL FIRING since ${since.toISOString()}: ${observation.title}. ${verdict.detail}`,
        restoreNotifiedAt: notified,
      };
    }
    // Within the cooldown: suppressed. Reports are rare and must keep the incident open
    // (it clears after a quiet cooldown), so they record the breach; run-based conditions do
    // not write at all, which keeps a platform outage from contending on one document.
    return observation.kind === "report"
      ? { action: "record", next: { ...state, ...breached, since } }
      : { action: "none" };
  }
  if (verdict.clear && state && firing) {
    const next: AlertState = {
      ...state,
      status: "ok",
      streak: 0,
      since: null,
      lastNotifiedAt: null,
      updatedAt: now,
    };
    // An incident whose alert never got through ends silently: a lone "resolved" confuses.
    if (state.lastNotifiedAt === null) {
      return { action: "record", next };
    }
    const began = state.since ?? now;
    return {
      action: "recovery",
      next,
      text: `${PREFIX} RESOLVED: ${state.title}. ${verdict.resolution} (firing since ${began.toISOString()}, ${elapsedMinutes(began, now)} min).`,
    };
  }
  if (verdict.streak !== (state?.streak ?? 0)) {
    const base: AlertState = state ?? {
      title: observation.title,
      status: "ok",
      streak: 0,
      since: null,
      lastNotifiedAt: null,
      lastBreachAt: null,
      lastDetail: "",
      updatedAt: now,
    };
    return { action: "record", next: { ...base, streak: verdict.streak, updatedAt: now } };
  }
  return { action: "none" };
}

// ---------------------------------------------------------------------------------------------
// Delivery

/** The webhook answered, with an error status. */
class WebhookRefused extends Error {}

/**
 * Posts `{"text": …}`, the one payload both webhooks accept: Slack's incoming webhooks
 * (https://api.slack.com/messaging/webhooks, "Send a message": `{"text": "Hello, world."}`) and
 * Microsoft Teams' Incoming Webhook connector (learn.microsoft.com/microsoftteams/platform/
 * webhooks-and-connectors/how-to/connectors-using, "Post a message to the webhook using cURL":
 * `{"text": "Hello World"}`). Teams "Workflows" webhooks take Adaptive Cards only; their flow must
 * post the request's `text` (see the README). Redirects are refused: a webhook does not move.
 */
async function postToWebhook(url: string, text: string, timeoutMs: number): Promise<void> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ text }),
    redirect: "error",
    signal: AbortSignal.timeout(timeoutMs),
  });
  // Read to the end (still under the timeout) so the connection is released.
  await response.arrayBuffer();
  if (!response.ok) {
    throw new WebhookRefused(`the webhook answered HTTP ${response.status}`);
  }
}

/**
 * The failure in a few words. Never the URL: a Slack or Teams webhook URL is itself a credential,
 * and fetch's messages may quote it.
 */
function describeDeliveryError(error: unknown, timeoutMs: number): string {
  if (error instanceof WebhookRefused) {
    return error.message;
  }
  // fetch's errors (DOMException, TypeError) may come from another realm: read them by shape.
  const { name, cause } = (error ?? {}) as { name?: unknown; cause?: { code?: unknown } };
  if (name === "TimeoutError" || name === "AbortError") {
    return `timed out after ${timeoutMs} ms`;
  }
  return typeof cause?.code === "string" ? `could not connect (${cause.code})` : "delivery failed";
}

// ---------------------------------------------------------------------------------------------
// Evaluation

export interface AlertDelivery {
  key: string;
  action: AlertAction;
  delivered: boolean;
  error?: string;
}

/** What alerting did in a run, for its event's `alerts`. */
export type AlertsReport = { deliveries: AlertDelivery[] } | { error: string };

interface AlertContext extends StoreDeps {
  logger: Logger;
  config: AlertConfig;
  webhookUrl: string;
}

const alertRef = (deps: StoreDeps, key: string): DocumentReference =>
  deps.db.collection(ALERTS_COLLECTION).doc(key);

const readState = (data: unknown): AlertState | undefined =>
  data === undefined ? undefined : alertStateSchema.parse(data);

async function settle(
  ctx: AlertContext,
  ref: DocumentReference,
  current: AlertState | undefined,
  observation: Observation,
): Promise<AlertDelivery | undefined> {
  const now = ctx.clock();
  const { cooldownMs, timeoutMs } = ctx.config;
  // Most runs change nothing: decided on the plain read, without a transaction.
  if (decide(current, observation, now, cooldownMs).action === "none") {
    return undefined;
  }
  const decision = await ctx.db.runTransaction(async (tx) => {
    const snapshot = await tx.get(ref);
    const decided = decide(readState(snapshot.data()), observation, now, cooldownMs);
    if (decided.action !== "none") {
      tx.set(ref, toDocument(decided.next));
    }
    return decided;
  });
  if (decision.action === "none" || decision.action === "record") {
    return undefined;
  }
  const logger = ctx.logger.child({ alert: observation.key, action: decision.action });
  try {
    await postToWebhook(ctx.webhookUrl, decision.text, timeoutMs);
    logger.info("scheduler alert delivered");
    return { key: observation.key, action: decision.action, delivered: true };
  } catch (error) {
    const reason = describeDeliveryError(error, timeoutMs);
    logger.warn("scheduler alert not delivered", { reason });
    if (decision.action !== "recovery") {
      const restore = decision.restoreNotifiedAt;
      await ref
        .update({ lastNotifiedAt: restore === null ? null : Timestamp.fromDate(restore) })
        .catch((restoreError: unknown) => {
          // The incident then waits for its reminder: late, but never lost for good.
          logger.error("could not re-arm an undelivered alert", {
            errorMessage: restoreError instanceof Error ? restoreError.message : "unknown",
          });
        });
    }
    return { key: observation.key, action: decision.action, delivered: false, error: reason };
  }
}

/** Applies each observation to its condition; deliveries run in parallel, each time-bounded. */
async function evaluateAlerts(
  ctx: AlertContext,
  observations: readonly Observation[],
): Promise<AlertDelivery[]> {
  if (observations.length === 0) {
    return [];
  }
  const refs = observations.map((observation) => alertRef(ctx, observation.key));
  const snapshots = await ctx.db.getAll(...refs);
  const deliveries = await Promise.all(
    observations.map((observation, index) =>
      settle(ctx, refs[index]!, readState(snapshots[index]?.data()), observation),
    ),
  );
  return deliveries.filter((delivery): delivery is AlertDelivery => delivery !== undefined);
}

export interface AlertDeps extends StoreDeps {
  logger: Logger;
  /** Raw parameters; the alert variables are validated here, on use. */
  env: RawEnv;
}

/**
 * Runs `build` and evaluates what it observed, when a webhook is configured. Never throws: a bad
 * configuration or a Firestore error is logged and returned for the event, not raised into the
 * run it reports on.
 */
async function withAlerts(
  deps: AlertDeps,
  build: (config: AlertConfig) => Observation[],
): Promise<AlertsReport | undefined> {
  try {
    const config = requireAlertConfig(deps.env);
    if (config.webhookUrl === undefined) {
      return undefined;
    }
    const deliveries = await evaluateAlerts(
      { ...deps, config, webhookUrl: config.webhookUrl },
      build(config),
    );
    return deliveries.length > 0 ? { deliveries } : undefined;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    deps.logger.error("scheduler alerts could not be evaluated", { errorMessage: message });
    return { error: message };
  }
}

// ---------------------------------------------------------------------------------------------
// What runs observe

/** The figures of one finished run that alerting looks at. */
export interface RunOutline {
  operation: SchedulerOperation;
  source: string;
  eventId: string;
  errors: readonly ErrorGroup[];
  /** Platforms the run called (whether or not the call failed). */
  reached: readonly ProviderId[];
  /** Measured after the sweep and the stale reset. */
  queue?: QueueGauges;
  /** Stale jobs the run itself found (the stale reset): gone from the gauges, still an incident. */
  staleFound?: number;
}

const isProviderId = (value: string): value is ProviderId =>
  (PROVIDER_IDS as readonly string[]).includes(value);

function failureObservations(config: AlertConfig, run: RunOutline): Observation[] {
  const failing = run.errors.map((group) => group.provider).filter(isProviderId);
  const platforms = [...new Set([...failing, ...run.reached])];
  const event = `Event ${EVENTS_COLLECTION}/${run.eventId}.`;
  return platforms.map((provider) => {
    const groups = run.errors.filter((group) => group.provider === provider);
    const failures = groups.reduce((sum, group) => sum + group.count, 0);
    const classes = groups.map((group) => `${group.code} ×${group.count}`).join(", ");
    const threshold = failureThreshold(config.thresholds, run.operation, provider);
    const consecutive = run.operation === "process_job";
    return {
      kind: "failures",
      key: `failures.${provider}`,
      title: `${PLATFORM_NAMES[provider]} sync failures`,
      failures,
      clean: failures === 0,
      consecutive,
      threshold,
      detail: (count) =>
        consecutive
          ? `${count} failed ${run.operation} run(s) in a row (threshold ${threshold}); the last: ${classes}. ${event}`
          : `${count} failures in one ${run.operation} run from ${run.source} (threshold ${threshold}): ${classes}. ${event}`,
      resolution: `A ${run.operation} run reached ${PLATFORM_NAMES[provider]} without a failure`,
    };
  });
}

function queueObservations(config: AlertConfig, run: RunOutline): Observation[] {
  const { queue } = run;
  if (!queue) {
    return [];
  }
  const { stuckMinutes } = config.queue;
  const waited =
    queue.oldestDueAgeSeconds === null ? 0 : Math.floor(queue.oldestDueAgeSeconds / 60);
  const stale = Math.max(queue.stale, run.staleFound ?? 0);
  return [
    {
      kind: "level",
      key: "queue.backlog",
      title: "Sync queue stuck",
      value: waited,
      threshold: stuckMinutes,
      detail: (minutes) =>
        `The oldest due job (${queue.oldestDueJobId ?? "?"}) has waited ${minutes} min (threshold ${stuckMinutes} min); ${queue.queued} queued, ${queue.running} running. Seen by ${run.operation}.`,
      resolution: `No due job has waited ${stuckMinutes} min any more`,
    },
    {
      kind: "level",
      key: "queue.stale",
      title: "Stale running jobs",
      value: stale,
      threshold: 1,
      detail: (count) =>
        `${count} running job(s) had an expired lease: their worker died or timed out${run.operation === "reset_stale_jobs" ? "; this reset re-queued or failed them" : "; reset_stale_jobs re-queues them hourly"}.`,
      resolution: "No running job has an expired lease",
    },
  ];
}

/**
 * Alerts for one finished run: its failures per platform, the queue when it was measured, and
 * (in the sweep, every 5 minutes) whether a failed-authentication spike has gone quiet.
 */
export function evaluateRunAlerts(
  deps: AlertDeps,
  run: RunOutline,
): Promise<AlertsReport | undefined> {
  return withAlerts(deps, (config) => [
    ...failureObservations(config, run),
    ...queueObservations(config, run),
    ...(run.operation === "process_queued_jobs"
      ? [
          {
            kind: "quiet" as const,
            key: AUTH_SPIKE_KEY,
            title: AUTH_SPIKE_TITLE,
            resolution: `No new spike for ${config.cooldownMs / 60_000} min`,
          },
        ]
      : []),
  ]);
}

/** A source address blocked for failing authentication too often (`http/auth.ts`). */
export interface AuthFailureSpike {
  /** The source address as the auth code saw it (client-influenced: sanitised before use). */
  source: string;
  endpoint: string;
  /** Failed attempts counted in the window. */
  failures: number;
  windowSeconds: number;
  /** How long the source now gets 429. */
  blockedSeconds: number;
}

/** Addresses only: anything else a client put in X-Forwarded-For never reaches the channel. */
const sanitiseSource = (source: string): string =>
  source.replace(/[^0-9A-Za-z.:[\]/_-]/g, "?").slice(0, 64);

/**
 * Reports a failed-authentication spike: one alert per incident, whichever sources and instances
 * report it; further spikes within the cooldown are recorded, not sent; the incident resolves
 * after a cooldown without a report. Call it when a source crosses the block threshold; it never
 * throws and takes at most about SCHEDULER_ALERT_TIMEOUT_MS. Never pass the presented key or token.
 */
export function reportAuthFailureSpike(
  deps: AlertDeps,
  spike: AuthFailureSpike,
): Promise<AlertsReport | undefined> {
  return withAlerts(deps, () => [
    {
      kind: "report",
      key: AUTH_SPIKE_KEY,
      title: AUTH_SPIKE_TITLE,
      detail: () =>
        `${spike.failures} failed attempts from ${sanitiseSource(spike.source)} on ${sanitiseSource(spike.endpoint)} within ${spike.windowSeconds} s; that source gets 429 for ${spike.blockedSeconds} s.`,
    },
  ]);
}
