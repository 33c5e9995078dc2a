/**
 * OAuth tokens at rest. `users/{uid}/integrations/{providerId}/private/credentials` holds the
 * access and refresh tokens sealed by `crypto.ts` under TOKEN_ENCRYPTION_KEYS, each bound to its
 * user, platform and field; `expiresAt` stays readable (it is not a secret).
 *
 * Tokens are opened only inside job processing (`jobs/process.ts`) and by the operator's
 * re-encryption pass below; no endpoint reads this document, and nothing here logs.
 */
import {
  FieldPath,
  type Firestore,
  type Query,
  type QueryDocumentSnapshot,
  Timestamp,
} from "firebase-admin/firestore";

import type { Credentials, ProviderErrorInfo, ProviderId } from "../providers/types";
import { hasFirestoreCode } from "../shared/firestore-errors";
import { openToken, sealedKeyId, sealToken, TokenCryptoError } from "./crypto";
import {
  credentialsPath,
  credentialsSchema,
  isProviderId,
  PRIVATE_COLLECTION,
  type StoredCredentials,
} from "./model";
import { TOKEN_KEYS_VARIABLE, type TokenKeyring } from "./token-keys";

type TokenField = "accessToken" | "refreshToken";

const tokenContext = (userId: string, providerId: ProviderId, field: TokenField) =>
  `${credentialsPath(userId, providerId)}#${field}`;

/**
 * How a job fails when its credentials cannot be opened. Only tampered, moved or corrupted tokens
 * make the user reconnect (`auth` marks the integration `needs_reauth`). An unknown key id or an
 * unsealed value is the operator's to fix — restore the key, run the re-encryption pass — so the
 * job fails `permanent` and the integration stays active: the next sync after the fix works
 * without the user.
 */
const FAILURES: Record<TokenCryptoError["reason"], (keyId?: string) => ProviderErrorInfo> = {
  unreadable: () => ({
    code: "auth",
    reason: "credentials_unreadable",
    message: "credentials unreadable: the user must reconnect",
  }),
  unknown_key: (keyId) => ({
    code: "permanent",
    reason: "credentials_key_unknown",
    message: `credentials are sealed with key id "${keyId ?? ""}", which ${TOKEN_KEYS_VARIABLE} no longer holds: an operator must restore it`,
  }),
  not_sealed: () => ({
    code: "permanent",
    reason: "credentials_not_sealed",
    message: "credentials are stored unencrypted: an operator must run the re-encryption pass",
  }),
};

export class CredentialsError extends Error {
  constructor(readonly failure: ProviderErrorInfo) {
    super(failure.message);
    this.name = "CredentialsError";
  }
}

/** The document data for `credentials`, tokens sealed under the current key. */
export function sealCredentials(
  keys: TokenKeyring,
  userId: string,
  providerId: ProviderId,
  credentials: Credentials,
): StoredCredentials {
  const seal = (field: TokenField, value: string) =>
    sealToken(keys, value, tokenContext(userId, providerId, field));
  return {
    accessToken: seal("accessToken", credentials.accessToken),
    refreshToken: credentials.refreshToken ? seal("refreshToken", credentials.refreshToken) : null,
    expiresAt: credentials.expiresAt ? Timestamp.fromMillis(credentials.expiresAt) : null,
  };
}

/** Stores an integration's credentials, sealed (a connection, a refresh, a seed). */
export async function writeCredentials(
  db: Firestore,
  keys: TokenKeyring,
  userId: string,
  providerId: ProviderId,
  credentials: Credentials,
): Promise<void> {
  await db
    .doc(credentialsPath(userId, providerId))
    .set(sealCredentials(keys, userId, providerId, credentials));
}

/**
 * Opens a credentials document's data for its integration, or throws `CredentialsError`.
 * `acceptUnsealed` is for the re-encryption pass only: it migrates tokens stored before
 * encryption; job processing never accepts them.
 */
export function openCredentials(
  keys: TokenKeyring,
  userId: string,
  providerId: ProviderId,
  data: unknown,
  { acceptUnsealed = false }: { acceptUnsealed?: boolean } = {},
): Credentials {
  const stored = credentialsSchema.safeParse(data);
  if (!stored.success) {
    // The zod issues are not passed on: they could quote the stored values.
    throw new CredentialsError(FAILURES.unreadable());
  }
  const open = (field: TokenField, value: string) => {
    try {
      return openToken(keys, value, tokenContext(userId, providerId, field));
    } catch (error) {
      if (!(error instanceof TokenCryptoError)) {
        throw error;
      }
      if (error.reason === "not_sealed" && acceptUnsealed) {
        return value;
      }
      throw new CredentialsError(FAILURES[error.reason](error.keyId));
    }
  };
  const { accessToken, refreshToken, expiresAt } = stored.data;
  return {
    accessToken: open("accessToken", accessToken),
    ...(refreshToken ? { refreshToken: open("refreshToken", refreshToken) } : {}),
    ...(expiresAt ? { expiresAt: expiresAt.toMillis() } : {}),
  };
}

