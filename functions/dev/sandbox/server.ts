/**
 * The sandbox ad-platform server: one loopback HTTP server with each platform under its own
 * prefix (`/google`, `/meta`, `/linkedin`, `/tiktok`), so an adapter reaches it by base-URL
 * configuration alone. Faults (rate limits, throttles of one account, member or the app, 5xx,
 * slow, malformed and truncated bodies) are injected here, in each platform's own format; control endpoints under `/__sandbox/` let a
 * person flip them while `npm start` runs.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

import { z } from "zod";

import { PROVIDER_IDS, type ProviderId } from "../../src/providers/types";
import type { PlatformSandbox, SandboxReply, SandboxRequest } from "./platform";
import { type FaultKnobs, type SandboxWorld, THROTTLE_SCOPES } from "./world";

export interface RunningSandbox {
  url: string;
  world: SandboxWorld;
  /** `PROVIDER_SETTINGS` overrides pointing each platform (and its token URL) at the sandbox. */
  baseUrls(): Record<ProviderId, { baseUrl: string; tokenUrl?: string; introspectUrl?: string }>;
  stop(): Promise<void>;
}

const faultKnobsSchema = z.strictObject({
  rateLimit: z
    .strictObject({
      count: z.number().int().min(0),
      retryAfterSeconds: z.number().min(0),
    })
    .optional(),
  serverErrors: z.number().int().min(0).optional(),
  slowMs: z.number().int().min(0).max(600_000).optional(),
  malformed: z.number().int().min(0).optional(),
  truncated: z.number().int().min(0).optional(),
  revokeTokens: z.boolean().optional(),
  forbiddenAccounts: z.array(z.string()).optional(),
  omitLocalCost: z.boolean().optional(),
  maxRowsPerQuery: z.number().int().min(1).optional(),
  throttles: z
    .array(
      z
        .strictObject({
          scope: z.enum(THROTTLE_SCOPES),
          id: z.string().min(1).optional(),
          retryAfterSeconds: z.number().min(0),
        })
        .refine((throttle) => throttle.scope === "app" || throttle.id !== undefined, {
          error: "an account or member throttle names its id",
        }),
    )
    .optional(),
  pagingWithoutCursors: z.boolean().optional(),
  appQps: z.number().positive().optional(),
  asyncReports: z
    .strictObject({
      checksBeforeDone: z.number().int().min(0).optional(),
      failReports: z.number().int().min(0).optional(),
      stuckAboveRows: z.number().int().min(0).optional(),
      notAllowed: z.boolean().optional(),
    })
    .optional(),
}) satisfies z.ZodType<FaultKnobs>;

/** The OAuth token endpoints (Google's `/token`, LinkedIn's): not the APIs' rate-limited calls. */
const OAUTH_PATHS: ReadonlySet<string> = new Set([
  "/token",
  "/oauth/v2/accessToken",
  "/oauth/v2/introspectToken",
]);

function parseBody(raw: string, contentType: string | undefined): unknown {
  if (raw.length === 0) {
    return undefined;
  }
  if (contentType?.includes("application/x-www-form-urlencoded")) {
    return Object.fromEntries(new URLSearchParams(raw));
  }
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return undefined;
  }
}

