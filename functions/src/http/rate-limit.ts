/**
 * Abuse limits of the sync endpoints, held in Firestore so that they hold across function
 * instances (each instance would otherwise allow the full amount):
 *
 * - **Failed authentication per source address** (`admin/security/authFailureSources/{source}`):
 *   a fixed window of failures; the failure after AUTH_FAILURE_THRESHOLD within the window
 *   blocks the source for AUTH_FAILURE_BLOCK_SECONDS. A blocked source gets 429 with
 *   `Retry-After` before its credentials are looked at, so it cannot keep guessing — a correct
 *   key from it is refused too until the block ends (delete the document to lift it early).
 * - **Requests per caller per endpoint** (`admin/security/rateLimits/{endpoint}:{caller}`): a
 *   fixed one-minute window per caller — the cron-key identity as a whole (one shared secret
 *   is one principal, wherever its calls come from), or a signed-in user or administrator by
 *   uid — with 429 and `Retry-After` until the window ends. Public endpoints (health) are not
 *   limited.
 *
 * Each counter is one document updated in a transaction (one read and at most one write); the
 * documents carry `expireAt` for Firestore's TTL policy. When Firestore cannot answer within
 * `LIMITER_TIMEOUT_MS`, the request is refused with 503 and `Retry-After` (fail closed): every
 * sync endpoint needs Firestore for its work anyway, so this costs no availability, while
 * failing open would drop the limits exactly when one caller floods its own counter document.
 */
import { isIP } from "node:net";

import { type DocumentData, type Firestore, Timestamp } from "firebase-admin/firestore";
import { z } from "zod";

import type { AuthFailureSpike as ReportedSpike } from "../scheduler/alerts";
import type { Clock } from "../shared/clock";
import type { RawEnv } from "../shared/config";
import { AppError } from "../shared/errors";
import type { Logger } from "../shared/logger";
import {
  isLimitedEndpoint,
  type RateLimitConfig,
  requireRateLimitConfig,
} from "../shared/rate-limit-config";
import { withTimeout } from "../shared/timeout";
import type { CronCaller, PublicCaller, UserCaller } from "./auth";
import type { HttpRequestLike } from "./context";

export const RATE_LIMITS_COLLECTION = "admin/security/rateLimits";
export const AUTH_FAILURE_SOURCES_COLLECTION = "admin/security/authFailureSources";

export const RATE_LIMIT_WINDOW_MS = 60_000;
/** How long a limiter read or transaction may take before the request is refused. */
export const LIMITER_TIMEOUT_MS = 2_000;
const UNAVAILABLE_RETRY_AFTER_SECONDS = 5;

export interface LimiterDeps {
  db: Firestore;
  clock: Clock;
  logger: Logger;
  env: RawEnv;
}

/**
 * What the alert hook hears when a source is blocked, once per block: the alert module's report
 * (the normalised source address, the endpoint and failure count that crossed the threshold,
 * the window and the block length), and when the block ends.
 */
export interface AuthFailureSpike extends ReportedSpike {
  blockedUntil: Date;
}

const timestamp = z.instanceof(Timestamp);
const counterSchema = z.object({ windowStart: timestamp, count: z.number().int().nonnegative() });
const sourceSchema = z.object({
  windowStart: timestamp.nullable(),
  failures: z.number().int().nonnegative(),
  blockedUntil: timestamp.nullable(),
});

const expandIpv6 = (address: string): number[] => {
  // A dotted IPv4 tail ("::ffff:198.51.100.9") stands for the last two groups.
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(address);
  const hex = dotted
    ? `${address.slice(0, dotted.index)}${[1, 3]
        .map((i) => ((Number(dotted[i]) << 8) | Number(dotted[i + 1])).toString(16))
        .join(":")}`
    : address;
  const [head = "", tail] = hex.split("::");
  const groups = (part: string) => (part === "" ? [] : part.split(":"));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const zeros = Array<string>(8 - left.length - right.length).fill("0");
  return [...left, ...zeros, ...right].map((group) => parseInt(group, 16));
};

/**
 * An address as a counting key: IPv4 as is (also when it arrives IPv4-mapped, `::ffff:a.b.c.d`),
 * IPv6 as its /64 — one subscriber usually holds a whole /64, so counting single IPv6 addresses
 * would let it rotate through them. Ports and zone ids are dropped; anything else is not an
 * address (undefined).
 */
