/**
 * Scheduler alerts, posted to SCHEDULER_ALERT_WEBHOOK_URL (Slack or Microsoft Teams). Conditions,
 * each with its own state document `admin/scheduler/alerts/{key}`:
 * - `failures.<platform>`: a platform's failures in one run reach its threshold
 *   (`failureThreshold`: platform override, else event-type override, else the global default).
 *   Job outcomes reach it through runs of many jobs only. The platform queues' job runs evaluate
 *   nothing, so no job run writes this shared state: the scheduled sweep (`process_queued_jobs`,
 *   every 5 minutes) reports the jobs that finished in its window — their terminal failures by
 *   platform and code, and the platforms where one succeeded (`outcomes.ts`) — as one run. The
 *   worker and process endpoints, which run jobs inline, report their batch's own failures. It
 *   resolves after SCHEDULER_ALERT_RESOLVE_RUNS runs in a row (of any operation) reach the
 *   platform without a failure; any failed run while it is open starts that count again.
 * - `queue.backlog`: the oldest due job has waited SCHEDULER_QUEUE_STUCK_MINUTES (measured after
 *   every sweep and stale reset); clears when it has not.
 * - `queue.stale`: running jobs with an expired lease exist; clears when none does.
 * - `auth.failure_spike`: reported by the authentication code (`reportAuthFailureSpike`); clears
 *   after a cooldown without a new report (checked by every sweep).
 *
 * One incident is one message: the first breach alerts, repeats within
 * SCHEDULER_ALERT_COOLDOWN_MINUTES are suppressed (a reminder after it), and the clear sends a
 * recovery message. The cooldown also spans incidents: one that opens within the cooldown of the
 * condition's last alert or reminder opens silently, sends its alert at the first breach after
 * the cooldown if it still holds, and resolves silently if it ends before. Each transition is a
 * transaction, so two instances never both send; the message is posted after the commit, bounded
 * by SCHEDULER_ALERT_TIMEOUT_MS, and a delivery that fails is returned for the run's event and
 * retried at the next breach — it never fails the run. Without a webhook URL nothing is evaluated
 * and no state is kept.
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
        /** A run's failures of one platform: a batch's own, or the jobs of the sweep's window. */
        kind: "failures";
        failures: number;
        /** The run reached the platform and nothing failed there. */
        clean: boolean;
        threshold: number;
        /** Clean runs in a row that resolve the incident. */
        resolveRuns: number;
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
  /** When the current incident began; null when not firing. */
  since: date.nullable(),
  /**
   * The last alert or reminder claimed for delivery, in this incident or an earlier one: the
   * cooldown runs from it across incidents. Null when none was.
   */
  lastNotifiedAt: date.nullable(),
  /** This incident's alert was claimed (false while it opened within the cooldown). */
  announced: z.boolean(),
  lastBreachAt: date.nullable(),
  lastDetail: z.string(),
  /** Runs in a row that reached the platform without a failure while firing. */
  cleanRuns: z.number().int().min(0),
  updatedAt: date,
});
export type AlertState = z.infer<typeof alertStateSchema>;

/**
 * Earlier code judged the one-job trigger runs over a window of them: its documents may hold
 * that window (`runs`) or, older still, `streak`. Both counted trigger runs, which no longer
 * exist, so they are dropped (unknown fields are not kept, and the next write leaves them out).
 * The oldest documents also lack `announced` and `cleanRuns`, and cleared `lastNotifiedAt` on
 * resolution: a firing incident was announced when its alert had been claimed.
 */
const storedStateSchema = z.preprocess((data) => {
  if (typeof data !== "object" || data === null || "announced" in data) {
    return data;
  }
  const rest = data as Record<string, unknown>;
  return {
    ...rest,
    announced: rest.status === "firing" && rest.lastNotifiedAt instanceof Timestamp,
    cleanRuns: 0,
  };
}, alertStateSchema);

