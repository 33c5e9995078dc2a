/**
 * HTTPS bindings: each export wires an `onRequest` function to a plain handler in `http/`, which
 * checks the method, authenticates, validates and answers (every outcome is a JSON response).
 * URLs come from the hosting rewrites in firebase.json (the local stack reads the same table).
 * Each function is bound only to the secrets it needs, and loads its handler module on first
 * use (see `deps.ts` on cold starts).
 */
import { onRequest } from "firebase-functions/https";

import type { EndpointDeps, Handler } from "../http/context";
import type { ResponseSink } from "../http/respond";
import { JOB_RUNNER_OPTIONS } from "../jobs/lease";
import {
  integrationsCronSecret,
  integrationsCronSecretPrevious,
  providerSecrets,
  readRawEnv,
  stripeSecretKey,
  tokenEncryptionKeys,
} from "../params";
import { systemClock } from "../shared/clock";
import { createLogger } from "../shared/logger";

// The Admin SDK's Firestore (a quarter of a second to load) and `deps.ts` load on the first
// request, not at import: an instance that serves one endpoint loads only its own trigger module
// (`index.ts`), and this one then stays as light as a bare `onRequest` module until it runs.
async function endpointDeps(): Promise<EndpointDeps> {
  const [{ getAuth }, { getFirestore }, { fetchMetrics, taskQueues }] = await Promise.all([
    import("firebase-admin/auth"),
    import("firebase-admin/firestore"),
    import("./deps"),
  ]);
  const base = {
    db: getFirestore(),
    clock: systemClock,
    logger: createLogger(),
    env: readRawEnv(),
  };
  return {
    ...base,
    auth: getAuth(),
    process: { fetchMetrics },
    queues: taskQueues,
    // A source blocked for repeated failed authentication raises the scheduler alert.
    onAuthFailureSpike: async (spike) => {
      const { reportAuthFailureSpike } = await import("../scheduler/alerts");
      await reportAuthFailureSpike(base, spike);
    },
  };
}

const serve =
  (load: () => Promise<Handler>) =>
  async (req: Parameters<Handler>[0], res: ResponseSink): Promise<void> => {
    const [handler, { send }, deps] = await Promise.all([
      load(),
      import("../http/respond"),
      endpointDeps(),
    ]);
    send(res, await handler(req, deps));
  };

const cronSecrets = [integrationsCronSecret, integrationsCronSecretPrevious];
/** What running jobs needs: the platforms' client secrets and the token keys. */
const jobSecrets = [providerSecrets, tokenEncryptionKeys];

// Health binds the secrets only to report whether they are set and valid (a bad token key would
// otherwise show only as every job failing); it never uses or returns them.
export const health = onRequest(
  { secrets: [integrationsCronSecret, stripeSecretKey, ...jobSecrets] },
  serve(async () => (await import("../http/health")).handleHealth),
);

export const integrationsCron = onRequest(
  { secrets: cronSecrets },
  serve(async () => (await import("../http/cron")).handleCron),
);

export const integrationsWorker = onRequest(
  { secrets: [...cronSecrets, ...jobSecrets], ...JOB_RUNNER_OPTIONS },
  serve(async () => (await import("../http/worker")).handleWorker),
);

export const integrationsSchedule = onRequest(
  { secrets: cronSecrets },
  serve(async () => (await import("../http/schedule")).handleSchedule),
);

export const integrationsProcess = onRequest(
  { secrets: [...cronSecrets, ...jobSecrets], ...JOB_RUNNER_OPTIONS },
  serve(async () => (await import("../http/process")).handleProcess),
);

export const integrationsStatus = onRequest(
  {},
  serve(async () => (await import("../http/status")).handleStatus),
);

export const integrationsAutomation = onRequest(
  {},
  serve(async () => (await import("../http/automation")).handleAutomation),
);

export const integrationsAccounts = onRequest(
  {},
  serve(async () => (await import("../http/accounts")).handleAccounts),
);