function normaliseAddress(raw: string): string | undefined {
  const trimmed = raw.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(trimmed)?.[1];
  const withoutPort = bracketed ?? trimmed.replace(/^([\d.]+):\d+$/, "$1");
  const address = withoutPort.replace(/%.*$/, "").toLowerCase();
  switch (isIP(address)) {
    case 4:
      return address;
    case 6: {
      const groups = expandIpv6(address);
      if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
        return groups
          .slice(6)
          .flatMap((group) => [group >> 8, group & 0xff])
          .join(".");
      }
      return `${groups
        .slice(0, 4)
        .map((group) => group.toString(16))
        .join(":")}::/64`;
    }
    default:
      return undefined;
  }
}

/**
 * The caller's address: the first X-Forwarded-For entry, else the socket address. In
 * production every request reaches the function through Google's front end (and, for the
 * guide's URLs, Firebase Hosting), which put the client's address first; the socket address is
 * then the front end's own. An entry that is not an address falls back to the socket address,
 * and to "unknown" without one.
 *
 * Where a front end keeps an X-Forwarded-For the client sent and appends to it, the first entry
 * is the client's choice: such a client can dodge its own block (it still has to guess a
 * 16-character-plus secret or forge a signed token) or name another address, whose block an
 * operator lifts by deleting its document.
 */
export function clientAddress(req: HttpRequestLike): string {
  const forwarded = req.headers["x-forwarded-for"];
  const first = typeof forwarded === "string" ? forwarded.split(",")[0] : undefined;
  return (
    (first !== undefined ? normaliseAddress(first) : undefined) ??
    (req.ip !== undefined ? normaliseAddress(req.ip) : undefined) ??
    "unknown"
  );
}

const retryAfterSeconds = (until: number, now: Date): number =>
  Math.max(1, (until - now.getTime()) / 1000);

const describe = (error: unknown): string =>
  error instanceof Error ? (error.message.split("\n")[0] ?? error.name) : String(error);

/** Runs a limiter read or transaction, bounded; any failure refuses the request (503). */
async function guarded<T>(deps: LimiterDeps, what: string, work: () => Promise<T>): Promise<T> {
  try {
    return await withTimeout(work(), LIMITER_TIMEOUT_MS);
  } catch (error) {
    deps.logger.error("request limits unavailable", { check: what, errorMessage: describe(error) });
    throw new AppError("unavailable", "Request limits cannot be checked right now; try again", {
      retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_SECONDS,
    });
  }
}

interface Window {
  start: Timestamp;
  count: number;
}

/** The window after one more event: the stored one while it is open, else a new one from now. */
function advance(stored: Window | undefined, now: Date, windowMs: number): Window {
  return stored && now.getTime() < stored.start.toMillis() + windowMs
    ? { start: stored.start, count: stored.count + 1 }
    : { start: Timestamp.fromDate(now), count: 1 };
}

const sourceRef = (db: Firestore, source: string) =>
  db.collection(AUTH_FAILURE_SOURCES_COLLECTION).doc(encodeURIComponent(source));

function blockedUntilOf(data: DocumentData | undefined, now: Date): Timestamp | undefined {
  const parsed = sourceSchema.safeParse(data);
  const until = parsed.success ? parsed.data.blockedUntil : null;
  return until && until.toMillis() > now.getTime() ? until : undefined;
}

const blockedError = (until: Timestamp, now: Date): AppError =>
  new AppError(
    "rate_limited",
    "Too many failed authentication attempts from this address; try again later",
    { retryAfterSeconds: retryAfterSeconds(until.toMillis(), now) },
  );

/** Refuses (429) a source that is blocked, before any credential is looked at. */
export async function assertSourceNotBlocked(
  deps: LimiterDeps,
  source: string,
  endpoint: string,
): Promise<void> {
  const now = deps.clock();
  const snapshot = await guarded(deps, "source block", () => sourceRef(deps.db, source).get());
  const until = blockedUntilOf(snapshot.data(), now);
  if (until) {
    deps.logger.warn("request from a blocked source refused", {
      endpoint,
      sourceIp: source,
      blockedUntil: until.toDate().toISOString(),
    });
    throw blockedError(until, now);
  }
}

export interface SourceFailureOutcome {
  /** Set when the source is blocked: the refusal becomes 429. */
  blocked?: AppError;
  /** Set only on the failure that started the block (exactly one per block). */
  spike?: AuthFailureSpike;
}

