/**
 * Processing one job: claim it, load its integration and credentials, compute the window, pull
 * the platform's rows through the provider module, persist refreshed tokens, store the metrics
 * and reconcile the accounts' windows (`metrics/store.ts`), and record the outcome. The job's
 * fate is decided from the provider error class alone.
 *
 * Each account's rows are stored as soon as that account is fetched, then dropped: a job holds
 * one account's rows at a time, however many accounts the integration has.
 */
import { type BackfillDeps, BackfillRunFailure, runBackfill } from "../backfill/run";
import { loginCustomerIdsOf, syncedAccountIds } from "../integrations/accounts";
import { CredentialsError, openCredentials, sealCredentials } from "../integrations/credentials";
import { discoverIntegration, type DiscoveryDeps } from "../integrations/discovery";
import { hasEnded } from "../integrations/health";
import {
  credentialsPath,
  type Integration,
  integrationPath,
  integrationSchema,
} from "../integrations/model";
import type { TokenKeyring } from "../integrations/token-keys";
import { type AccountWindow, addCounts, MetricsStore, noCounts } from "../metrics/store";
import { ProviderError } from "../providers/errors";
import { canonicalAccountId } from "../providers/ids";
import { rangeIn, spanOf } from "../providers/ranges";
import type {
  Credentials,
  DateRange,
  FetchRequest,
  FetchResult,
  ProviderErrorCode,
  ProviderErrorInfo,
  ProviderId,
  ReportWindow,
} from "../providers/types";
import type { Logger } from "../shared/logger";
import type { Job, JobRecord, JobResult } from "./model";
import {
  claimJob,
  completeJob,
  describeIssues,
  failJob,
  type FinishOutcome,
  InvalidJobError,
  type StoreDeps,
  storeRefreshedCredentials,
} from "./store";
import { isDailySlot, windowDays } from "./window";

/**
 * Pulls one integration's rows, handing each account's to `request.onAccount`; the provider
 * registry in production, the same in tests.
 */
export type MetricsFetcher = (
  providerId: ProviderId,
  request: FetchRequest,
) => Promise<FetchResult>;

export interface ProcessDeps extends StoreDeps {
  fetchMetrics: MetricsFetcher;
  logger: Logger;
  /** Identifies this worker invocation in the job's lease. */
  owner: string;
  leaseMs: number;
  /** Opens and seals the integration's OAuth tokens (TOKEN_ENCRYPTION_KEYS). */
  tokenKeys: TokenKeyring;
  /** No platform request starts at or after it: the invocation's timeout is near. */
  deadline?: Date;
  /** Backfill runs: the platforms' history limits (default: the adapters'). */
  history?: BackfillDeps["history"];
  /** Backfill runs: the requests one run may start slices with (`BACKFILL_RUN_REQUESTS`). */
  backfillRunRequests?: number;
  /**
   * Account discovery and credential inspection, run before the day's first daily sync of an
   * integration (`integrations/discovery.ts`); absent: accounts stay as stored.
   */
  discovery?: Omit<DiscoveryDeps, keyof StoreDeps | "logger" | "tokenKeys">;
}

/** An integration is discovered again by its first daily sync this long after the last time. */
const REDISCOVER_AFTER_MS = 20 * 3_600_000;

export interface RunOutcome {
  /** `invalid_document`: the job document failed validation and was failed `permanent`. */
  outcome: FinishOutcome | "not_claimed" | "invalid_document";
  /** The failure class when the attempt failed. */
  errorCode?: ProviderErrorCode;
  /** `invalid_document`: the fields it fails on. */
  issues?: string;
  /** A backfill run that left slices: the plan's next job, for the caller to dispatch. */
  nextJobId?: string;
  /** A backfill run: what it did, for its scheduler event. */
  backfill?: {
    userId: string;
    providerId: ProviderId;
    end: string;
    slices: number;
    requests: number;
    rowsWritten: number;
  };
}

