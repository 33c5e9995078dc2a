/**
 * Discovery of one integration: which ad accounts its connection reaches now, and what the
 * platform says of its credentials — run when it is connected and with its first daily sync of
 * each day (`jobs/process.ts`), within the same run's share of the platform's budget.
 *
 * The integration records every account with what its platform said (`accounts.ts`), syncs the
 * accounts its selection names (`accountIds`), and holds its credential health (`health.ts`):
 * a refused token moves it to `needs_reauth` at once; a connection within two weeks of its end
 * raises one alert (`sendNotice`). A platform failure that is not the credentials' (a rate
 * limit, an outage) changes nothing: the integration keeps what it knew.
 */
import { type Firestore, Timestamp } from "firebase-admin/firestore";

import { ProviderError } from "../providers/errors";
import type { DiscoveryRuntime } from "../providers/registry";
import type { Credentials, ProviderErrorInfo, ProviderId } from "../providers/types";
import { type AlertDeps, sendNotice } from "../scheduler/alerts";
import { hasFirestoreCode } from "../shared/firestore-errors";
import type { Logger } from "../shared/logger";
import { type AccountChanges, applyDiscovery } from "./accounts";
import { CredentialsError, openCredentials, sealCredentials } from "./credentials";
import { assessHealth, expiryAlertDue } from "./health";
import {
  type CredentialHealth,
  credentialsPath,
  type Integration,
  integrationPath,
  integrationSchema,
} from "./model";
import type { TokenKeyring } from "./token-keys";

export interface DiscoveryDeps extends AlertDeps {
  db: Firestore;
  discover: DiscoveryRuntime;
  tokenKeys: TokenKeyring;
  logger: Logger;
}

export type DiscoveryOutcome =
  | { status: "discovered"; changes: AccountChanges; health: CredentialHealth; requests: number }
  | { status: "refused"; health: CredentialHealth; error: ProviderErrorInfo }
  | { status: "failed"; error: ProviderErrorInfo }
  | {
      status: "skipped";
      reason: "no_integration" | "invalid_integration" | "inactive" | "no_credentials";
    };

/** Rounds of read-merge-write when the integration changes meanwhile (a job, the endpoint). */
const WRITE_ROUNDS = 3;

const dayOf = (at: Timestamp) => at.toDate().toISOString().slice(0, 10);

/**
 * A refreshed token, stored only if the credentials are the ones read (never over newer ones);
 * returns the stored document's new update time, or undefined when newer ones were there.
 */
async function storeRefreshed(
  deps: DiscoveryDeps,
  target: { userId: string; providerId: ProviderId },
  refreshed: Credentials,
  readAt: Timestamp,
): Promise<Timestamp | undefined> {
  const sealed = sealCredentials(deps.tokenKeys, target.userId, target.providerId, refreshed);
  try {
    const written = await deps.db.doc(credentialsPath(target.userId, target.providerId)).update(
      {
        accessToken: sealed.accessToken,
        refreshToken: sealed.refreshToken,
        expiresAt: sealed.expiresAt,
      },
      { lastUpdateTime: readAt },
    );
    return written.writeTime;
  } catch (error) {
    if (!hasFirestoreCode(error, "FAILED_PRECONDITION")) {
      throw error;
    }
    deps.logger.warn("refreshed credentials not stored", { why: "superseded" });
    return undefined;
  }
}