export interface ReencryptSummary {
  /** Credentials documents seen. */
  scanned: number;
  /** Documents by the key id their access token was sealed with before the pass (`unsealed`). */
  sealedWith: Record<string, number>;
  /** Already sealed under the current key: left alone. */
  current: number;
  /** Sealed again under the current key (or, in a dry run, that would be). */
  rewritten: number;
  /** Written by someone else between our read and our write: left alone (run the pass again). */
  changedMeanwhile: number;
  /** Documents that could not be opened, by failure reason: they keep their old key. */
  unreadable: Record<string, number>;
}

const PAGE_SIZE = 200;
/** gRPC status of a write whose `lastUpdateTime` precondition no longer holds. */

const increment = (counts: Record<string, number>, key: string) => {
  counts[key] = (counts[key] ?? 0) + 1;
};

/** `users/{uid}/integrations/{providerId}/private/credentials` → its integration. */
function integrationOf(path: string): { userId: string; providerId: ProviderId } | undefined {
  const [, userId = "", , providerId = ""] = path.split("/");
  return isProviderId(providerId) && credentialsPath(userId, providerId) === path
    ? { userId, providerId }
    : undefined;
}

/** What the pass did with one document; `sealedWith` is the key id it found, or `unsealed`. */
export type ReencryptOutcome =
  | { sealedWith: string; result: "current" | "rewritten" | "changedMeanwhile" }
  | { sealedWith: string; result: "unreadable"; reason: string };

/**
 * One document of the pass (undefined when it is not a credentials document): left alone when
 * already under the current key, otherwise opened with the key it names and sealed again — only
 * if nobody wrote it since `doc` was read.
 */
export async function reencryptDocument(
  keys: TokenKeyring,
  doc: QueryDocumentSnapshot,
  dryRun: boolean,
): Promise<ReencryptOutcome | undefined> {
  const integration = integrationOf(doc.ref.path);
  if (!integration) {
    return undefined;
  }
  const tokens = [doc.get("accessToken"), doc.get("refreshToken")].filter(
    (value): value is string => typeof value === "string",
  );
  const sealedWith = sealedKeyId(tokens[0] ?? "") ?? "unsealed";
  if (tokens.length > 0 && tokens.every((token) => sealedKeyId(token) === keys.current.id)) {
    return { sealedWith, result: "current" };
  }
  let credentials: Credentials;
  try {
    credentials = openCredentials(keys, integration.userId, integration.providerId, doc.data(), {
      acceptUnsealed: true,
    });
  } catch (error) {
    if (error instanceof CredentialsError) {
      return { sealedWith, result: "unreadable", reason: error.failure.reason };
    }
    throw error;
  }
  if (!dryRun) {
    const { accessToken, refreshToken } = sealCredentials(
      keys,
      integration.userId,
      integration.providerId,
      credentials,
    );
    try {
      // Only if unchanged since read: a token refreshed or reconnected meanwhile is newer.
      await doc.ref.update({ accessToken, refreshToken }, { lastUpdateTime: doc.updateTime });
    } catch (error) {
      if (hasFirestoreCode(error, "FAILED_PRECONDITION")) {
        return { sealedWith, result: "changedMeanwhile" };
      }
      throw error;
    }
  }
  return { sealedWith, result: "rewritten" };
}

/**
 * Every credentials document, in document-id order. No filter and no order but the document id:
 * served by Firestore's built-in document-id index in collection-group scope too, so
 * firestore.indexes.json needs nothing for it (the index test checks that rule).
 */
export const allCredentialsQuery = (db: Firestore, pageSize: number): Query =>
  db.collectionGroup(PRIVATE_COLLECTION).orderBy(FieldPath.documentId()).limit(pageSize);

/**
 * The re-encryption pass (`dev/reencrypt-credentials.ts`): every credentials document not yet
 * sealed under the current key is opened with the key it names and sealed again — the last step
 * of a key rotation, after which the old key can be removed — and tokens stored before
 * encryption are sealed. Pages through a collection-group query in document order, one
 * precondition-guarded write per document, so it can be stopped and run again at any time.
 */
export async function reencryptCredentials(
  db: Firestore,
  keys: TokenKeyring,
  { dryRun = false, pageSize = PAGE_SIZE }: { dryRun?: boolean; pageSize?: number } = {},
): Promise<ReencryptSummary> {
  const summary: ReencryptSummary = {
    scanned: 0,
    sealedWith: {},
    current: 0,
    rewritten: 0,
    changedMeanwhile: 0,
    unreadable: {},
  };
  let after: QueryDocumentSnapshot | undefined;
  for (;;) {
    const query = allCredentialsQuery(db, pageSize);
    const page = await (after ? query.startAfter(after) : query).get();
    for (const doc of page.docs) {
      const outcome = await reencryptDocument(keys, doc, dryRun);
      if (outcome) {
        summary.scanned += 1;
        increment(summary.sealedWith, outcome.sealedWith);
        if (outcome.result === "unreadable") {
          increment(summary.unreadable, outcome.reason);
        } else {
          summary[outcome.result] += 1;
        }
      }
    }
    after = page.docs.at(-1);
    if (page.size < pageSize || !after) {
      return summary;
    }
  }
}
