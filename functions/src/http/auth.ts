/**
 * Who is calling. Three access rules:
 * - `cron`: the `x-cron-key` header must equal INTEGRATIONS_CRON_SECRET or, during a rotation,
 *   INTEGRATIONS_CRON_SECRET_PREVIOUS;
 * - `admin_or_cron`: a valid `x-cron-key`, or a Firebase ID token of an administrator (verified
 *   e-mail listed in ADMIN_EMAILS, case-insensitive, or the custom claim `admin: true`);
 * - `user`: any signed-in user's Firebase ID token.
 *
 * No or bad credentials → 401 `unauthenticated`; valid but not allowed → 403
 * `permission_denied`. The credential is always checked first: a valid key or token is
 * accepted whatever has failed from its address, so nobody can lock a caller out by failing
 * "from" it. Every refused attempt is logged as a warning naming the endpoint, the reason and
 * the source address (never the presented key or token), counted in
 * `admin/security/authFailures/{YYYY-MM-DD}`, and counted against its source address
 * (`rate-limit.ts`): a source that fails too often is blocked — its refused attempts get 429
 * with `Retry-After`, cost one read and are not counted again — and the block is reported once
 * to `onAuthFailureSpike`. What is blocked is the source's guessing, not the source: checking a
 * wrong key costs a hash, a forged or expired token fails firebase-admin's local signature and
 * expiry checks before any call to the Auth backend (only a genuinely signed token reaches the
 * revocation lookup), so a blocked source's wrong attempts do no expensive work.
 * Endpoints that accept the cron key validate the configuration first, so a missing secret
 * refuses every request (500 `misconfigured`).
 */
import { createHash, timingSafeEqual } from "node:crypto";

import { type Auth, type DecodedIdToken, FirebaseAuthError } from "firebase-admin/auth";
import { FieldValue, type Firestore, Timestamp } from "firebase-admin/firestore";

import type { Clock } from "../shared/clock";
import { type Config, type RawEnv, requireConfig } from "../shared/config";
import { AppError } from "../shared/errors";
import type { Logger } from "../shared/logger";
import { requireRateLimitConfig } from "../shared/rate-limit-config";
import type { HttpRequestLike } from "./context";
import { type AuthFailureSpike, clientAddress, recordSourceFailure } from "./rate-limit";
import { HTTP_STATUS } from "./respond";

export type AccessRule = "public" | "cron" | "admin_or_cron" | "user";

export interface PublicCaller {
  kind: "public";
}
export interface CronCaller {
  kind: "cron";
}
export interface UserCaller {
  kind: "user";
  uid: string;
}
/** The callers each rule admits. */
export interface CallerByRule {
  public: PublicCaller;
  cron: CronCaller;
  admin_or_cron: CronCaller | UserCaller;
  user: UserCaller;
}

/** Told when a source address is blocked for failed authentication (once per block). */
export type AuthFailureSpikeHook = (spike: AuthFailureSpike) => Promise<void>;

/** The default when no alerting is wired in: the block is still logged as a warning. */
export const noAuthFailureAlert: AuthFailureSpikeHook = () => Promise.resolve();

export interface AuthDeps {
  db: Firestore;
  auth: Auth;
  clock: Clock;
  logger: Logger;
  env: RawEnv;
  /** Alerting on blocked sources; `noAuthFailureAlert` when absent. */
  onAuthFailureSpike?: AuthFailureSpikeHook;
}

export const AUTH_FAILURES_COLLECTION = "admin/security/authFailures";

type FailureReason =
  | "missing_credentials"
  | "bad_cron_key"
  | "malformed_authorization"
  | "invalid_token"
  | "expired_token"
  | "revoked_token"
  | "user_disabled"
  | "not_admin";

/** firebase-admin codes that mean "this token is not acceptable" (anything else: we failed). */
const TOKEN_REJECTIONS: ReadonlyMap<string, FailureReason> = new Map([
  ["auth/argument-error", "invalid_token"],
  ["auth/invalid-id-token", "invalid_token"],
  ["auth/user-not-found", "invalid_token"],
  ["auth/id-token-expired", "expired_token"],
  ["auth/id-token-revoked", "revoked_token"],
  ["auth/user-disabled", "user_disabled"],
]);

/** Rules that admit only some callers (everything but `public`). */
type GuardedRule = Exclude<AccessRule, "public">;