/** Reads a state document, migrating one written by earlier code. Exported for the unit tests. */
export const parseAlertState = (data: unknown): AlertState | undefined =>
  data === undefined ? undefined : storedStateSchema.parse(data);

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
  /** State changes, no message (a clean run, a silent opening or clear, a suppressed report). */
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

/** What an observation does to a condition, before the messages are decided. */
interface Verdict {
  breach: boolean;
  clear: boolean;
  /** Tracking fields that change; undefined when none does. */
  track?: Pick<AlertState, "cleanRuns">;
  detail: string;
  resolution: string;
}

/**
 * While an incident is open, only runs in a row without a failure count; a failed run starts
 * over (and is no write when nothing was counted, so an outage does not contend on the document).
 */
function countClean(
  cleanRuns: number,
  clean: boolean,
  resolveRuns: number,
): Pick<Verdict, "clear" | "track"> {
  if (clean) {
    return cleanRuns + 1 >= resolveRuns
      ? { clear: true }
      : { clear: false, track: { cleanRuns: cleanRuns + 1 } };
  }
  return { clear: false, ...(cleanRuns > 0 ? { track: { cleanRuns: 0 } } : {}) };
}

function judge(
  state: AlertState | undefined,
  observation: Observation,
  now: Date,
  cooldownMs: number,
): Verdict {
  switch (observation.kind) {
    case "failures": {
      const { failures, threshold, resolution } = observation;
      const detail = observation.detail(failures);
      if (state?.status !== "firing") {
        return { breach: failures >= threshold, clear: false, detail, resolution };
      }
      const counted = countClean(state.cleanRuns, observation.clean, observation.resolveRuns);
      return { breach: failures >= threshold, ...counted, detail, resolution };
    }
    case "level": {
      const breach = observation.value >= observation.threshold;
      const detail = observation.detail(observation.value);
      return { breach, clear: !breach, detail, resolution: observation.resolution };
    }
    case "report":
      return { breach: true, clear: false, detail: observation.detail(), resolution: "" };
    case "quiet": {
      const lastBreach = state?.lastBreachAt?.getTime();
      const quiet = lastBreach !== undefined && now.getTime() - lastBreach >= cooldownMs;
      return { breach: false, clear: quiet, detail: "", resolution: observation.resolution };
    }
  }
}

