/** The shared HTTP path over real HTTP against a scripted loopback server. */
import type { ServerResponse } from "node:http";

import axios from "axios";
import { z } from "zod";

import { ProviderError } from "../../../src/providers/errors";
import { type Classifier, PlatformHttp, type RequestScope } from "../../../src/providers/http";
import { type PauseScope, RateLimiter, realClock } from "../../../src/providers/limiter";
import { listenOnLoopback, type RunningServer } from "../../harness/http";

type Script = (res: ServerResponse, attempt: number) => void;

let server: RunningServer;
let script: Script = (res) => res.end("{}");
let hits: number[] = [];

beforeAll(async () => {
  server = await listenOnLoopback((_req, res) => {
    hits.push(Date.now());
    script(res, hits.length);
  });
});
afterAll(() => server.close());
beforeEach(() => {
  hits = [];
});

const TOKEN = "tok-super-secret-123456";
const okSchema = z.object({ ok: z.literal(true) });

function client(
  options: {
    classify?: Classifier;
    timeoutMs?: number;
    maxInlineWaitMs?: number;
    deadlineMs?: number;
    limiter?: RateLimiter;
    scope?: RequestScope;
  } = {},
) {
  return new PlatformHttp({
    provider: "google",
    axios: axios.create(),
    limiter: options.limiter ?? new RateLimiter({ requestsPerSecond: 100, concurrency: 4 }),
    clock: realClock,
    classify: options.classify ?? (() => undefined),
    timeoutMs: options.timeoutMs ?? 2000,
    maxInlineWaitMs: options.maxInlineWaitMs ?? 2000,
    maxInlineRetries: 2,
    secrets: [TOKEN],
    ...(options.deadlineMs === undefined ? {} : { deadlineMs: options.deadlineMs }),
    ...(options.scope === undefined ? {} : { scope: options.scope }),
  });
}

const get = (http: PlatformHttp) =>
  http.request({ method: "GET", url: `${server.url}/x`, schema: okSchema, label: "probe" });

const json = (res: ServerResponse, status: number, body: unknown, headers = {}) => {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
};

async function failure(promise: Promise<unknown>): Promise<ProviderError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ProviderError) {
      return error;
    }
    throw error;
  }
  throw new Error("expected a ProviderError");
}

describe("PlatformHttp", () => {
  it("returns the validated body", async () => {
    script = (res) => json(res, 200, { ok: true });
    await expect(get(client())).resolves.toEqual({ ok: true });
  });

  it("classifies a body that fails validation as transient after bounded retries", async () => {
    script = (res) => json(res, 200, { ok: "yes" });
    const error = await failure(get(client()));
    expect(error.code).toBe("transient");
    expect(error.reason).toBe("malformed_response");
    expect(hits).toHaveLength(3);
  });

  it("classifies a non-JSON body as transient", async () => {
    script = (res) => res.end("<html>oops</html>");
    const error = await failure(get(client()));
    expect(error.message).toContain("not JSON");
  });

  it("recovers from a transient 503 on an inline retry", async () => {
    script = (res, attempt) => (attempt === 1 ? json(res, 503, {}) : json(res, 200, { ok: true }));
    await expect(get(client())).resolves.toEqual({ ok: true });
    expect(hits).toHaveLength(2);
  });

  it("honours a short Retry-After inline, no sooner than asked", async () => {
    script = (res, attempt) =>
      attempt === 1 ? json(res, 429, {}, { "retry-after": "1" }) : json(res, 200, { ok: true });
    await expect(get(client())).resolves.toEqual({ ok: true });
    expect(hits[1]! - hits[0]!).toBeGreaterThanOrEqual(1000);
  });

  it("hands a long wait back to the caller instead of sleeping in the function", async () => {
    script = (res) => json(res, 429, {}, { "retry-after": "120" });
    const error = await failure(get(client()));
    expect(error.code).toBe("rate_limited");
    expect(error.retryAfterMs).toBe(120_000);
    expect(hits).toHaveLength(1);
  });

  it("starts no request at or after the run's deadline, nor an inline retry", async () => {
    const late = await failure(get(client({ deadlineMs: Date.now() - 1 })));
    expect(late).toMatchObject({ code: "rate_limited", reason: "run_deadline", retryAfterMs: 0 });
    expect(hits).toHaveLength(0);
    // A transient failure is not retried inline once the deadline has passed meanwhile.
    script = (res) => setTimeout(() => json(res, 503, {}), 300);
    const cut = await failure(get(client({ deadlineMs: Date.now() + 100 })));
    expect(cut.reason).toBe("run_deadline");
    expect(hits).toHaveLength(1);
  });

  it("fails fast while a long platform-requested pause lasts, without calling the platform", async () => {
    script = (res) => json(res, 429, {}, { "retry-after": "120" });
    const http = client();
    await failure(get(http));
    const second = await failure(get(http));
    expect(second).toMatchObject({ code: "rate_limited", reason: "paused" });
    expect(second.retryAfterMs).toBeGreaterThan(110_000);
    expect(hits).toHaveLength(1);
  });

  it.each([
    [401, "auth"],
    [403, "permanent"],
    [404, "permanent"],
    [400, "permanent"],
  ] as const)("classifies HTTP %d as %s without retrying", async (status, code) => {
    script = (res) => json(res, status, {});
    const error = await failure(get(client()));
    expect(error.code).toBe(code);
    expect(hits).toHaveLength(1);
  });

  it("times out a hanging response as transient", async () => {
    script = () => undefined; // never answers
    const error = await failure(get(client({ timeoutMs: 200 })));
    expect(error.code).toBe("transient");
    expect(error.reason).toBe("timeout");
  });

  it("classifies a refused connection as transient", async () => {
    const http = client();
    const error = await failure(
      http.request({
        method: "GET",
        url: "http://127.0.0.1:1/x",
        schema: okSchema,
        label: "probe",
      }),
    );
    expect(error.code).toBe("transient");
    expect(error.reason).toBe("network");
  });

  it("lets the platform classify a 200 with an error body, and redacts secrets from it", async () => {
    script = (res) => json(res, 200, { code: 40105, message: `bad token ${TOKEN}` });
    const classify: Classifier = (raw) => {
      const body = raw.body as { code?: number; message?: string };
      return body.code
        ? new ProviderError("google", "auth", `code_${body.code}`, body.message ?? "")
        : undefined;
    };
    const error = await failure(get(client({ classify })));
    expect(error.code).toBe("auth");
    expect(error.message).toBe("bad token [REDACTED]");
  });
});

