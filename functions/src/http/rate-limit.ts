/**
 * Abuse limits of the sync endpoints, held in Firestore so that they hold across function
 * instances (each instance would otherwise allow the full amount). Nothing on the request path
 * runs a transaction: concurrent callers of one caller or source never contend for a lock (the
 * official emulator, like production, aborts and retries contending transactions, and the old
 * one-document transactions turned two concurrent legitimate calls into two 503s).
 *
 * - **Failed authentication per source address** (`admin/security/authFailureSources`). A
 *   refused credential takes the next numbered ticket of its source's window
 *   (`{source}~w{window}~g{generation}~{n}`, written with `create()`, which Firestore refuses
 *   at once for a taken number — no lock, no retry loop); ticket AUTH_FAILURE_THRESHOLD + 1
 *   exists exactly once, and its holder writes the block (`{source}`) and reports the spike,
 *   once per block however many instances fail at the same moment. The block applies only to
 *   credentials that fail: a valid key or token is checked first and never looks at the block,
 *   so nobody can lock a caller out by failing "from" its address; a wrong one from a blocked
 *   source gets 429 for the price of one read, and writes nothing.
 * - **Requests per caller per endpoint** (`admin/security/rateLimits`): clock-aligned
 *   one-minute windows, counted with `FieldValue.increment` in `shardCount(limit)` shard
 *   documents per window (`{endpoint}:{caller}:{windowStart}:{shard}`), so that no document
 *   takes more than about one write per second at the caller's limit. The caller is the
 *   cron-key identity as a whole (one shared secret is one principal, wherever its calls come
 *   from), or a signed-in user or administrator by uid. Public endpoints (health) are not
 *   limited.
 *
 * Every document carries `expireAt` for Firestore's TTL policy on its collection group.
 */
import { randomInt } from "node:crypto";
import { isIP } from "node:net";

import {
  type DocumentReference,
  FieldValue,
  type Firestore,
  Timestamp,
} from "firebase-admin/firestore";
import { z } from "zod";

import type { AuthFailureSpike as ReportedSpike } from "../scheduler/alerts";
import type { Clock } from "../shared/clock";
import type { RawEnv } from "../shared/config";
import { AppError } from "../shared/errors";
import { hasFirestoreCode } from "../shared/firestore-errors";
import type { Logger } from "../shared/logger";
import {
  isLimitedEndpoint,
  type RateLimitConfig,
  requireRateLimitConfig,
} from "../shared/rate-limit-config";
import { TimeoutError, withTimeout } from "../shared/timeout";
import type { CronCaller, PublicCaller, UserCaller } from "./auth";
import type { HttpRequestLike } from "./context";

export const RATE_LIMITS_COLLECTION = "admin/security/rateLimits";
export const AUTH_FAILURE_SOURCES_COLLECTION = "admin/security/authFailureSources";

export const RATE_LIMIT_WINDOW_MS = 60_000;
/** How long a limiter may take; past it, the decision below each call site applies. */
export const LIMITER_TIMEOUT_MS = 2_000;
/**
 * Shards per rate-limit window: enough that a caller at its limit writes each shard about once
 * a second (Firestore's guidance for one document), at most this many (each check reads them
 * all, twice).
 */
