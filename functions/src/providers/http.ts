/**
 * The one HTTP path every adapter uses: the platform's limiter, a timeout on every request, JSON
 * parsed by us and validated with zod (a malformed or truncated body is a classified error, not a
 * crash), vendor error signals classified once, short waits and transient failures retried inline
 * a bounded number of times, and every error message redacted of tokens and secrets. A
 * platform's wait holds back what the platform says is limited (`PauseScope`): the whole
 * platform, or only the ad account or user the throttled request was for.
 */
import { createHash } from "node:crypto";

import axios, { type AxiosInstance } from "axios";
import type { z } from "zod";

import { parseRetryAfter, ProviderError, redact } from "./errors";
import { canonicalAccountId } from "./ids";
import type { LimiterClock, PauseScope, RateLimiter } from "./limiter";
import type { ProviderId } from "./types";

export interface RawResponse {
  status: number;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  /** Parsed JSON, or `undefined` when the body is not valid JSON. */
  body: unknown;
}

export interface ClassifyContext {
  now: number;
  /**
   * Holds back the requests `scope` covers (default: every request of the platform) for `ms`,
   * e.g. when Meta's usage headers report a limit near 100%.
   */
  pause(ms: number, scope?: PauseScope): void;
}

/**
 * A platform's own error signals. Returns the classified error, or `undefined` to accept the
 * response (2xx) or fall back to the generic HTTP-status classification (non-2xx).
 */
export type Classifier = (response: RawResponse, ctx: ClassifyContext) => ProviderError | undefined;

export interface RequestSpec<T> {
  method: "GET" | "POST";
  /** Absolute URL; platforms with their own query encoding (LinkedIn Rest.li) build it fully. */
  url: string;
  params?: Record<string, string>;
  headers?: Record<string, string>;
  /** JSON body, or URLSearchParams for form-encoded token requests. */
  data?: unknown;
  /** Parses the JSON body; with `text`, the body as it came (a string). */
  schema: z.ZodType<T>;
  /** The answer is text, not JSON (TikTok's CSV report output); error answers are still JSON. */
  text?: boolean;
  /** What the request is, for messages: "insights act_1 page 2". */
  label: string;
}

/** Whom the requests are made for, so that a wait scoped to them holds back only theirs. */
export interface RequestScope {
  /** The ad account, in any spelling the platform accepts. */
  accountId?: string;
  /**
   * A stable value of the user's credentials (LinkedIn's "member": the refresh token, else the
   * access token); only a hash of it is kept.
   */
  member?: string;
}

export interface HttpOptions {
  provider: ProviderId;
  axios: AxiosInstance;
  limiter: RateLimiter;
  clock: LimiterClock;
  classify: Classifier;
  timeoutMs: number;
  maxInlineWaitMs: number;
  maxInlineRetries: number;
  /** Values that must never appear in an error message or log line. */
  secrets: readonly string[];
  /** No request starts at or after this time (ms since the epoch): the run's own deadline. */
  deadlineMs?: number;
  scope?: RequestScope;
  /** Counts every request sent (each attempt): the fetch's `requests`. */
  sent?: { requests: number };
}

/** Fallback wait when a platform signals a rate limit without saying how long. */
export const DEFAULT_RATE_LIMIT_WAIT_MS = 60_000;
const TRANSIENT_BACKOFF_MS = 250;

/**
 * The HTTP-status classification used when the platform's classifier has no opinion; `scope` is
 * what a 429 says is limited.
 */
export function classifyStatus(
  provider: ProviderId,
  response: RawResponse,
  now: number,
  scope: PauseScope = "platform",
): ProviderError {
  const { status } = response;
  const reason = `http_${status}`;
  if (status === 429) {
    return new ProviderError(
      provider,
      "rate_limited",
      reason,
      "rate limited by the platform",
      parseRetryAfter(response.headers["retry-after"], now) ?? DEFAULT_RATE_LIMIT_WAIT_MS,
      scope,
    );
  }
  if (status === 401) {
    return new ProviderError(provider, "auth", reason, "the platform rejected the access token");
  }
  if (status === 408 || status >= 500) {
    return new ProviderError(provider, "transient", reason, `platform error (HTTP ${status})`);
  }
  return new ProviderError(provider, "permanent", reason, `request rejected (HTTP ${status})`);
}

