/**
 * Scheduler alerting and queue-health thresholds (`scheduler/alerts.ts`, `scheduler/gauges.ts`,
 * `/api/health`), validated on first use; every issue names its variable:
 * - SCHEDULER_ALERT_WEBHOOK_URL: where alerts go (empty: no alerts, and no alert state is kept);
 * - SCHEDULER_ALERT_FAILURE_THRESHOLD: failures of one platform in one run that raise an alert;
 * - SCHEDULER_ALERT_THRESHOLDS: overrides per platform and per event type (operation), as JSON
 *   `{"providers":{"meta":5},"operations":{"process_queued_jobs":1}}`; see `failureThreshold`;
 * - SCHEDULER_ALERT_RESOLVE_RUNS: clean runs in a row that resolve a platform's failure incident;
 * - SCHEDULER_ALERT_COOLDOWN_MINUTES: repeats of a firing alert, and the opening of an incident
 *   that re-opens soon after the last message, are held back this long;
 * - SCHEDULER_ALERT_TIMEOUT_MS: how long one webhook delivery may take;
 * - SCHEDULER_QUEUE_STUCK_MINUTES: a due job waiting longer is a stuck queue (alert, and a health
 *   warning); SCHEDULER_QUEUE_UNHEALTHY_MINUTES: longer still makes /api/health answer 503;
 * - SCHEDULER_QUEUE_FAILED_WARNING: failed jobs in the last 24 hours that make a health warning.
 *
 * Lives in shared/ (not scheduler/) because params.ts declares these defaults, and importing the
 * entry point must not load the scheduler (see the cold-start test).
 */
import { z } from "zod";

import { PROVIDER_IDS, type ProviderId } from "../providers/types";
import {
  jsonObject,
  positiveIntString,
  type RawEnv,
  requireVariables,
  webhookUrl,
  wholeNumberInJson,
} from "./config";

/**
 * The scheduler's operations: each event's `operation`, and the event types thresholds name.
 * `process_job` is a platform queue's job run: it records an event only when it cannot start
 * (a crash of its configuration, `configured`), and its outcome reaches the alerts through the
 * sweep's window (`process_queued_jobs`).
 */
export const SCHEDULER_OPERATIONS = [
  "process_all_users",
  "schedule",
  "process_queued_jobs",
  "process_job",
  "process_user_jobs",
  "cleanup_old_jobs",
  "reset_stale_jobs",
] as const;
export type SchedulerOperation = (typeof SCHEDULER_OPERATIONS)[number];

/**
 * Defaults, applied where the variables are parsed. One reminder an hour keeps a long incident
 * visible without flooding the channel; 2 s is ample for Slack or Teams and keeps a dead webhook
 * from holding a run. The sweep runs every 5 minutes, so a due job waiting 30 minutes means
 * several sweeps did not reach it, and 2 hours means processing has stopped. 3 clean runs in a
 * row resolve a failure incident, so a platform that fails every other sweep stays one open
 * incident instead of flapping.
 */
export const ALERT_DEFAULTS = {
  SCHEDULER_ALERT_THRESHOLDS: "{}",
  SCHEDULER_ALERT_RESOLVE_RUNS: 3,
  SCHEDULER_ALERT_COOLDOWN_MINUTES: 60,
  SCHEDULER_ALERT_TIMEOUT_MS: 2_000,
  SCHEDULER_QUEUE_STUCK_MINUTES: 30,
  SCHEDULER_QUEUE_UNHEALTHY_MINUTES: 120,
  SCHEDULER_QUEUE_FAILED_WARNING: 25,
} as const;

const MAX_THRESHOLD = 1000;
const WEEK_MINUTES = 7 * 24 * 60;
const MAX_RESOLVE_RUNS = 100;

const threshold = wholeNumberInJson(MAX_THRESHOLD).optional();

const overridesSchema = z.strictObject({
  providers: z.partialRecord(z.enum(PROVIDER_IDS), threshold).optional(),
  operations: z.partialRecord(z.enum(SCHEDULER_OPERATIONS), threshold).optional(),
});

/** Valid keys per level of SCHEDULER_ALERT_THRESHOLDS, for the error message. */
const VALID_KEYS: Readonly<Record<string, readonly string[]>> = {
  "": ["providers", "operations"],
  providers: PROVIDER_IDS,
  operations: SCHEDULER_OPERATIONS,
};

export interface FailureThresholds {
  default: number;
  providers: Partial<Record<ProviderId, number>>;
  operations: Partial<Record<SchedulerOperation, number>>;
}