const freshState = (title: string, now: Date): AlertState => ({
  title,
  status: "ok",
  since: null,
  lastNotifiedAt: null,
  announced: false,
  lastBreachAt: null,
  lastDetail: "",
  cleanRuns: 0,
  updatedAt: now,
});

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
  const base = state ?? freshState(observation.title, now);
  const firing = base.status === "firing";
  if (verdict.breach) {
    const since = firing ? (base.since ?? now) : now;
    const breached: AlertState = {
      ...base,
      title: observation.title,
      status: "firing",
      since,
      cleanRuns: firing ? (verdict.track?.cleanRuns ?? base.cleanRuns) : 0,
      lastBreachAt: now,
      lastDetail: verdict.detail,
      updatedAt: now,
    };
    const notified = base.lastNotifiedAt;
    if (notified === null || now.getTime() - notified.getTime() >= cooldownMs) {
      const reminder = firing && base.announced;
      return {
        action: reminder ? "reminder" : "alert",
        next: { ...breached, announced: true, lastNotifiedAt: now },
        text: reminder
          ? `${PREFIX} STILL FIRING since ${since.toISOString()}: ${observation.title}. ${verdict.detail}`
          : `${PREFIX} ALERT: ${observation.title}. ${verdict.detail}`,
        restoreNotifiedAt: notified,
      };
    }
    // Within the cooldown: an opening is recorded without a message (its alert follows at the
    // first breach after the cooldown). Reports are rare and must keep the incident open (it
    // clears after a quiet cooldown), so they record the breach; run-based repeats write only
    // what they track, which keeps a platform outage from contending on one document.
    if (!firing || verdict.track !== undefined || observation.kind === "report") {
      return { action: "record", next: { ...breached, announced: firing && base.announced } };
    }
    return { action: "none" };
  }
  if (verdict.clear && firing) {
    const next: AlertState = {
      ...base,
      status: "ok",
      since: null,
      announced: false,
      cleanRuns: 0,
      updatedAt: now,
    };
    // An incident whose alert never went out ends silently: a lone "resolved" confuses.
    if (!base.announced) {
      return { action: "record", next };
    }
    const began = base.since ?? now;
    return {
      action: "recovery",
      next,
      text: `${PREFIX} RESOLVED: ${base.title}. ${verdict.resolution} (firing since ${began.toISOString()}, ${elapsedMinutes(began, now)} min).`,
    };
  }
  if (verdict.track !== undefined) {
    return { action: "record", next: { ...base, ...verdict.track, updatedAt: now } };
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

async function settle(
  ctx: AlertContext,
  ref: DocumentReference,
  current: AlertState | undefined,
  observation: Observation,
): Promise<AlertDelivery | undefined> {
  const now = ctx.clock();
  const { cooldownMs, timeoutMs } = ctx.config;
  // Most runs change nothing: decided on the plain read, without a transaction. A concurrent
  // change the read missed costs at most that run's tally (e.g. one clean run counted across a
  // failure); every message is still decided in the transaction.
  if (decide(current, observation, now, cooldownMs).action === "none") {
    return undefined;
  }
  const decision = await ctx.db.runTransaction(async (tx) => {
    const snapshot = await tx.get(ref);
    const decided = decide(parseAlertState(snapshot.data()), observation, now, cooldownMs);
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
        .update({
          lastNotifiedAt: restore === null ? null : Timestamp.fromDate(restore),
          // A reminder's incident had been announced; an alert's had not.
          announced: decision.action === "reminder",
        })
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
      settle(ctx, refs[index]!, parseAlertState(snapshots[index]?.data()), observation),
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
 * A one-off notice (a connection about to expire): posted once to the webhook, with no incident
 * to track. `undefined` when no webhook is configured; never throws (a failure is returned, and
 * the caller tries again on its next run).
 */
export async function sendNotice(
  deps: AlertDeps,
  key: string,
  text: string,
): Promise<AlertDelivery | undefined> {
  try {
    const config = requireAlertConfig(deps.env);
    if (config.webhookUrl === undefined) {
      return undefined;
    }
    await postToWebhook(config.webhookUrl, `${PREFIX} ${text}`, config.timeoutMs);
    deps.logger.info("notice delivered", { alert: key });
    return { key, action: "alert", delivered: true };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    deps.logger.warn("notice not delivered", { alert: key, reason: message });
    return { key, action: "alert", delivered: false, error: message };
  }
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
  /** A batch's failed attempts, or the sweep's: the terminal failures of its window's jobs. */
  errors: readonly ErrorGroup[];
  /**
   * Platforms the run reached: those a batch called (whether or not the call failed), or where
   * a job of the sweep's window succeeded.
   */
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
  const { resolveRuns } = config;
  return platforms.map((provider): Observation => {
    const groups = run.errors.filter((group) => group.provider === provider);
    const failures = groups.reduce((sum, group) => sum + group.count, 0);
    const classes = groups.map((group) => `${group.code} ×${group.count}`).join(", ");
    const threshold = failureThreshold(config.thresholds, run.operation, provider);
    const name = PLATFORM_NAMES[provider];
    return {
      kind: "failures",
      key: `failures.${provider}`,
      title: `${name} sync failures`,
      failures,
      clean: failures === 0,
      threshold,
      resolveRuns,
      detail: (count) =>
        `${count} failures in one ${run.operation} run from ${run.source} (threshold ${threshold}): ${classes}. ${event}`,
      resolution:
        resolveRuns === 1
          ? `A ${run.operation} run reached ${name} without a failure`
          : `${resolveRuns} runs in a row reached ${name} without a failure, the last a ${run.operation} run`,
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