function parseJson(text: unknown): unknown {
  if (typeof text !== "string" || text.length === 0) {
    return undefined;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * The run's time budget ran out before this request: the work left is deferred like a rate
 * limit — the job goes back to the queue without spending an attempt (`jobs/backoff.ts`) — for
 * the platform did not fail, the function's timeout was near.
 */
export const runDeadlineError = (provider: ProviderId, label: string): ProviderError =>
  new ProviderError(
    provider,
    "rate_limited",
    "run_deadline",
    `${label}: not started, the run's time budget ran out`,
    0,
  );

/** The limiter key of an ad account: one key for every spelling of its id. */
const accountKey = (provider: ProviderId, accountId: string): string =>
  `account:${canonicalAccountId(provider, accountId)}`;

/** The scopes of this client's own requests. */
type OwnScope = Exclude<PauseScope, object>;

/** Why a request was not sent: the pause covering it, by scope. */
const PAUSED_REASONS: Readonly<Record<OwnScope, string>> = {
  platform: "paused",
  account: "account_paused",
  member: "member_paused",
};

export class PlatformHttp {
  /** The limiter keys of this client's requests, by the scope they stand for. */
  private readonly keys: Partial<Record<Exclude<OwnScope, "platform">, string>>;

  constructor(private readonly options: HttpOptions) {
    const { accountId, member } = options.scope ?? {};
    this.keys = {
      ...(accountId === undefined ? {} : { account: accountKey(options.provider, accountId) }),
      ...(member === undefined
        ? {}
        : { member: `member:${createHash("sha256").update(member).digest("hex").slice(0, 32)}` }),
    };
  }

  /**
   * The limiter key a scope stands for, `undefined` for the whole platform. A scope this client
   * has no key for (an account-scoped signal on a token refresh) pauses the whole platform: a
   * wait we cannot place must not be skipped by sending more requests into it.
   */
  private keyOf(scope: PauseScope): string | undefined {
    if (typeof scope === "object") {
      return accountKey(this.options.provider, scope.account);
    }
    return scope === "platform" ? undefined : this.keys[scope];
  }

  /** The longest pause covering this client's requests, and the scope it was set for. */
  private pauseInForce(): { scope: OwnScope; ms: number } {
    const { limiter } = this.options;
    const pauses = (["platform", "account", "member"] as const)
      .filter((scope) => scope === "platform" || this.keys[scope] !== undefined)
      .map((scope) => ({ scope, ms: limiter.remainingPauseMs(this.keyOf(scope)) }));
    return pauses.reduce((longest, pause) => (pause.ms > longest.ms ? pause : longest));
  }

  async request<T>(spec: RequestSpec<T>): Promise<T> {
    const { limiter, clock, maxInlineRetries, maxInlineWaitMs, deadlineMs } = this.options;
    for (let attempt = 0; ; attempt += 1) {
      if (deadlineMs !== undefined && clock.now() >= deadlineMs) {
        throw runDeadlineError(this.options.provider, spec.label);
      }
      let error: ProviderError;
      try {
        return await this.attempt(spec);
      } catch (caught) {
        error = this.toProviderError(caught, spec.label);
      }
      if (error.code === "rate_limited") {
        // Only what the platform said is limited waits: a throttled ad account does not hold back
        // the others (the job engine defers just the jobs that got the error).
        limiter.pauseFor(error.retryAfterMs ?? DEFAULT_RATE_LIMIT_WAIT_MS, this.keyOf(error.scope));
      }
      const inlineWait =
        error.code === "transient"
          ? TRANSIENT_BACKOFF_MS * 2 ** attempt
          : error.code === "rate_limited" && (error.retryAfterMs ?? Infinity) <= maxInlineWaitMs
            ? 0 // the limiter itself holds the next request back until the wait has passed
            : undefined;
      if (inlineWait === undefined || attempt >= maxInlineRetries) {
        throw error;
      }
      await clock.sleep(inlineWait);
    }
  }

  private async attempt<T>(spec: RequestSpec<T>): Promise<T> {
    const { provider, limiter, clock, classify, timeoutMs, maxInlineWaitMs } = this.options;
    // A long platform-requested pause (Google can ask for hours) fails fast instead of holding
    // the function inside the limiter: the job is deferred with the remaining wait. A pause of
    // this request's account or member fails only this request, not the other accounts'.
    const paused = this.pauseInForce();
    if (paused.ms > maxInlineWaitMs) {
      throw new ProviderError(
        provider,
        "rate_limited",
        PAUSED_REASONS[paused.scope],
        `${spec.label}: the platform asked us to wait${paused.scope === "platform" ? "" : ` (this ${paused.scope} only)`}`,
        paused.ms,
        paused.scope,
      );
    }
    const response = await limiter.run(() => {
      if (this.options.sent) {
        this.options.sent.requests += 1;
      }
      return this.options.axios.request<string>({
        method: spec.method,
        url: spec.url,
        params: spec.params,
        headers: spec.headers,
        data: spec.data,
        timeout: timeoutMs,
        // The socket timeout above does not bound a body that trickles in; this does.
        signal: AbortSignal.timeout(timeoutMs),
        responseType: "text",
        transformResponse: (data: unknown) => data,
        validateStatus: () => true,
        maxRedirects: 0,
      });
    }, Object.values(this.keys));
    const raw: RawResponse = {
      status: response.status,
      headers: Object.fromEntries(
        Object.entries(response.headers).map(([name, value]) => [
          name.toLowerCase(),
          Array.isArray(value) ? value.join(", ") : String(value),
        ]),
      ),
      body: parseJson(response.data),
    };
    const now = clock.now();
    const classified =
      classify(raw, {
        now,
        pause: (ms, scope = "platform") => limiter.pauseFor(ms, this.keyOf(scope)),
      }) ??
      (raw.status >= 200 && raw.status < 300 ? undefined : classifyStatus(provider, raw, now));
    if (classified) {
      throw classified;
    }
    const parsed = spec.schema.safeParse(spec.text ? response.data : raw.body);
    if (!parsed.success) {
      const where = parsed.error.issues[0]?.path.join(".") || "body";
      const what = spec.text
        ? `invalid: ${parsed.error.issues[0]?.message ?? "body"}`
        : raw.body === undefined
          ? "not JSON"
          : `invalid at ${where}`;
      throw new ProviderError(
        provider,
        "transient",
        "malformed_response",
        `${spec.label}: unexpected response (${what})`,
      );
    }
    return parsed.data;
  }

  private toProviderError(caught: unknown, label: string): ProviderError {
    const { provider, secrets } = this.options;
    if (caught instanceof ProviderError) {
      return caught.redacted(secrets);
    }
    if (axios.isAxiosError(caught) || (caught instanceof Error && caught.name === "AbortError")) {
      const code = (caught as { code?: string }).code;
      const timedOut =
        code === "ECONNABORTED" ||
        code === "ETIMEDOUT" ||
        code === "ERR_CANCELED" ||
        caught.name === "AbortError" ||
        caught.name === "TimeoutError";
      return new ProviderError(
        provider,
        "transient",
        timedOut ? "timeout" : "network",
        `${label}: ${timedOut ? `no response within ${this.options.timeoutMs} ms` : `connection failed (${code ?? "unknown"})`}`,
      );
    }
    return new ProviderError(
      provider,
      "transient",
      "unexpected",
      redact(`${label}: ${caught instanceof Error ? caught.message : String(caught)}`, secrets),
    );
  }
}