const overrides = jsonObject.transform((value, ctx) => {
  const parsed = overridesSchema.safeParse(value);
  if (parsed.success) {
    return parsed.data;
  }
  const problems = parsed.error.issues.flatMap((issue) => {
    const at = issue.path.join(".");
    return issue.code === "unrecognized_keys"
      ? issue.keys.map(
          (key) => `${at ? `${at}.` : ""}${key} (is not one of ${VALID_KEYS[at]?.join(", ")})`,
        )
      : [`${at} (${issue.message})`];
  });
  ctx.addIssue({ code: "custom", message: `has invalid thresholds: ${problems.join(", ")}` });
  return z.NEVER;
});

const alertConfigSchema = z
  .object({
    SCHEDULER_ALERT_WEBHOOK_URL: z.union([z.literal(""), webhookUrl]),
    SCHEDULER_ALERT_FAILURE_THRESHOLD: positiveIntString(MAX_THRESHOLD),
    SCHEDULER_ALERT_THRESHOLDS: overrides.default({}),
    SCHEDULER_ALERT_RESOLVE_RUNS: positiveIntString(MAX_RESOLVE_RUNS).default(
      ALERT_DEFAULTS.SCHEDULER_ALERT_RESOLVE_RUNS,
    ),
    SCHEDULER_ALERT_COOLDOWN_MINUTES: positiveIntString(WEEK_MINUTES).default(
      ALERT_DEFAULTS.SCHEDULER_ALERT_COOLDOWN_MINUTES,
    ),
    SCHEDULER_ALERT_TIMEOUT_MS: positiveIntString(30_000).default(
      ALERT_DEFAULTS.SCHEDULER_ALERT_TIMEOUT_MS,
    ),
    SCHEDULER_QUEUE_STUCK_MINUTES: positiveIntString(WEEK_MINUTES).default(
      ALERT_DEFAULTS.SCHEDULER_QUEUE_STUCK_MINUTES,
    ),
    SCHEDULER_QUEUE_UNHEALTHY_MINUTES: positiveIntString(WEEK_MINUTES).default(
      ALERT_DEFAULTS.SCHEDULER_QUEUE_UNHEALTHY_MINUTES,
    ),
    SCHEDULER_QUEUE_FAILED_WARNING: positiveIntString(1_000_000).default(
      ALERT_DEFAULTS.SCHEDULER_QUEUE_FAILED_WARNING,
    ),
  })
  .refine((raw) => raw.SCHEDULER_QUEUE_UNHEALTHY_MINUTES > raw.SCHEDULER_QUEUE_STUCK_MINUTES, {
    path: ["SCHEDULER_QUEUE_UNHEALTHY_MINUTES"],
    error: "must be greater than SCHEDULER_QUEUE_STUCK_MINUTES (the warning comes first)",
  })
  .transform((raw) => ({
    webhookUrl: raw.SCHEDULER_ALERT_WEBHOOK_URL || undefined,
    thresholds: {
      default: raw.SCHEDULER_ALERT_FAILURE_THRESHOLD,
      providers: raw.SCHEDULER_ALERT_THRESHOLDS.providers ?? {},
      operations: raw.SCHEDULER_ALERT_THRESHOLDS.operations ?? {},
    } satisfies FailureThresholds,
    resolveRuns: raw.SCHEDULER_ALERT_RESOLVE_RUNS,
    cooldownMs: raw.SCHEDULER_ALERT_COOLDOWN_MINUTES * 60_000,
    timeoutMs: raw.SCHEDULER_ALERT_TIMEOUT_MS,
    queue: {
      stuckMinutes: raw.SCHEDULER_QUEUE_STUCK_MINUTES,
      unhealthyMinutes: raw.SCHEDULER_QUEUE_UNHEALTHY_MINUTES,
      failedWarning: raw.SCHEDULER_QUEUE_FAILED_WARNING,
    },
  }));

export type AlertConfig = z.infer<typeof alertConfigSchema>;
export type QueueThresholds = AlertConfig["queue"];

/** The alert configuration, or a `ConfigError` naming each bad variable. */
export function requireAlertConfig(raw: RawEnv): AlertConfig {
  return requireVariables(alertConfigSchema, raw);
}

/**
 * The failures of `provider` in one `operation` run that raise an alert. The platform override
 * wins over the event-type override, which wins over SCHEDULER_ALERT_FAILURE_THRESHOLD: how
 * noisy a platform is holds whichever run meets it, while an event-type override sets the bar
 * for the platforms that have none (e.g. `process_queued_jobs: 1`: alert on the first job of a
 * sweep's window that failed for good). Only the runs that report platform failures use it:
 * `process_queued_jobs` (the sweep's window, the worker endpoint's batch) and
 * `process_user_jobs`; an override of another operation is accepted and has no effect.
 */
export function failureThreshold(
  thresholds: FailureThresholds,
  operation: SchedulerOperation,
  provider: ProviderId,
): number {
  return thresholds.providers[provider] ?? thresholds.operations[operation] ?? thresholds.default;
}
