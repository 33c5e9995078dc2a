/**
 * Seeds the demo users, idempotently:
 *
 * - into Firestore: integrations keep their sync history and automation choices across runs
 *   (merge), credentials are the tokens this sandbox issued, sealed with the keys the local
 *   functions read (TOKEN_ENCRYPTION_KEYS; dev/local.env by default);
 * - into the Auth emulator: the demo users and the admin, with verified e-mail addresses and the
 *   local password, so that ID tokens come from the emulator's own sign-in.
 */
import type { Auth } from "firebase-admin/auth";
import type { Firestore } from "firebase-admin/firestore";

import { writeCredentials } from "../src/integrations/credentials";
import { integrationPath } from "../src/integrations/model";
import { requireTokenKeys } from "../src/integrations/token-keys";
import { readRawEnv } from "../src/params";
import type { RawEnv } from "../src/shared/config";
import { DEMO_USERS } from "./sandbox";
import type { SandboxWorld } from "./sandbox/world";

/** Access-token lifetimes the sandbox issues, as the platforms do (Meta/TikTok: long-lived). */
const TOKEN_LIFETIMES_MS = { google: 3_600_000, linkedin: 60 * 86_400_000 } as const;

export async function seedDemo(
  db: Firestore,
  world: SandboxWorld,
  env: RawEnv = readRawEnv(),
): Promise<number> {
  const keys = requireTokenKeys(env);
  let seeded = 0;
  for (const user of DEMO_USERS) {
    await db.doc(`users/${user.userId}`).set({ email: user.email }, { merge: true });
    for (const integration of user.integrations) {
      const ref = db.doc(integrationPath(user.userId, integration.providerId));
      const existing = await ref.get();
      await ref.set(
        {
          accountIds: integration.accounts.map((account) => account.id),
          ...(existing.exists
            ? {}
            : {
                status: "active",
                automation: {
                  autoSync: integration.autoSync,
                  cadenceHours: integration.cadenceHours,
                  lookbackDays: null,
                },
              }),
        },
        { merge: true },
      );
      const provider = integration.providerId;
      const lifetimeMs =
        provider === "google" || provider === "linkedin" ? TOKEN_LIFETIMES_MS[provider] : undefined;
      const tokens = world.issueTokens(provider, {
        refreshable: lifetimeMs !== undefined,
        ...(lifetimeMs === undefined ? {} : { lifetimeMs }),
      });
      await writeCredentials(db, keys, user.userId, provider, tokens);
      seeded += 1;
    }
  }
  return seeded;
}

export interface LocalUser {
  uid: string;
  email: string;
}

/** The first address of ADMIN_EMAILS, the admin the local stack signs in. */
export const firstAdminEmail = (adminEmails: string | undefined): string | undefined =>
  adminEmails?.split(",")[0]?.trim().toLowerCase() || undefined;

/** The demo users, and the first admin address (unless it is a demo user's) as `local-admin`. */
export function localUsers(adminEmails: string | undefined): LocalUser[] {
  const users: LocalUser[] = DEMO_USERS.map(({ userId, email }) => ({ uid: userId, email }));
  const admin = firstAdminEmail(adminEmails);
  if (admin && !users.some((user) => user.email === admin)) {
    users.push({ uid: "local-admin", email: admin });
  }
  return users;
}

const authCode = (error: unknown): string | undefined =>
  (error as { code?: unknown } | null)?.code?.toString();

/**
 * Makes `email` a verified user with `password`: an existing user with that address keeps its
 * uid; otherwise the user is created with `uid` (or takes it over when it has another address).
 * Returns the uid.
 */
export async function ensureAuthUser(
  auth: Auth,
  user: { uid?: string; email: string },
  password: string,
): Promise<string> {
  const wanted = { email: user.email, password, emailVerified: true };
  const existing = await auth.getUserByEmail(user.email).catch((error: unknown) => {
    if (authCode(error) === "auth/user-not-found") {
      return undefined;
    }
    throw error;
  });
  if (existing) {
    await auth.updateUser(existing.uid, wanted);
    return existing.uid;
  }
  try {
    return (await auth.createUser({ ...(user.uid ? { uid: user.uid } : {}), ...wanted })).uid;
  } catch (error) {
    if (user.uid && authCode(error) === "auth/uid-already-exists") {
      await auth.updateUser(user.uid, wanted);
      return user.uid;
    }
    throw error;
  }
}

export async function seedAuthUsers(
  auth: Auth,
  users: readonly LocalUser[],
  password: string,
): Promise<void> {
  for (const user of users) {
    await ensureAuthUser(auth, user, password);
  }
}