/** Claims the job; a document that does not validate was failed by the claim and is reported. */
async function claim(
  deps: ProcessDeps,
  jobId: string,
): Promise<{ claimed?: JobRecord; invalid?: string }> {
  try {
    return { claimed: await claimJob(deps, jobId, deps.owner, deps.leaseMs) };
  } catch (error) {
    if (!(error instanceof InvalidJobError)) {
      throw error;
    }
    deps.logger.error("invalid job document failed", { jobId, issues: error.issues });
    return { invalid: error.issues };
  }
}

class JobFailure extends Error {
  constructor(readonly failure: ProviderErrorInfo) {
    super(failure.message);
  }
}

async function loadWork(deps: ProcessDeps, job: Job) {
  const [integrationSnap, credentialsSnap] = await deps.db.getAll(
    deps.db.doc(integrationPath(job.userId, job.providerId)),
    deps.db.doc(credentialsPath(job.userId, job.providerId)),
  );
  if (!integrationSnap?.exists) {
    throw new JobFailure({
      code: "permanent",
      reason: "no_integration",
      message: "the integration no longer exists",
    });
  }
  const parsed = integrationSchema.safeParse(integrationSnap.data());
  if (!parsed.success) {
    // Retrying cannot fix the document: fail the job and say which fields are wrong.
    throw new JobFailure({
      code: "permanent",
      reason: "invalid_integration",
      message: `the integration document fails validation: ${describeIssues(parsed.error)}`,
    });
  }
  const integration = parsed.data;
  if (integration.status !== "active") {
    throw new JobFailure({
      code: integration.status === "needs_reauth" ? "auth" : "permanent",
      reason: `integration_${integration.status}`,
      message: `the integration is ${integration.status}`,
    });
  }
  if (hasEnded(integration.credentialHealth, credentialsSnap?.updateTime, deps.clock())) {
    // Known to be over (revoked, or past the end its platform set): no request could succeed.
    throw new JobFailure({
      code: "auth",
      reason: "connection_expired",
      message: "the connection has ended: the user must reconnect",
    });
  }
  if (!credentialsSnap?.exists) {
    throw new JobFailure({
      code: "auth",
      reason: "no_credentials",
      message: "no stored credentials: the user must reconnect",
    });
  }
  const credentials = openCredentials(
    deps.tokenKeys,
    job.userId,
    job.providerId,
    credentialsSnap.data(),
  );
  return { integration, credentials, credentialsReadAt: credentialsSnap.updateTime! };
}

/** The days the fetched accounts covered, each in its own zone; the UTC days when none was. */
function span(accounts: FetchResult["accounts"], window: ReportWindow): DateRange {
  const ranges = accounts.flatMap((account) => (account.status === "ok" ? [account.range] : []));
  return spanOf(ranges) ?? rangeIn(window, "UTC");
}

const sameCredentials = (a: Credentials, b: Credentials): boolean =>
  a.accessToken === b.accessToken &&
  a.refreshToken === b.refreshToken &&
  a.expiresAt === b.expiresAt;

/** The worst account failure decides: auth, then retryable, then (reported only) permanent. */
function accountFailure(result: FetchResult): ProviderErrorInfo | undefined {
  const failures = result.accounts.flatMap((account) =>
    account.status === "failed" ? [account.error] : [],
  );
  return (
    failures.find((error) => error.code === "auth") ??
    failures.find((error) => error.code === "rate_limited" || error.code === "transient") ??
    (failures.length === result.accounts.length ? failures[0] : undefined)
  );
}

/**
 * Stores a token the fetch refreshed, once per token, only while this worker holds the job and
 * the credentials are the ones it read.
 */