describe("PlatformHttp: waits held back where the platform scopes them", () => {
  /** Answers a 429 with a two-minute wait for `scope`, as a platform classifier would. */
  const throttledFor =
    (scope: PauseScope): Classifier =>
    (raw) =>
      raw.status === 429
        ? new ProviderError("google", "rate_limited", "throttled", "throttled", 120_000, scope)
        : undefined;
  const firstThrottled = (res: ServerResponse, attempt: number) =>
    attempt === 1 ? json(res, 429, {}) : json(res, 200, { ok: true });

  it("holds back only the throttled account's requests, whichever spelling of its id", async () => {
    script = firstThrottled;
    const limiter = new RateLimiter({ requestsPerSecond: 100, concurrency: 4 });
    const forAccount = (accountId: string) =>
      client({ limiter, classify: throttledFor("account"), scope: { accountId } });

    await failure(get(forAccount("1234567890")));
    const paused = await failure(get(forAccount("123-456-7890")));
    expect(paused).toMatchObject({ code: "rate_limited", reason: "account_paused" });
    expect(paused.retryAfterMs).toBeGreaterThan(110_000);
    await expect(get(forAccount("2345678901"))).resolves.toEqual({ ok: true });
    await expect(get(client({ limiter }))).resolves.toEqual({ ok: true });
    // The throttled request, then one for the other account and one without an account.
    expect(hits).toHaveLength(3);
  });

  it("holds back only the throttled member's requests, for every account of theirs", async () => {
    script = firstThrottled;
    const limiter = new RateLimiter({ requestsPerSecond: 100, concurrency: 4 });
    const forMember = (member: string, accountId: string) =>
      client({ limiter, classify: throttledFor("member"), scope: { member, accountId } });

    await failure(get(forMember("refresh-token-a", "1234567890")));
    expect(await failure(get(forMember("refresh-token-a", "2345678901")))).toMatchObject({
      code: "rate_limited",
      reason: "member_paused",
    });
    await expect(get(forMember("refresh-token-b", "1234567890"))).resolves.toEqual({ ok: true });
    expect(hits).toHaveLength(2);
  });

  it("holds back every request on a platform-wide signal, and on one it cannot place", async () => {
    for (const [scope, clientScope] of [
      ["platform", { accountId: "1234567890" }],
      // An account-scoped signal on a request made for no account (a token refresh).
      ["account", {}],
    ] as const) {
      script = (res) => json(res, 429, {});
      hits = [];
      const limiter = new RateLimiter({ requestsPerSecond: 100, concurrency: 4 });
      await failure(get(client({ limiter, classify: throttledFor(scope), scope: clientScope })));
      const other = client({ limiter, scope: { accountId: "2345678901" } });
      expect(await failure(get(other))).toMatchObject({ code: "rate_limited", reason: "paused" });
      expect(hits).toHaveLength(1);
    }
  });

  it("pauses an account the platform names in a response, not the one the request was for", async () => {
    script = (res) => json(res, 200, { ok: true });
    const limiter = new RateLimiter({ requestsPerSecond: 100, concurrency: 4 });
    // Meta keys its Business Use Case usage by the ad account it counts.
    const naming: Classifier = (_raw, ctx) => {
      ctx.pause(120_000, { account: "234-567-8901" });
      return undefined;
    };
    await get(client({ limiter, classify: naming, scope: { accountId: "1234567890" } }));

    expect(
      await failure(get(client({ limiter, scope: { accountId: "2345678901" } }))),
    ).toMatchObject({ code: "rate_limited", reason: "account_paused" });
    await expect(get(client({ limiter, scope: { accountId: "1234567890" } }))).resolves.toEqual({
      ok: true,
    });
    expect(hits).toHaveLength(2);
  });
});