/**
 * Counts a failed attempt against its source, blocking it when the failures exceed the
 * threshold within the window. The transaction makes the transition to "blocked" happen once,
 * however many instances fail at the same time, so the spike is reported once per block.
 * Never throws for the store: the refusal stands even when the failure cannot be counted.
 */
export async function recordSourceFailure(
  deps: LimiterDeps,
  limits: RateLimitConfig["authFailures"],
  source: string,
  endpoint: string,
): Promise<SourceFailureOutcome> {
  const { threshold, windowMs, blockMs } = limits;
  const now = deps.clock();
  const ref = sourceRef(deps.db, source);
  try {
    return await withTimeout(
      deps.db.runTransaction(async (tx): Promise<SourceFailureOutcome> => {
        const snapshot = await tx.get(ref);
        const until = blockedUntilOf(snapshot.data(), now);
        if (until) {
          // It passed the block check just before another failure started the block.
          return { blocked: blockedError(until, now) };
        }
        const parsed = sourceSchema.safeParse(snapshot.data());
        const stored =
          parsed.success && parsed.data.windowStart
            ? { start: parsed.data.windowStart, count: parsed.data.failures }
            : undefined;
        const next = advance(stored, now, windowMs);
        const common = { source, lastEndpoint: endpoint, lastFailureAt: Timestamp.fromDate(now) };
        if (next.count <= threshold) {
          tx.set(ref, {
            ...common,
            windowStart: next.start,
            failures: next.count,
            blockedUntil: null,
            expireAt: Timestamp.fromMillis(next.start.toMillis() + windowMs),
          });
          return {};
        }
        const blockedUntil = Timestamp.fromMillis(now.getTime() + blockMs);
        // The window restarts after the block: the source gets its full allowance back.
        tx.set(ref, {
          ...common,
          windowStart: null,
          failures: 0,
          blockedUntil,
          expireAt: blockedUntil,
        });
        return {
          blocked: blockedError(blockedUntil, now),
          spike: {
            source,
            endpoint,
            failures: next.count,
            windowSeconds: windowMs / 1000,
            blockedSeconds: blockMs / 1000,
            blockedUntil: blockedUntil.toDate(),
          },
        };
      }),
      LIMITER_TIMEOUT_MS,
    );
  } catch (error) {
    deps.logger.error("could not count a failed authentication for its source", {
      endpoint,
      sourceIp: source,
      errorMessage: describe(error),
    });
    return {};
  }
}

const callerKey = (caller: CronCaller | UserCaller): string =>
  caller.kind === "cron" ? "cron" : `user:${encodeURIComponent(caller.uid)}`;

/**
 * Counts the request against the caller's one-minute window for the endpoint; over the
 * endpoint's limit, 429 with `Retry-After` until the window ends. Refused requests are not
 * written (a flood costs one read per request).
 */
export async function enforceRateLimit(
  deps: LimiterDeps,
  endpoint: string,
  caller: PublicCaller | CronCaller | UserCaller,
): Promise<void> {
  if (caller.kind === "public") {
    return;
  }
  const { endpoints } = requireRateLimitConfig(deps.env);
  if (!isLimitedEndpoint(endpoint)) {
    throw new Error(`No rate limit is defined for endpoint "${endpoint}"`);
  }
  const limit = endpoints[endpoint];
  const key = callerKey(caller);
  const ref = deps.db.collection(RATE_LIMITS_COLLECTION).doc(`${endpoint}:${key}`);
  const now = deps.clock();
  const resetAt = await guarded(deps, "rate limit", () =>
    deps.db.runTransaction(async (tx) => {
      const parsed = counterSchema.safeParse((await tx.get(ref)).data());
      const next = advance(
        parsed.success ? { start: parsed.data.windowStart, count: parsed.data.count } : undefined,
        now,
        RATE_LIMIT_WINDOW_MS,
      );
      const windowEnd = next.start.toMillis() + RATE_LIMIT_WINDOW_MS;
      if (next.count > limit) {
        return windowEnd;
      }
      tx.set(ref, {
        endpoint,
        caller: key,
        windowStart: next.start,
        count: next.count,
        expireAt: Timestamp.fromMillis(windowEnd),
      });
      return undefined;
    }),
  );
  if (resetAt !== undefined) {
    deps.logger.warn("rate limit exceeded", { caller: key, limitPerMinute: limit });
    throw new AppError(
      "rate_limited",
      `Rate limit of ${limit} requests per minute for ${endpoint} exceeded; try again later`,
      { retryAfterSeconds: retryAfterSeconds(resetAt, now) },
    );
  }
}