function credentialPersister(
  deps: ProcessDeps,
  jobId: string,
  job: Job,
  credentialsReadAt: FirebaseFirestore.Timestamp,
  logger: Logger,
): (refreshed: Credentials) => Promise<void> {
  let persisted: Credentials | undefined;
  return async (refreshed) => {
    if (persisted && sameCredentials(persisted, refreshed)) {
      return;
    }
    const stored = await storeRefreshedCredentials(deps, jobId, deps.owner, {
      path: credentialsPath(job.userId, job.providerId),
      readAt: credentialsReadAt,
      sealed: sealCredentials(deps.tokenKeys, job.userId, job.providerId, refreshed),
    });
    // Once per token, stored or refused: a second attempt would find the same answer.
    persisted = refreshed;
    if (stored !== "stored") {
      logger.warn("refreshed credentials not stored", { why: stored });
    }
  };
}

/** A daily scheduled sync whose integration was not discovered within `REDISCOVER_AFTER_MS`. */
function discoveryDue(deps: ProcessDeps, job: Job, integration: Integration): boolean {
  const last = integration.discoveredAt?.toMillis();
  return (
    deps.discovery !== undefined &&
    job.type === "scheduled-sync" &&
    isDailySlot(job.slot ?? null) &&
    (last === undefined || deps.clock().getTime() - last >= REDISCOVER_AFTER_MS)
  );
}

/**
 * Accounts that lost access: no longer synced, but their stored days are never zeroed as a
 * removed account's would be (`MetricsStore.finish`) — their history stays as it was.
 */
const lostAccess = (integration: Integration): string[] =>
  Object.values(integration.accounts)
    .filter((entry) => entry.status === "lost_access")
    .map((entry) => entry.accountId);

