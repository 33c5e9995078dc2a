/** Seeds integrations and credentials exactly as the integrations model describes them. */
import { randomBytes } from "node:crypto";

import type { Firestore } from "firebase-admin/firestore";

import { writeCredentials } from "../../src/integrations/credentials";
import { type Automation, DEFAULT_AUTOMATION, integrationPath } from "../../src/integrations/model";
import { requireTokenKeys } from "../../src/integrations/token-keys";
import { claimJob, completeJob, type StoreDeps } from "../../src/jobs/store";
import type { ProviderId } from "../../src/providers/types";

/** A TOKEN_ENCRYPTION_KEYS value: fresh random keys under the given ids, the first current. */
export const tokenKeysValue = (...ids: string[]): string =>
  JSON.stringify({
    current: ids[0],
    keys: Object.fromEntries(ids.map((id) => [id, randomBytes(32).toString("base64")])),
  });

/** The suite's token keys: credentials are seeded sealed, as production stores them. */
export const TEST_TOKEN_KEYS_VALUE = tokenKeysValue("test-key");
export const TEST_TOKEN_KEYS = requireTokenKeys({ TOKEN_ENCRYPTION_KEYS: TEST_TOKEN_KEYS_VALUE });

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
  await writeCredentials(db, TEST_TOKEN_KEYS, seed.userId, seed.providerId, credentials);
}

/** A clock tests move by hand. */
export function manualClock(start = "2026-11-28T03:00:00Z") {
  let now = new Date(start).getTime();
  return {
    clock: () => new Date(now),
    /** A deadline `ms` after the clock's current time. */
    later: (ms: number) => new Date(now + ms),
    advance: (ms: number) => {
      now += ms;
    },
    set: (iso: string) => {
      now = new Date(iso).getTime();
    },
  };
}

/** Claims and completes a job with an empty result, as a worker that found no rows would. */
export async function finishJob(deps: StoreDeps, jobId: string): Promise<void> {
  await claimJob(deps, jobId, "w", 60_000);
  await completeJob(deps, jobId, "w", {
    since: "2026-11-27",
    until: "2026-11-28",
    rowsFetched: 0,
    rowsWritten: 0,
    rowsUnchanged: 0,
    rowsZeroed: 0,
    accounts: [],
  });
}
