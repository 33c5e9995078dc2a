/** Seeds integrations and credentials exactly as the integrations model describes them. */
import { type Firestore, Timestamp } from "firebase-admin/firestore";

import {
  type Automation,
  credentialsPath,
  DEFAULT_AUTOMATION,
  integrationPath,
} from "../../src/integrations/model";
import type { ProviderId } from "../../src/providers/types";

export interface SeedIntegration {
  userId: string;
  providerId: ProviderId;
  status?: "active" | "needs_reauth" | "disabled" | "error";
  accountIds?: string[];
  automation?: Partial<Automation>;
  credentials?: { accessToken: string; refreshToken?: string; expiresAt?: number };
}

export async function seedIntegration(db: Firestore, seed: SeedIntegration): Promise<void> {
  await db.doc(integrationPath(seed.userId, seed.providerId)).set({
    status: seed.status ?? "active",
    accountIds: seed.accountIds ?? ["acct-1"],
    automation: { ...DEFAULT_AUTOMATION, ...seed.automation },
  });
  const credentials = seed.credentials ?? {
    accessToken: `token-${seed.userId}-${seed.providerId}`,
  };
  await db.doc(credentialsPath(seed.userId, seed.providerId)).set({
    accessToken: credentials.accessToken,
    refreshToken: credentials.refreshToken ?? null,
    expiresAt: credentials.expiresAt ? Timestamp.fromMillis(credentials.expiresAt) : null,
  });
}

/** A clock tests move by hand. */
export function manualClock(start = "2026-11-28T03:00:00Z") {
  let now = new Date(start).getTime();
  return {
    clock: () => new Date(now),
    advance: (ms: number) => {
      now += ms;
    },
    set: (iso: string) => {
      now = new Date(iso).getTime();
    },
  };
}