export async function runJob(deps: ProcessDeps, jobId: string): Promise<RunOutcome> {
  const { claimed, invalid } = await claim(deps, jobId);
  if (invalid !== undefined) {
    return { outcome: "invalid_document", errorCode: "permanent", issues: invalid };
  }
  if (!claimed) {
    return { outcome: "not_claimed" };
  }
  const { job } = claimed;
  const logger = deps.logger.child({ jobId, userId: job.userId, provider: job.providerId });
  logger.info("job started", { type: job.type, attempt: job.attempts });
  try {
    let work = await loadWork(deps, job);
    if (discoveryDue(deps, job, work.integration)) {
      const outcome = await discoverIntegration(
        { ...deps, ...deps.discovery!, logger },
        { userId: job.userId, providerId: job.providerId },
      );
      if (outcome.status === "refused") {
        throw new JobFailure(outcome.error);
      }
      // The accounts to sync, and any token the discovery refreshed, as they now stand.
      work = await loadWork(deps, job);
    }
    const { integration, credentials, credentialsReadAt } = work;
    const synced = syncedAccountIds(integration);
    const persist = credentialPersister(deps, jobId, job, credentialsReadAt, logger);
    if (job.type === "initial-backfill") {
      const run = await runBackfill(
        {
          ...deps,
          logger,
          ...(deps.backfillRunRequests === undefined
            ? {}
            : { runRequests: deps.backfillRunRequests }),
        },
        { jobId, owner: deps.owner, job, integration, credentials, persist },
      );
      logger.info("backfill run finished", {
        end: run.end,
        slices: run.slices,
        requests: run.requests,
        rowsWritten: run.result.rowsWritten,
      });
      return {
        outcome: run.end === "lease_lost" ? "lease_lost" : "succeeded",
        ...(run.nextJobId ? { nextJobId: run.nextJobId } : {}),
        backfill: {
          userId: job.userId,
          providerId: job.providerId,
          end: run.end,
          slices: run.slices,
          requests: run.requests,
          rowsWritten: run.result.rowsWritten,
        },
      };
    }
    const window = {
      days: windowDays(job, job.providerId, integration.automation),
      at: deps.clock().getTime(),
    };
    const metrics = new MetricsStore(deps.db, job.userId, job.providerId, {
      jobId,
      now: deps.clock(),
    });
    const counts = noCounts();
    let rowsFetched = 0;
    /** Canonical ids of the accounts whose rows were stored. */
    const stored = new Set<string>();
    const fetched =
      synced.length === 0
        ? { accounts: [], requests: 0 }
        : await deps.fetchMetrics(job.providerId, {
            credentials,
            accountIds: synced,
            window,
            timeZones: integration.accountTimeZones,
            ...(integration.loginCustomerId
              ? { loginCustomerId: integration.loginCustomerId }
              : {}),
            loginCustomerIds: loginCustomerIdsOf(integration.accounts),
            ...(deps.deadline ? { deadline: deps.deadline.getTime() } : {}),
            onAccount: async (account) => {
              if (account.refreshedCredentials) {
                // Before the rows: a store that fails ends the fetch, and must not lose a
                // rotated token.
                await persist(account.refreshedCredentials);
              }
              const accountId = canonicalAccountId(job.providerId, account.accountId);
              const { rows, range } = account;
              addCounts(counts, await metrics.storeAccount({ accountId, range, rows }));
              rowsFetched += rows.length;
              stored.add(accountId);
            },
          });
    if (fetched.refreshedCredentials) {
      // Persisted at once: a crash later in the job must not lose a rotated token.
      await persist(fetched.refreshedCredentials);
    }
    const outcomes = new Map(fetched.accounts.map((account) => [account.accountId, account]));
    addCounts(
      counts,
      await metrics.finish(
        // Every account the integration holds; one whose rows were not stored is left alone.
        [...synced, ...lostAccess(integration)].map((accountId): AccountWindow => {
          const outcome = outcomes.get(accountId);
          const canonical = canonicalAccountId(job.providerId, accountId);
          return outcome?.status === "ok" && stored.has(canonical)
            ? { accountId: canonical, status: "ok", range: outcome.range }
            : { accountId: canonical, status: "failed" };
        }),
      ),
    );
    const result: JobResult = {
      ...span(fetched.accounts, window),
      rowsFetched,
      rowsWritten: counts.written,
      rowsUnchanged: counts.unchanged,
      rowsZeroed: counts.zeroed,
      accounts: fetched.accounts.map((account) =>
        account.status === "ok"
          ? {
              accountId: account.accountId,
              status: "ok",
              rows: account.rows,
              ...account.range,
              timeZone: account.timeZone,
            }
          : {
              accountId: account.accountId,
              status: "failed",
              error: {
                code: account.error.code,
                reason: account.error.reason,
                message: account.error.message,
              },
            },
      ),
    };
    const failure = accountFailure(fetched);
    if (failure) {
      throw new JobFailure(failure);
    }
    const zones = Object.fromEntries(
      fetched.accounts.flatMap((account) =>
        account.status === "ok"
          ? [[canonicalAccountId(job.providerId, account.accountId), account.timeZone]]
          : [],
      ),
    );
    const outcome = await completeJob(deps, jobId, deps.owner, result, zones);
    logger.info("job finished", { outcome, ...counts, rowsFetched });
    return { outcome };
  } catch (error) {
    const failure: ProviderErrorInfo =
      error instanceof JobFailure ||
      error instanceof CredentialsError ||
      error instanceof BackfillRunFailure
        ? error.failure
        : error instanceof ProviderError
          ? error.toInfo()
          : {
              code: "transient",
              reason: "unexpected_error",
              message: error instanceof Error ? error.message : String(error),
            };
    const outcome = await failJob(deps, jobId, deps.owner, failure);
    logger.warn("job attempt failed", {
      outcome,
      code: failure.code,
      reason: failure.reason,
      message: failure.message,
    });
    const progress =
      error instanceof BackfillRunFailure
        ? error.progress
        : { slices: 0, requests: 0, rowsWritten: 0 };
    return {
      outcome,
      errorCode: failure.code,
      // A backfill run that failed has its event too (the slices it stored stay stored).
      ...(job.type === "initial-backfill"
        ? {
            backfill: {
              userId: job.userId,
              providerId: job.providerId,
              end: `failed_${failure.code}`,
              ...progress,
            },
          }
        : {}),
    };
  }
}
