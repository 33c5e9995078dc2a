import { parseRetryAfter, ProviderError, redact } from "../../../src/providers/errors";

describe("redact", () => {
  it("removes every occurrence of every secret", () => {
    expect(redact("token abcd1234 and again abcd1234, secret xyz987", ["abcd1234", "xyz987"])).toBe(
      "token [REDACTED] and again [REDACTED], secret [REDACTED]",
    );
  });

  it("ignores empty and very short values that would shred ordinary text", () => {
    expect(redact("a normal message", ["", "a"])).toBe("a normal message");
  });
});

describe("parseRetryAfter", () => {
  const now = Date.parse("2026-01-01T00:00:00Z");

  it("reads delta-seconds", () => {
    expect(parseRetryAfter("30", now)).toBe(30_000);
    expect(parseRetryAfter("1.5", now)).toBe(1_500);
  });

  it("reads an HTTP date relative to now", () => {
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:01:00 GMT", now)).toBe(60_000);
  });

  it("returns undefined for absent or unreadable values", () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter("soon", now)).toBeUndefined();
  });
});

describe("ProviderError", () => {
  it("keeps its class and wait when redacted", () => {
    const error = new ProviderError(
      "meta",
      "rate_limited",
      "meta_code_17",
      "token SECRET1 x",
      5000,
    );
    const clean = error.redacted(["SECRET1"]);
    expect(clean.toInfo()).toEqual({
      code: "rate_limited",
      reason: "meta_code_17",
      message: "token [REDACTED] x",
      retryAfterMs: 5000,
    });
  });
});
