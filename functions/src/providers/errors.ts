import type { PauseScope } from "./limiter";
import type { ProviderErrorCode, ProviderErrorInfo, ProviderId } from "./types";

/**
 * An error classified inside the adapter layer. Messages are built by us from vendor error
 * fields and pass through `redact()`, so they never carry a token or secret. `scope` says what a
 * `rate_limited` error's wait holds back (`limiter.ts`); it stays inside the adapter layer.
 */
export class ProviderError extends Error {
  constructor(
    readonly provider: ProviderId,
    readonly code: ProviderErrorCode,
    readonly reason: string,
    message: string,
    readonly retryAfterMs?: number,
    readonly scope: PauseScope = "platform",
  ) {
    super(message);
    this.name = "ProviderError";
  }

  /** The same error with every secret removed from its message. */
  redacted(secrets: readonly string[]): ProviderError {
    return new ProviderError(
      this.provider,
      this.code,
      this.reason,
      redact(this.message, secrets),
      this.retryAfterMs,
      this.scope,
    );
  }

  toInfo(): ProviderErrorInfo {
    return {
      code: this.code,
      reason: this.reason,
      message: this.message,
      ...(this.retryAfterMs === undefined ? {} : { retryAfterMs: this.retryAfterMs }),
    };
  }
}

/** Replaces every occurrence of each secret (tokens, client secrets) with `[REDACTED]`. */
export function redact(text: string, secrets: readonly string[]): string {
  return secrets
    .filter((secret) => secret.length >= 4)
    .reduce((out, secret) => out.split(secret).join("[REDACTED]"), text);
}

/** Parses an HTTP `Retry-After` value (delta-seconds or HTTP-date) into milliseconds. */
export function parseRetryAfter(value: unknown, now: number): number | undefined {
  if (typeof value !== "string" || value.trim() === "") {
    return undefined;
  }
  if (/^\d+(\.\d+)?$/.test(value.trim())) {
    return Math.round(Number(value) * 1000);
  }
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