const REQUIREMENT: Readonly<Record<GuardedRule, string>> = {
  cron: "A valid x-cron-key header is required",
  admin_or_cron:
    "An administrator's Firebase ID token (Authorization: Bearer) or a valid x-cron-key header is required",
  user: "A Firebase ID token is required (Authorization: Bearer <token>)",
};

const singleHeader = (value: string | string[] | undefined): string | undefined =>
  typeof value === "string" && value.length > 0 ? value : undefined;

const sha256 = (value: string): Buffer => createHash("sha256").update(value, "utf8").digest();

/**
 * Constant-time comparison: both sides are hashed to equal-length digests first, so neither the
 * content nor the length of a secret leaks through timing. Every configured secret is compared,
 * whichever matches.
 */
function matchesCronSecret(presented: string, config: Config): boolean {
  const digest = sha256(presented);
  const accepted = [config.INTEGRATIONS_CRON_SECRET, config.INTEGRATIONS_CRON_SECRET_PREVIOUS];
  return accepted
    .map((secret) => secret !== undefined && timingSafeEqual(digest, sha256(secret)))
    .some(Boolean);
}

function isAdmin(token: DecodedIdToken, config: Config): boolean {
  // An unverified address proves nothing: anyone can sign up with an admin's e-mail.
  const verifiedEmail =
    token.email_verified === true && typeof token.email === "string"
      ? token.email.toLowerCase()
      : undefined;
  return (
    token.admin === true ||
    (verifiedEmail !== undefined && config.ADMIN_EMAILS.includes(verifiedEmail))
  );
}

/** Reports a block to the alert hook; an alerting failure never changes the refusal. */
async function reportSpike(deps: AuthDeps, spike: AuthFailureSpike): Promise<void> {
  deps.logger.warn("source blocked after repeated failed authentication", {
    endpoint: spike.endpoint,
    sourceIp: spike.source,
    failures: spike.failures,
    windowSeconds: spike.windowSeconds,
    blockedSeconds: spike.blockedSeconds,
    blockedUntil: spike.blockedUntil.toISOString(),
  });
  try {
    await (deps.onAuthFailureSpike ?? noAuthFailureAlert)(spike);
  } catch (error) {
    deps.logger.error("could not alert on a blocked source", {
      sourceIp: spike.source,
      errorMessage: error instanceof Error ? error.message : String(error),
    });
  }
}

/** Counts a refused attempt for the day, for monitoring. */
async function countDailyFailure(
  deps: AuthDeps,
  endpoint: string,
  reason: FailureReason,
): Promise<void> {
  const now = deps.clock();
  try {
    // One small merge write per failure; the daily document holds per-endpoint and per-reason
    // counters for monitoring (the guide: "Monitor failed authentication attempts").
    await deps.db
      .collection(AUTH_FAILURES_COLLECTION)
      .doc(now.toISOString().slice(0, 10))
      .set(
        {
          byEndpoint: { [endpoint]: FieldValue.increment(1) },
          byReason: { [reason]: FieldValue.increment(1) },
          lastFailureAt: Timestamp.fromDate(now),
        },
        { merge: true },
      );
  } catch (error) {
    // The refusal stands even when the counter cannot be written.
    deps.logger.error("could not count a failed authentication", {
      endpoint,
      errorMessage: error instanceof Error ? error.message : String(error),
    });
  }
}

/**
 * Logs and counts a refused attempt, then returns the error to throw: 429 when the source is
 * (or has just become) blocked, else 401 or 403. An attempt from a source already blocked is
 * logged by `recordSourceFailure` and written nowhere.
 */
async function refuse(
  deps: AuthDeps,
  req: HttpRequestLike,
  endpoint: string,
  rule: GuardedRule,
  reason: FailureReason,
  uid?: string,
): Promise<AppError> {
  // Before any write: a bad limit variable refuses with 500 and leaves no write behind.
  const { authFailures, trustedProxyHops } = requireRateLimitConfig(deps.env);
  const source = clientAddress(req, trustedProxyHops);
  const outcome = await recordSourceFailure(deps, authFailures, source, endpoint);
  if (outcome.blocked && !outcome.counted) {
    return outcome.blocked;
  }
  await countDailyFailure(deps, endpoint, reason);
  const error =
    outcome.blocked ??
    (reason === "not_admin"
      ? new AppError("permission_denied", "This endpoint requires an administrator")
      : new AppError("unauthenticated", REQUIREMENT[rule]));
  deps.logger.warn("authentication failed", {
    endpoint,
    reason,
    status: HTTP_STATUS[error.code],
    sourceIp: source,
    ...(uid !== undefined ? { uid } : {}),
  });
  if (outcome.spike) {
    await reportSpike(deps, outcome.spike);
  }
  return error;
}