export const MAX_RATE_LIMIT_SHARDS = 8;

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
const shardSchema = z.object({ count: z.number().int().nonnegative() });
const blockSchema = z.object({ blockedUntil: timestamp.nullable() });

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
 * The caller's address, from the part of X-Forwarded-For the client cannot write. Every proxy
 * on the way keeps what it received and appends the address it was called from, so the
 * left-hand entries are whatever the client sent and only the right-hand ones are trustworthy:
 *
 * - called directly (the function's Cloud Run or cloudfunctions.net URL), Google's front end
 *   appends the client's address: the right-most entry (`trustedProxyHops` 0, the default);
 * - behind a proxy that appends the client's address before Google's front end appends the
 *   proxy's own — Firebase Hosting's CDN, an external Application Load Balancer
 *   (`<supplied>,<client>,<load-balancer>`) — the client is `trustedProxyHops` (1) from the right.
 *
 * With the default, requests through Hosting count by the Hosting node that forwarded them:
 * coarser, never forgeable, and harmless since a block never refuses a valid credential. A
 * larger setting is only safe when the function cannot be called except through that proxy
 * (otherwise a direct caller writes the entry it is judged by). The Hosting emulator forwards
 * the client's header unchanged and adds nothing, so locally the header is the caller's own.
 * Fewer entries than hops: the left-most (nothing was prepended). No header, or an entry that is
 * not an address: the socket address, else "unknown".
 */
export function clientAddress(req: HttpRequestLike, trustedProxyHops: number): string {
  const header = req.headers["x-forwarded-for"];
  // Node joins repeated X-Forwarded-For headers with ", ", in order: one list either way.
  const entries = (Array.isArray(header) ? header.join(",") : (header ?? ""))
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
  const chosen = entries[Math.max(0, entries.length - 1 - trustedProxyHops)];
  return (
    (chosen !== undefined ? normaliseAddress(chosen) : undefined) ??
    (req.ip !== undefined ? normaliseAddress(req.ip) : undefined) ??
    "unknown"
  );
}

const retryAfterSeconds = (until: number, now: Date): number =>
  Math.max(1, (until - now.getTime()) / 1000);

const describe = (error: unknown): string =>
  error instanceof Error ? (error.message.split("\n")[0] ?? error.name) : String(error);

/**
 * Bounds `work` by LIMITER_TIMEOUT_MS and cancels what it has not started yet: `work` calls
 * `step()` before each write, which throws once the time is up, so a limiter that timed out
 * stops instead of writing on behind the answer already given. (A write already sent cannot
 * be recalled; each call site says why such a late write is counted correctly.)
 */
async function bounded<T>(work: (step: () => void) => Promise<T>): Promise<T> {
  let expired = false;
  const step = () => {
    if (expired) {
      throw new TimeoutError(LIMITER_TIMEOUT_MS);
    }
  };
  try {
    return await withTimeout(work(step), LIMITER_TIMEOUT_MS);
  } finally {
    expired = true;
  }
}

const blockedError = (untilMs: number, now: Date): AppError =>
  new AppError(
    "rate_limited",
    "Too many failed authentication attempts from this address; try again later",
    { retryAfterSeconds: retryAfterSeconds(untilMs, now) },
  );

export interface SourceFailureOutcome {
  /** Set when the source is blocked: the refusal becomes 429. */
  blocked?: AppError;
  /** Set when this failure was counted (not for a source already blocked). */
  counted?: true;
  /** Set only on the failure that started the block (exactly one per block). */
  spike?: AuthFailureSpike;
}

/**
 * Counts a refused credential against its source; call it only after the credential failed.
 *
 * Fails open, for the block only: when Firestore cannot answer in time the refusal stands
 * (401/403 — the credential was wrong either way), the failure may go uncounted and the block
 * may come later. Refusing everything from the source instead would hand an outage to every
 * caller; refusing nothing is not on the table, since the credential check does not need
 * Firestore. A ticket whose `create()` was sent before the timeout and lands after it is a real
 * failure, so it rightly counts; nothing is written after the timeout.
 */
export async function recordSourceFailure(
  deps: LimiterDeps,
  limits: RateLimitConfig["authFailures"],
  source: string,
  endpoint: string,
): Promise<SourceFailureOutcome> {
  const { threshold, windowMs, blockMs } = limits;
  const now = deps.clock();
  const collection = deps.db.collection(AUTH_FAILURE_SOURCES_COLLECTION);
  const blockRef = collection.doc(encodeURIComponent(source));
  try {
    return await bounded(async (step): Promise<SourceFailureOutcome> => {
      const stored = blockSchema.safeParse((await blockRef.get()).data());
      const lastBlockEnd = stored.success ? (stored.data.blockedUntil?.toMillis() ?? 0) : 0;
      if (lastBlockEnd > now.getTime()) {
        // A blocked source's wrong attempt: one read, no write, no further work.
        deps.logger.warn("request from a blocked source refused", {
          endpoint,
          sourceIp: source,
          blockedUntil: new Date(lastBlockEnd).toISOString(),
        });
        return { blocked: blockedError(lastBlockEnd, now) };
      }
      // Clock-aligned windows; the generation (the last block's end) gives a source its full
      // allowance back once a block is over, even within the window that started the block.
      const windowStart = Math.floor(now.getTime() / windowMs) * windowMs;
      const key = `${encodeURIComponent(source)}~w${windowStart}~g${lastBlockEnd}`;
      const taken = async () =>
        (await collection.where("key", "==", key).count().get()).data().count;
      // Tickets 1..threshold are refusals answered 401/403; ticket threshold + 1 blocks. Once it
      // is taken, the source is blocked (its block document may land a moment later).
      for (let ticket = (await taken()) + 1; ticket <= threshold + 1; ticket += 1) {
        step();
        try {
          await collection.doc(`${key}~${ticket}`).create({
            key,
            source,
            ticket,
            endpoint,
            at: Timestamp.fromDate(now),
            expireAt: Timestamp.fromMillis(windowStart + windowMs),
          });
        } catch (error) {
          if (hasFirestoreCode(error, "ALREADY_EXISTS")) {
            // Taken at the same moment: skip every number taken since, then try the next one.
            ticket = Math.max(ticket, await taken());
            continue;
          }
          throw error;
        }
        if (ticket <= threshold) {
          return { counted: true };
        }
        const blockedUntil = now.getTime() + blockMs;
        step();
        // Only the holder of ticket threshold + 1 gets here: one writer, one report per block.
        await blockRef.set({
          source,
          lastEndpoint: endpoint,
          failures: ticket,
          blockedAt: Timestamp.fromDate(now),
          blockedUntil: Timestamp.fromMillis(blockedUntil),
          expireAt: Timestamp.fromMillis(blockedUntil),
        });
        return {
          blocked: blockedError(blockedUntil, now),
          counted: true,
          spike: {
            source,
            endpoint,
            failures: ticket,
            windowSeconds: windowMs / 1000,
            blockedSeconds: blockMs / 1000,
            blockedUntil: new Date(blockedUntil),
          },
        };
      }
      return { blocked: blockedError(now.getTime() + blockMs, now) };
    });
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

/** Shards for a limit: about one write per second per shard when the caller is at its limit. */
export const shardCount = (limitPerMinute: number): number =>
  Math.min(MAX_RATE_LIMIT_SHARDS, Math.ceil(limitPerMinute / (RATE_LIMIT_WINDOW_MS / 1000)));

const windowCount = async (db: Firestore, refs: DocumentReference[]): Promise<number> =>
  (await db.getAll(...refs)).reduce((sum, snapshot) => {
    const parsed = shardSchema.safeParse(snapshot.data());
    return sum + (parsed.success ? parsed.data.count : 0);
  }, 0);

/**
 * Counts the request against the caller's one-minute window for the endpoint; over the
 * endpoint's limit, 429 with `Retry-After` until the window ends.
 *
 * Read, increment one shard, read again: a request's increment is committed before its second
 * read, so the count it sees includes itself and every request committed before it. Requests
 * beyond the limit therefore always see more than the limit — never more than `limit` requests
 * are admitted per window — while concurrent ones near the limit may see each other and be
 * refused a little early: the count errs towards refusing. A window already full is refused by
 * the first read, without a write, so a flood costs reads only.
 *
 * Fails open: the caller has already proved who it is (a valid cron key or ID token), and every
 * limited endpoint needs Firestore for its own work, which has its own bounds and errors. A
 * limiter that failed closed would refuse legitimate calls whenever Firestore is slow, which is
 * exactly the defect this replaced; failing open admits an authenticated caller unlimited only
 * while its work cannot run either. An increment sent before the timeout that lands after it
 * counts a request that was admitted, so the count stays true; nothing is written after it.
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
  const now = deps.clock();
  const windowStart = Math.floor(now.getTime() / RATE_LIMIT_WINDOW_MS) * RATE_LIMIT_WINDOW_MS;
  const windowEnd = windowStart + RATE_LIMIT_WINDOW_MS;
  const collection = deps.db.collection(RATE_LIMITS_COLLECTION);
  const shardRef = (shard: number) => collection.doc(`${endpoint}:${key}:${windowStart}:${shard}`);
  const shards = Array.from({ length: shardCount(limit) }, (_, shard) => shardRef(shard));
  let admitted: boolean;
  try {
    admitted = await bounded(async (step) => {
      if ((await windowCount(deps.db, shards)) >= limit) {
        return false;
      }
      step();
      await shardRef(randomInt(shards.length)).set(
        {
          endpoint,
          caller: key,
          windowStart: Timestamp.fromMillis(windowStart),
          count: FieldValue.increment(1),
          expireAt: Timestamp.fromMillis(windowEnd),
        },
        { merge: true },
      );
      return (await windowCount(deps.db, shards)) <= limit;
    });
  } catch (error) {
    deps.logger.error("request limits unavailable; request admitted", {
      caller: key,
      errorMessage: describe(error),
    });
    return;
  }
  if (!admitted) {
    deps.logger.warn("rate limit exceeded", { caller: key, limitPerMinute: limit });
    throw new AppError(
      "rate_limited",
      `Rate limit of ${limit} requests per minute for ${endpoint} exceeded; try again later`,
      { retryAfterSeconds: retryAfterSeconds(windowEnd, now) },
    );
  }
}
