/**
 * The job trigger: each new `syncJobs` document is claimed and processed. Triggers are
 * at-least-once; a duplicate delivery loses the claim and does nothing. Retries live in the job
 * document (the sweep picks up requeued jobs), not in trigger redelivery, so `retry` stays off.
 * The lease (30 min) outlasts the timeout (9 min), so a job is never reset while it runs.
 */
import { onDocumentCreated } from "firebase-functions/firestore";

import { providerSecrets, tokenEncryptionKeys } from "../params";
import { processDeps } from "./deps";

export const processSyncJob = onDocumentCreated(
  {
    document: "syncJobs/{jobId}",
    retry: false,
    timeoutSeconds: 540,
    secrets: [providerSecrets, tokenEncryptionKeys],
  },
  async (event) => {
    const { jobId } = event.params;
    const providerId = String(event.data?.get("providerId") ?? "unknown");
    const { processCreatedJobOperation } = await import("../scheduler/operations");
    await processCreatedJobOperation(processDeps({ trigger: "processSyncJob" }), jobId, providerId);
  },
);
