/**
 * Entry point: global options, lazy Admin SDK initialisation, and the exported functions.
 * Nothing here does I/O at import time (the CLI loads this module during deploy discovery).
 */
import { getApps, initializeApp } from "firebase-admin/app";
import { onInit } from "firebase-functions";
import { setGlobalOptions } from "firebase-functions/options";

import { REGION } from "./params";

setGlobalOptions({ region: REGION, maxInstances: 10 });
onInit(() => {
  // Idempotent: the local stack and tests may have initialised the default app already.
  if (getApps().length === 0) {
    initializeApp();
  }
});

export * from "./triggers/http";
export * from "./triggers/jobs";
export * from "./triggers/scheduled";
