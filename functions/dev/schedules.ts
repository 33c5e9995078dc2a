/**
 * Cloud Scheduler for the local stack: the Functions emulator loads scheduled functions but never
 * runs them on their cron, so a minute clock invokes each one whose declared expression matches,
 * in its declared time zone. The schedules are read from the built functions' own declarations
 * (`__endpoint.scheduleTrigger`), so nothing here names a function.
 */
import { createRequire } from "node:module";
import { join } from "node:path";

import { type CronMatcher, parseCron } from "./cron";

export interface ScheduledFunction {
  id: string;
  region: string;
  schedule: string;
  timeZone: string;
  matches: CronMatcher;
}

interface EndpointLike {
  region?: unknown;
  scheduleTrigger?: { schedule?: unknown; timeZone?: unknown };
}

const endpointOf = (value: unknown): EndpointLike | undefined =>
  typeof value === "function"
    ? ((value as { __endpoint?: EndpointLike }).__endpoint ?? undefined)
    : undefined;

/** The built functions (`functions/lib/index.js`): export name → function. */
export function loadBuiltFunctions(functionsDir: string): Record<string, unknown> {
  return createRequire(__filename)(join(functionsDir, "lib", "index.js")) as Record<
    string,
    unknown
  >;
}

/** Export names of everything the module deploys (what the emulator must load). */
export function deployedIds(functionsModule: Record<string, unknown>): string[] {
  return Object.keys(functionsModule).filter((name) => endpointOf(functionsModule[name]));
}

export function readSchedules(functionsModule: Record<string, unknown>): ScheduledFunction[] {
  const scheduled: ScheduledFunction[] = [];
  for (const [id, value] of Object.entries(functionsModule)) {
    const endpoint = endpointOf(value);
    const schedule = endpoint?.scheduleTrigger?.schedule;
    if (typeof schedule !== "string") {
      continue;
    }
    const timeZone = endpoint?.scheduleTrigger?.timeZone;
    const zone = typeof timeZone === "string" && timeZone ? timeZone : "UTC";
    const region = Array.isArray(endpoint?.region) ? String(endpoint.region[0]) : "us-central1";
    const matchesUtc = parseCron(schedule);
    scheduled.push({
      id,
      region,
      schedule,
      timeZone: zone,
      matches: (date) => matchesUtc(wallClock(date, zone)),
    });
  }
  return scheduled;
}

/**
 * The wall-clock time of `date` in `timeZone`, as a Date whose UTC fields carry it, so that the
 * UTC cron matcher evaluates an expression in that zone (as Cloud Scheduler does).
 */
export function wallClock(date: Date, timeZone: string): Date {
  if (timeZone === "UTC") {
    return date;
  }
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
    })
      .formatToParts(date)
      .map((part) => [part.type, Number(part.value)]),
  ) as Record<"year" | "month" | "day" | "hour" | "minute", number>;
  return new Date(Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute));
}

export interface ScheduleClock {
  stop(): void;
}

/** Calls `invoke` at the start of every minute for each function whose schedule matches it. */
export function startScheduleClock(
  scheduled: readonly ScheduledFunction[],
  invoke: (fn: ScheduledFunction, scheduleTime: Date) => void,
): ScheduleClock {
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    timer = setTimeout(
      () => {
        const now = new Date();
        now.setUTCSeconds(0, 0);
        for (const fn of scheduled.filter((entry) => entry.matches(now))) {
          invoke(fn, now);
        }
        arm();
      },
      60_000 - (Date.now() % 60_000),
    );
  };
  arm();
  return { stop: () => clearTimeout(timer) };
}

/**
 * Invokes a scheduled function through the Functions emulator, with the headers Cloud Scheduler
 * sends (firebase-functions turns them into the event's `jobName` and `scheduleTime`). Resolves
 * to the HTTP status: 200 when the handler finished, 500 when it threw.
 */
export async function invokeScheduled(
  url: string,
  fn: Pick<ScheduledFunction, "id">,
  scheduleTime: Date,
): Promise<{ status: number; body: string }> {
  const response = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-cloudscheduler-jobname": `local-${fn.id}`,
      "x-cloudscheduler-scheduletime": scheduleTime.toISOString(),
    },
    body: "{}",
  });
  return { status: response.status, body: await response.text() };
}
