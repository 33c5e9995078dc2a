/**
 * The job trigger: each new `syncJobs` document is claimed and processed. Triggers are
 * at-least-once; a duplicate delivery loses the claim and does nothing. Retries live in the job
 * document (the sweep picks up requeued jobs), not in trigger redelivery, so `retry` stays off.
 * The lease outlasts the timeout (`jobs/lease.ts`), so a job is never reset while it runs.
 */
import { onDocumentCreated } from "firebase-functions/firestore";

import { JOB_TIMEOUT_SECONDS } from "../jobs/lease";
import { providerSecrets, tokenEncryptionKeys } from "../params";
import { processDeps } from "./deps";

export const processSyncJob = onDocumentCreated(
  {
    document: "syncJobs/{jobId}",
    retry: false,
    timeoutSeconds: JOB_TIMEOUT_SECONDS,
    secrets: [providerSecrets, tokenEncryptionKeys],
  },
  async (event) => {
    const { jobId } = event.params;
    const providerId = String(event.data?.get("providerId") ?? "unknown");
    const { processCreatedJobOperation } = await import("../scheduler/operations");
    const run = { operation: "process_job", source: "trigger" } as const;
    const deps = await processDeps({ trigger: "processSyncJob" }, run);
    await processCreatedJobOperation(deps, jobId, providerId);
  },
);
