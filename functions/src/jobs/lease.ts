/**
 * Job leases. Every function that runs jobs (the job trigger, the sweep, the worker and process
 * endpoints) has this timeout, and the Functions runtime ends an invocation at its timeout, so a
 * lease of the timeout plus a minute (for clock skew between instances) never expires under a
 * live worker. A worker that died is then recovered by the stale reset, which runs every five
 * minutes, within 15 minutes of its claim — the guide's "30 minutes" is the upper bound this
 * keeps well inside. A worker that outlives its lease anyway (a timed-out request's code running
 * on) can change nothing: every transition checks the lease (`store.ts`).
 */
export const JOB_TIMEOUT_SECONDS = 540;
export const DEFAULT_LEASE_MS = (JOB_TIMEOUT_SECONDS + 60) * 1000;

/**
 * No platform request of a job-running invocation starts later than this after its start: the
 * last request (bounded by its own timeout), the outcome and the event fit in the minute left.
 * Work not done by then is deferred, not failed (`providers/http.ts` `runDeadlineError`).
 */
export const RUN_BUDGET_MS = (JOB_TIMEOUT_SECONDS - 60) * 1000;

/**
 * What every function that runs jobs declares (the platform queues, the worker and process
 * endpoints), from `bench/job.bench.ts` and `bench/cold-start.bench.ts`: such an instance idles
 * at about 105 MB, and an 18,000-row job adds at most about 130 MiB of RSS with the heap capped
 * as a 256 MiB instance caps it (its live heap stays under 12 MiB; the rest is garbage awaiting
 * collection). Two runs at once then peak near 365 MiB: 512 MiB leaves a third spare. The runs
 * mostly wait on their platform's budget, so a second one costs little CPU.
 */
export const JOB_RUNNER_OPTIONS = {
  timeoutSeconds: JOB_TIMEOUT_SECONDS,
  memory: "512MiB",
  concurrency: 2,
} as const;
