/**
 * HTTPS bindings: each export wires an `onRequest` function to a plain handler in `http/`, which
 * checks the method, authenticates, validates and answers (every outcome is a JSON response).
 * URLs come from the hosting rewrites in firebase.json (the local stack reads the same table).
 * Each function is bound only to the secrets it needs.
 */
import { getAuth } from "firebase-admin/auth";
import { getFirestore } from "firebase-admin/firestore";
import { onRequest } from "firebase-functions/https";

import { handleAutomation } from "../http/automation";
import type { EndpointDeps, Handler } from "../http/context";
import { handleCron } from "../http/cron";
import { handleHealth } from "../http/health";
import { handleProcess } from "../http/process";
import { send } from "../http/respond";
import { handleSchedule } from "../http/schedule";
import { handleStatus } from "../http/status";
import { handleWorker } from "../http/worker";
import {
  integrationsCronSecret,
  integrationsCronSecretPrevious,
  providerSecrets,
  readRawEnv,
  stripeSecretKey,
} from "../params";
import { systemClock } from "../shared/clock";
import { createLogger } from "../shared/logger";
import { providerRuntime } from "./deps";

function endpointDeps(): EndpointDeps {
  return {
    db: getFirestore(),
    auth: getAuth(),
    clock: systemClock,
    logger: createLogger(),
    env: readRawEnv(),
    // Built on first use: only the worker and process endpoints call the platforms.
    process: { fetchMetrics: (providerId, request) => providerRuntime()(providerId, request) },
  };
}

const serve =
  (handler: Handler) =>
  async (req: Parameters<Handler>[0], res: Parameters<typeof send>[0]): Promise<void> => {
    send(res, await handler(req, endpointDeps()));
  };

const cronSecrets = [integrationsCronSecret, integrationsCronSecretPrevious];
const JOB_TIMEOUT_SECONDS = 540;

// Health binds the secrets only to report whether they are set; it never uses or returns them.
export const health = onRequest(
  { secrets: [integrationsCronSecret, stripeSecretKey] },
  serve(handleHealth),
);

export const integrationsCron = onRequest({ secrets: cronSecrets }, serve(handleCron));

export const integrationsWorker = onRequest(
  { secrets: [...cronSecrets, providerSecrets], timeoutSeconds: JOB_TIMEOUT_SECONDS },
  serve(handleWorker),
);

export const integrationsSchedule = onRequest({ secrets: cronSecrets }, serve(handleSchedule));

export const integrationsProcess = onRequest(
  { secrets: [...cronSecrets, providerSecrets], timeoutSeconds: JOB_TIMEOUT_SECONDS },
  serve(handleProcess),
);

export const integrationsStatus = onRequest({}, serve(handleStatus));

export const integrationsAutomation = onRequest({}, serve(handleAutomation));
