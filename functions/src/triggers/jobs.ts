/**
 * The job trigger: each new `syncJobs` document gets its Cloud Task on its platform's queue
 * (`jobs/dispatch.ts`), which runs it within the platform's fleet-wide budget
 * (`triggers/tasks.ts`). Dispatching is idempotent — the task is named after the job's state, so
 * a duplicate delivery finds it already there — which is what makes `retry: true` safe: a
 * failed enqueue (Cloud Tasks busy) is redelivered by Eventarc with backoff for up to a day,
 * and the sweep dispatches whatever is still left after that.
 */
import { onDocumentCreated } from "firebase-functions/firestore";

import { providerSecrets, tokenEncryptionKeys } from "../params";
import { discoverAccounts, dispatchDeps, operationDeps } from "./deps";

export const processSyncJob = onDocumentCreated(
  { document: "syncJobs/{jobId}", retry: true },
  async (event) => {
    if (!event.data) {
      return;
    }
    const { dispatchSnapshot } = await import("../jobs/dispatch");
    const deps = dispatchDeps({ trigger: "processSyncJob", jobId: event.params.jobId });
    const outcome = await dispatchSnapshot(deps, event.data);
    deps.logger.info("job dispatched", { outcome });
  },
);

/**
 * A new integration's history and recent days (`backfill/connect.ts`). Idempotent, so
 * `retry: true`: a store that was busy is tried again by Eventarc.
 */
export const startBackfillOnConnect = onDocumentCreated(
  {
    document: "users/{userId}/integrations/{providerId}",
    retry: true,
    // Discovery calls the platform with the connection's tokens.
    secrets: [providerSecrets, tokenEncryptionKeys],
  },
  async (event) => {
    const { userId, providerId } = event.params;
    const [{ isProviderId }, { onIntegrationConnected }, { ADAPTERS }, { requireTokenKeys }] =
      await Promise.all([
        import("../integrations/model"),
        import("../backfill/connect"),
        import("../providers/registry"),
        import("../integrations/token-keys"),
      ]);
    const deps = operationDeps({ trigger: "startBackfillOnConnect", userId, providerId });
    if (!isProviderId(providerId)) {
      deps.logger.warn("integration of an unknown platform ignored", { providerId });
      return;
    }
    const outcome = await onIntegrationConnected(
      deps,
      { userId, providerId },
      ADAPTERS[providerId].history,
      { ...deps, discover: discoverAccounts, tokenKeys: requireTokenKeys(deps.env) },
    );
    deps.logger.info("integration connected", {
      discovery: outcome.discovery?.status,
      backfill: outcome.backfill.status,
      sync: outcome.sync.status,
    });
  },
);