export async function discoverIntegration(
  deps: DiscoveryDeps,
  target: { userId: string; providerId: ProviderId },
): Promise<DiscoveryOutcome> {
  const { db } = deps;
  const integrationRef = db.doc(integrationPath(target.userId, target.providerId));
  const [integrationSnap, credentialsSnap] = await db.getAll(
    integrationRef,
    db.doc(credentialsPath(target.userId, target.providerId)),
  );
  if (!integrationSnap?.exists) {
    return { status: "skipped", reason: "no_integration" };
  }
  const parsed = integrationSchema.safeParse(integrationSnap.data());
  if (!parsed.success) {
    return { status: "skipped", reason: "invalid_integration" };
  }
  if (parsed.data.status !== "active") {
    return { status: "skipped", reason: "inactive" };
  }
  if (!credentialsSnap?.exists) {
    return { status: "skipped", reason: "no_credentials" };
  }
  const logger = deps.logger.child({ discovery: `${target.userId}/${target.providerId}` });
  /** The connection refused (by the platform, or tokens that cannot be opened): reconnect. */
  const refuse = async (info: ProviderErrorInfo, seen: Credentials): Promise<DiscoveryOutcome> => {
    const health = assessHealth(
      {
        providerId: target.providerId,
        credentials: seen,
        refused: true,
        previous: parsed.data.credentialHealth,
        credentialsAt: credentialsSnap.updateTime ?? null,
      },
      deps.clock(),
    );
    const at = Timestamp.fromDate(deps.clock());
    // No update precondition: whatever changed meanwhile, the connection is refused.
    await integrationRef.update({
      status: "needs_reauth",
      credentialHealth: health,
      lastError: { code: info.code, reason: info.reason, message: info.message, at },
    });
    logger.warn("discovery refused: the user must reconnect", { reason: info.reason });
    return { status: "refused", health, error: info };
  };
  let credentials: Credentials;
  try {
    credentials = openCredentials(
      deps.tokenKeys,
      target.userId,
      target.providerId,
      credentialsSnap.data(),
    );
  } catch (error) {
    if (!(error instanceof CredentialsError)) {
      throw error;
    }
    return refuse(error.failure, { accessToken: "" });
  }
  try {
    const found = await deps.discover(target.providerId, credentials);
    if (found.inspectFailure) {
      logger.warn("credentials not inspected", {
        code: found.inspectFailure.code,
        reason: found.inspectFailure.reason,
      });
    }
    const storedAt = found.refreshedCredentials
      ? await storeRefreshed(deps, target, found.refreshedCredentials, credentialsSnap.updateTime!)
      : undefined;
    const now = deps.clock();
    const health = assessHealth(
      {
        providerId: target.providerId,
        credentials: found.refreshedCredentials ?? credentials,
        ...(found.facts ? { facts: found.facts } : {}),
        previous: parsed.data.credentialHealth,
        credentialsAt: storedAt ?? credentialsSnap.updateTime ?? null,
      },
      now,
    );
    const alerted = expiryAlertDue(health)
      ? await sendNotice(
          deps,
          `credentials:${target.userId}:${target.providerId}`,
          `The ${target.providerId} connection of user ${target.userId} ends on ` +
            `${dayOf(health.reconnectBy!)}: the user must reconnect by then or its syncs stop.`,
        )
      : undefined;
    const stored: CredentialHealth = alerted?.delivered
      ? { ...health, alertedFor: health.reconnectBy }
      : health;
    const changes = await writeDiscovery(
      deps,
      integrationRef,
      target.providerId,
      found.accounts,
      stored,
      parsed.data,
      integrationSnap.updateTime!,
    );
    logger.info("accounts discovered", {
      accounts: found.accounts.length,
      added: changes.added.length,
      lost: changes.lost.length,
      credentials: stored.state,
    });
    return { status: "discovered", changes, health: stored, requests: found.requests };
  } catch (error) {
    if (!(error instanceof ProviderError)) {
      throw error;
    }
    const info = error.toInfo();
    if (info.code !== "auth") {
      logger.warn("discovery failed", { code: info.code, reason: info.reason });
      return { status: "failed", error: info };
    }
    return refuse(info, credentials);
  }
}

/** The merge written if the integration is unchanged since read; read again when it changed. */
async function writeDiscovery(
  deps: DiscoveryDeps,
  ref: FirebaseFirestore.DocumentReference,
  providerId: ProviderId,
  discovered: Parameters<typeof applyDiscovery>[2],
  health: CredentialHealth,
  first: Integration,
  firstReadAt: Timestamp,
): Promise<AccountChanges> {
  let integration = first;
  let readAt = firstReadAt;
  for (let round = 1; ; round += 1) {
    const now = deps.clock();
    const changes = applyDiscovery(providerId, integration, discovered, now);
    try {
      await ref.update(
        {
          accounts: changes.accounts,
          discoveredAt: Timestamp.fromDate(now),
          credentialHealth: health,
        },
        { lastUpdateTime: readAt },
      );
      return changes;
    } catch (error) {
      if (!hasFirestoreCode(error, "FAILED_PRECONDITION") || round >= WRITE_ROUNDS) {
        throw error;
      }
      const snapshot = await ref.get();
      const parsed = integrationSchema.safeParse(snapshot.data());
      if (!parsed.success) {
        throw error;
      }
      integration = parsed.data;
      readAt = snapshot.updateTime!;
    }
  }
}
