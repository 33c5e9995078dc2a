/**
 * Seeds the demo users into Firestore, idempotently: integrations keep their sync history and
 * automation choices across runs (merge), credentials are the tokens this sandbox issued, sealed
 * with the keys the local functions read (TOKEN_ENCRYPTION_KEYS; dev/local.env by default).
 */
import type { Firestore } from "firebase-admin/firestore";

import { writeCredentials } from "../src/integrations/credentials";
import { integrationPath } from "../src/integrations/model";
import { requireTokenKeys } from "../src/integrations/token-keys";
import { readRawEnv } from "../src/params";
import { DEMO_USERS } from "./sandbox";
import type { SandboxWorld } from "./sandbox/world";

/** Access-token lifetimes the sandbox issues, as the platforms do (Meta/TikTok: long-lived). */
const TOKEN_LIFETIMES_MS = { google: 3_600_000, linkedin: 60 * 86_400_000 } as const;

export async function seedDemo(db: Firestore, world: SandboxWorld): Promise<number> {
  const keys = requireTokenKeys(readRawEnv());
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