async function verifyToken(deps: AuthDeps, token: string): Promise<DecodedIdToken | FailureReason> {
  try {
    // checkRevoked: a token revoked (or whose user was disabled) since it was issued is refused.
    return await deps.auth.verifyIdToken(token, true);
  } catch (error) {
    const reason =
      error instanceof FirebaseAuthError ? TOKEN_REJECTIONS.get(error.code) : undefined;
    if (reason) {
      return reason;
    }
    // Not the caller's fault (Auth backend unreachable, misconfigured project): say so, and
    // do not count it as a failed attempt.
    deps.logger.error("could not verify an ID token", {
      errorCode: error instanceof FirebaseAuthError ? error.code : undefined,
      errorMessage: error instanceof Error ? error.message.split("\n")[0] : String(error),
    });
    throw new AppError("unavailable", "Could not verify the ID token; try again later");
  }
}

function cronKeyOf(req: HttpRequestLike): string | undefined {
  return singleHeader(req.headers["x-cron-key"]);
}

async function checkCronKey(
  req: HttpRequestLike,
  rule: GuardedRule,
  endpoint: string,
  deps: AuthDeps,
  key: string,
  config: Config,
): Promise<CronCaller> {
  if (matchesCronSecret(key, config)) {
    return { kind: "cron" };
  }
  throw await refuse(deps, req, endpoint, rule, "bad_cron_key");
}

async function checkIdToken(
  req: HttpRequestLike,
  rule: GuardedRule,
  endpoint: string,
  deps: AuthDeps,
): Promise<DecodedIdToken> {
  const authorization = singleHeader(req.headers.authorization);
  if (authorization === undefined) {
    throw await refuse(deps, req, endpoint, rule, "missing_credentials");
  }
  const bearer = /^Bearer +(\S+)$/i.exec(authorization)?.[1];
  if (bearer === undefined) {
    throw await refuse(deps, req, endpoint, rule, "malformed_authorization");
  }
  const verified = await verifyToken(deps, bearer);
  if (typeof verified === "string") {
    throw await refuse(deps, req, endpoint, rule, verified);
  }
  return verified;
}

type Authenticator<R extends AccessRule> = (
  req: HttpRequestLike,
  endpoint: string,
  deps: AuthDeps,
) => Promise<CallerByRule[R]>;

const AUTHENTICATORS: { readonly [R in AccessRule]: Authenticator<R> } = {
  public: () => Promise.resolve({ kind: "public" }),
  cron: async (req, endpoint, deps) => {
    // Configuration first: without a secret configured, every request is refused (500).
    const config = requireConfig(deps.env);
    const key = cronKeyOf(req);
    if (key === undefined) {
      throw await refuse(deps, req, endpoint, "cron", "missing_credentials");
    }
    return checkCronKey(req, "cron", endpoint, deps, key, config);
  },
  admin_or_cron: async (req, endpoint, deps) => {
    const config = requireConfig(deps.env);
    const key = cronKeyOf(req);
    if (key !== undefined) {
      // A presented key decides on its own: a wrong key is refused even if a token is present.
      return checkCronKey(req, "admin_or_cron", endpoint, deps, key, config);
    }
    const token = await checkIdToken(req, "admin_or_cron", endpoint, deps);
    if (!isAdmin(token, config)) {
      throw await refuse(deps, req, endpoint, "admin_or_cron", "not_admin", token.uid);
    }
    return { kind: "user", uid: token.uid };
  },
  user: async (req, endpoint, deps) => {
    const token = await checkIdToken(req, "user", endpoint, deps);
    return { kind: "user", uid: token.uid };
  },
};

/**
 * Authenticates the request for `endpoint` under `rule`; returns the caller or throws an
 * AppError (401, 403, 429 for a refused attempt from a blocked source, 500 `misconfigured`,
 * 503 when a token cannot be verified).
 */
export function authenticate<R extends AccessRule>(
  req: HttpRequestLike,
  rule: R,
  endpoint: string,
  deps: AuthDeps,
): Promise<CallerByRule[R]> {
  const authenticator: Authenticator<R> = AUTHENTICATORS[rule];
  return authenticator(req, endpoint, deps);
}