function write(res: ServerResponse, reply: SandboxReply): void {
  const text = typeof reply.body === "string" ? reply.body : JSON.stringify(reply.body);
  res.writeHead(reply.status, { "content-type": "application/json", ...reply.headers });
  res.end(text);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function startSandbox(options: {
  world: SandboxWorld;
  platforms: readonly PlatformSandbox[];
  port?: number;
}): Promise<RunningSandbox> {
  const { world } = options;
  const platforms = new Map(options.platforms.map((platform) => [platform.provider, platform]));

  const control = (req: SandboxRequest): SandboxReply => {
    const [, , action, provider] = req.path.split("/");
    if (!PROVIDER_IDS.includes(provider as ProviderId)) {
      return { status: 404, body: { error: `unknown platform "${provider}"` } };
    }
    const id = provider as ProviderId;
    if (action === "faults" && req.method === "POST") {
      const knobs = faultKnobsSchema.safeParse(req.body ?? {});
      if (!knobs.success) {
        return { status: 400, body: { error: z.prettifyError(knobs.error) } };
      }
      world.setFaults(id, knobs.data);
      return { status: 200, body: { provider: id, faults: world.faults(id) } };
    }
    if (action === "faults" && req.method === "GET") {
      return { status: 200, body: { provider: id, faults: world.faults(id) } };
    }
    if (action === "expire-tokens" && req.method === "POST") {
      return { status: 200, body: { provider: id, expired: world.expireAccessTokens(id) } };
    }
    return { status: 404, body: { error: "unknown control endpoint" } };
  };

  const route = async (
    req: SandboxRequest,
    prefix: string,
    receivedAt: number,
  ): Promise<SandboxReply | "truncate"> => {
    if (prefix === "__sandbox") {
      return control(req);
    }
    const platform = platforms.get(prefix as ProviderId);
    if (!platform) {
      return { status: 404, body: { error: "no such platform" } };
    }
    const subject = platform.subjectOf(req);
    world.requestLog.push({
      provider: platform.provider,
      path: req.path,
      at: receivedAt,
      ...(subject.accountId === undefined ? {} : { accountId: subject.accountId }),
    });
    const knobs = world.faults(platform.provider);
    if (knobs.slowMs) {
      await sleep(knobs.slowMs);
    }
    // The app's rate limit counts every API call (account lookups too), not the OAuth server's.
    if (!OAUTH_PATHS.has(req.path) && !world.takeAppToken(platform.provider, receivedAt)) {
      const refused = platform.throttled("app", 1, subject);
      if (refused) {
        return refused;
      }
    }
    if (!platform.isReportingRequest(req)) {
      return platform.handle(req, world);
    }
    const retryAfter = world.takeRateLimit(platform.provider);
    if (retryAfter !== undefined) {
      return platform.rateLimited(retryAfter);
    }
    for (const { scope, retryAfterSeconds } of world.throttlesFor(platform.provider, subject)) {
      const throttled = platform.throttled(scope, retryAfterSeconds, subject);
      if (throttled) {
        return throttled;
      }
    }
    if (world.take(platform.provider, "serverErrors")) {
      return platform.serverError();
    }
    if (world.take(platform.provider, "malformed")) {
      return { status: 200, body: "<html><body>Service temporarily unavailable</body></html>" };
    }
    if (world.take(platform.provider, "truncated")) {
      return "truncate";
    }
    return platform.handle(req, world);
  };

  const server = createServer((incoming: IncomingMessage, res: ServerResponse) => {
    // Logged when the request arrives, not after its body: rate measurements stay exact.
    const receivedAt = Date.now();
    const chunks: Buffer[] = [];
    incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
    incoming.on("end", () => {
      const rawBody = Buffer.concat(chunks).toString("utf8");
      const url = new URL(incoming.url ?? "/", "http://sandbox");
      const [, prefix = "", ...rest] = url.pathname.split("/");
      const req: SandboxRequest = {
        method: incoming.method ?? "GET",
        path: `/${rest.join("/")}`,
        rawQuery: (incoming.url ?? "").split("?")[1] ?? "",
        query: url.searchParams,
        headers: incoming.headers,
        rawBody,
        body: parseBody(rawBody, incoming.headers["content-type"]),
      };
      if (prefix === "__sandbox") {
        req.path = url.pathname;
      }
      route(req, prefix, receivedAt)
        .then((reply) => {
          if (reply === "truncate") {
            // A body cut off mid-way: the connection closes before the promised length arrives.
            const partial = '{"data":[{"campaign';
            res.writeHead(200, {
              "content-type": "application/json",
              "content-length": String(partial.length + 100),
            });
            res.write(partial);
            res.destroy();
            return;
          }
          write(res, reply);
        })
        .catch((error: unknown) => {
          write(res, { status: 500, body: { error: String(error) } });
        });
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;

  return {
    url,
    world,
    baseUrls: () => ({
      google: { baseUrl: `${url}/google`, tokenUrl: `${url}/google/token` },
      meta: { baseUrl: `${url}/meta` },
      linkedin: {
        baseUrl: `${url}/linkedin/rest`,
        tokenUrl: `${url}/linkedin/oauth/v2/accessToken`,
        introspectUrl: `${url}/linkedin/oauth/v2/introspectToken`,
      },
      tiktok: { baseUrl: `${url}/tiktok/open_api/v1.3` },
    }),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
