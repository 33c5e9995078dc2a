/**
 * Entry point: global options, the Admin SDK's default app (created by onInit, before the first
 * invocation), and the exported functions. Nothing here does I/O at import time (the CLI loads
 * this module during deploy discovery).
 *
 * Cold starts (`bench/cold-start.bench.ts`): a deployed instance serves the one function the
 * runtime names in FUNCTION_TARGET, so only the trigger module that declares it loads at import
 * — the Firestore trigger's SDK alone takes a quarter of a second to load. Every other export is
 * a getter that loads its module when read (the emulator's debug mode serves every function from
 * one process). Without FUNCTION_TARGET (deploy discovery, tests, tools) every module loads here.
 */
import { getApps, initializeApp } from "firebase-admin/app";
// Not the package root, which loads every trigger family (the Firestore and Database SDKs too).
import { onInit } from "firebase-functions/core";
import { setGlobalOptions } from "firebase-functions/options";

import { REGION } from "./params";
import type * as Http from "./triggers/http";
import type * as Jobs from "./triggers/jobs";
import type * as Scheduled from "./triggers/scheduled";
import type * as Tasks from "./triggers/tasks";

const DEFAULT_APP_NAME = "[DEFAULT]";

setGlobalOptions({ region: REGION, maxInstances: 10 });
// firebase-admin/app stays a static import: firebase-functions loads it anyway for every trigger
// kind but the scheduled one, and the end-to-end tests load each instance's modules in a registry
// of their own, which a lazy import here would miss.
onInit(() => {
  // Look for the default app by name, not by count: firebase-functions creates a named app of
  // its own (to decode Firestore events) before onInit runs, so `getApps().length` is already 1.
  if (!getApps().some((app) => app.name === DEFAULT_APP_NAME)) {
    initializeApp();
  }
});

const functions = {} as typeof Http & typeof Jobs & typeof Scheduled & typeof Tasks;

/** A trigger module's exports, as getters of `functions`; the compiler checks `names` is all. */
function triggers<M extends object>(load: () => M, names: { [K in keyof NoInfer<M>]: true }) {
  let loaded: M | undefined;
  const exports = () => (loaded ??= load());
  for (const name of Object.keys(names)) {
    const get = () => exports()[name as keyof M];
    Object.defineProperty(functions, name, { enumerable: true, get });
  }
  return { names: Object.keys(names), load: exports };
}

/* eslint-disable @typescript-eslint/no-require-imports -- a getter cannot await import() */
const modules = [
  triggers(() => require("./triggers/http") as typeof Http, {
    health: true,
    integrationsCron: true,
    integrationsWorker: true,
    integrationsSchedule: true,
    integrationsProcess: true,
    integrationsStatus: true,
    integrationsAutomation: true,
    integrationsAccounts: true,
  }),
  triggers(() => require("./triggers/jobs") as typeof Jobs, {
    processSyncJob: true,
    startBackfillOnConnect: true,
  }),
  triggers(() => require("./triggers/scheduled") as typeof Scheduled, {
    scheduledEnqueue: true,
    sweepQueuedJobs: true,
    cleanupOldJobs: true,
    resetStaleJobs: true,
  }),
  triggers(() => require("./triggers/tasks") as typeof Tasks, {
    runSyncJobGoogle: true,
    runSyncJobMeta: true,
    runSyncJobLinkedin: true,
    runSyncJobTiktok: true,
    runBackfillGoogle: true,
    runBackfillMeta: true,
    runBackfillLinkedin: true,
    runBackfillTiktok: true,
  }),
];
/* eslint-enable @typescript-eslint/no-require-imports */

const target = process.env.FUNCTION_TARGET;
const serving = modules.filter(({ names }) => target !== undefined && names.includes(target));
for (const { load } of serving.length > 0 ? serving : modules) {
  load();
}

export = functions;
