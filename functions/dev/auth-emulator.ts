/**
 * A small local stand-in for the Firebase Auth emulator (the real one ships with firebase-tools,
 * which the test install leaves out): just enough for firebase-admin 13's
 * `verifyIdToken(token, true)` with FIREBASE_AUTH_EMULATOR_HOST set.
 *
 * What firebase-admin checks under the emulator (lib/auth/token-verifier.js, utils/jwt.js,
 * base-auth.js, auth-api-request.js):
 * - the token is a JWT with `alg: "none"` and an empty signature (no `kid` needed);
 * - `aud` is the project id, `iss` is `https://securetoken.google.com/<projectId>`, `sub` is a
 *   non-empty uid of at most 128 characters, and `exp` has not passed;
 * - then, always under the emulator, the user is fetched with
 *   `POST /identitytoolkit.googleapis.com/v1/projects/<projectId>/accounts:lookup`
 *   (`{localId: [uid]}`, `Authorization: Bearer owner`): a disabled user is refused, and a token
 *   whose `auth_time` is before the user's `validSince` (seconds) is revoked.
 *
 * Tokens are minted the way the real emulator mints them (same header, claims and custom claims
 * at the top level), so code under test cannot tell the difference.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface MintOptions {
  uid: string;
  email?: string;
  emailVerified?: boolean;
  /** Custom claims, e.g. `{admin: true}`; they appear at the top level of the token. */
  claims?: Record<string, unknown>;
}

export interface RunningAuthEmulator {
  /** `host:port`, the value for FIREBASE_AUTH_EMULATOR_HOST. */
  host: string;
  projectId: string;
  /** Creates or updates the user and returns a fresh ID token for them. */
  mintIdToken(options: MintOptions): string;
  /** Revokes every token issued to the user so far (sets `validSince`). */
  revoke(uid: string): void;
  disableUser(uid: string): void;
  stop(): Promise<void>;
}

interface UserRecord {
  localId: string;
  email?: string;
  emailVerified: boolean;
  disabled: boolean;
  customAttributes?: string;
  /** Seconds since the epoch; tokens authenticated before it are revoked. */
  validSince?: number;
  /** The latest `auth_time` issued, so `revoke` covers every token minted so far. */
  lastAuthTime: number;
  createdAt: number;
}

const TOKEN_LIFETIME_SECONDS = 3600;
const LOOKUP_PATH = /^\/identitytoolkit\.googleapis\.com\/v1\/projects\/([^/]+)\/accounts:lookup$/;

const base64url = (value: unknown): string =>
  Buffer.from(JSON.stringify(value)).toString("base64url");

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify(body));
}

/** The Identity Toolkit error envelope firebase-admin reads its error code from. */
const apiError = (res: ServerResponse, status: number, message: string): void =>
  sendJson(res, status, {
    error: { code: status, message, errors: [{ message, reason: message }] },
  });

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
  } catch {
    return undefined;
  }
}

function lookupIds(body: unknown): string[] | undefined {
  const localId = (body as { localId?: unknown } | undefined)?.localId;
  return Array.isArray(localId) && localId.every((id) => typeof id === "string")
    ? localId
    : undefined;
}

export async function startAuthEmulator(options: {
  projectId: string;
}): Promise<RunningAuthEmulator> {
  const { projectId } = options;
  const users = new Map<string, UserRecord>();

  const lookup = async (req: IncomingMessage, res: ServerResponse, project?: string) => {
    const ids = lookupIds(await readJson(req));
    if (!ids) {
      apiError(res, 400, "INVALID_ID");
      return;
    }
    // One project per stand-in; another project's lookup finds no one, as in the emulator.
    const found = project === projectId ? ids.flatMap((id) => users.get(id) ?? []) : [];
    sendJson(res, 200, {
      kind: "identitytoolkit#GetAccountInfoResponse",
      ...(found.length > 0 ? { users: found.map(toApiUser) } : {}),
    });
  };

  const server = createServer((req, res) => {
    const match = LOOKUP_PATH.exec(req.url ?? "");
    if (req.method !== "POST" || !match) {
      apiError(res, 404, "NOT_FOUND");
      return;
    }
    // The Admin SDK sends the emulator's fixed "owner" credential; anything else is refused.
    if (req.headers.authorization !== "Bearer owner") {
      apiError(res, 401, "INSUFFICIENT_PERMISSION");
      return;
    }
    lookup(req, res, match[1]).catch(() => apiError(res, 500, "INTERNAL_ERROR"));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  const user = (uid: string): UserRecord => {
    const found = users.get(uid);
    if (!found) {
      throw new Error(`auth emulator: no user ${uid}`);
    }
    return found;
  };

  return {
    host: `127.0.0.1:${port}`,
    projectId,
    mintIdToken({ uid, email, emailVerified = false, claims = {} }) {
      const now = Math.floor(Date.now() / 1000);
      const existing = users.get(uid);
      // A token minted after a revocation is a new sign-in: never older than validSince.
      const authTime = Math.max(now, existing?.validSince ?? 0);
      users.set(uid, {
        localId: uid,
        ...(email !== undefined ? { email } : {}),
        emailVerified,
        disabled: existing?.disabled ?? false,
        ...(Object.keys(claims).length > 0 ? { customAttributes: JSON.stringify(claims) } : {}),
        ...(existing?.validSince !== undefined ? { validSince: existing.validSince } : {}),
        lastAuthTime: Math.max(authTime, existing?.lastAuthTime ?? 0),
        createdAt: existing?.createdAt ?? now,
      });
      const payload = {
        ...claims,
        ...(email !== undefined ? { email, email_verified: emailVerified } : {}),
        auth_time: authTime,
        user_id: uid,
        firebase: {
          identities: email !== undefined ? { email: [email] } : {},
          sign_in_provider: email !== undefined ? "password" : "custom",
        },
        iat: now,
        exp: now + TOKEN_LIFETIME_SECONDS,
        aud: projectId,
        iss: `https://securetoken.google.com/${projectId}`,
        sub: uid,
      };
      return `${base64url({ alg: "none", typ: "JWT" })}.${base64url(payload)}.`;
    },
    revoke(uid) {
      const record = user(uid);
      // Strictly after every auth_time issued so far: revocation must not depend on the clock
      // having ticked over a second since the last token was minted.
      record.validSince = Math.max(Math.floor(Date.now() / 1000), record.lastAuthTime + 1);
    },
    disableUser(uid) {
      user(uid).disabled = true;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function toApiUser(record: UserRecord): Record<string, unknown> {
  return {
    localId: record.localId,
    ...(record.email !== undefined ? { email: record.email } : {}),
    emailVerified: record.emailVerified,
    disabled: record.disabled,
    ...(record.customAttributes !== undefined ? { customAttributes: record.customAttributes } : {}),
    ...(record.validSince !== undefined ? { validSince: String(record.validSince) } : {}),
    createdAt: String(record.createdAt * 1000),
    providerUserInfo: [],
  };
}
