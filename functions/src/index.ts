/**
 * Entry point: global options, lazy Admin SDK initialisation, and the exported functions.
 * Nothing here does I/O at import time (the CLI loads this module during deploy discovery).
 */
import { getApps, initializeApp } from "firebase-admin/app";
import { onInit } from "firebase-functions";
import { setGlobalOptions } from "firebase-functions/options";

import { REGION } from "./params";

const DEFAULT_APP_NAME = "[DEFAULT]";

setGlobalOptions({ region: REGION, maxInstances: 10 });
onInit(() => {
  // Look for the default app by name, not by count: firebase-functions creates a named app of
  // its own (to decode Firestore events) before onInit runs, so `getApps().length` is already 1.
  if (!getApps().some((app) => app.name === DEFAULT_APP_NAME)) {
    initializeApp();
  }
});

export * from "./triggers/http";
export * from "./triggers/jobs";
export * from "./triggers/scheduled";
