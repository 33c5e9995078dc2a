/**
 * Integration documents in bulk for fan-out tests and the enqueue benchmark: batched writes of
 * 500, four in flight, no credentials (the fan-out never reads them).
 */
import type { Firestore } from "firebase-admin/firestore";

import {
  type Automation,
  DEFAULT_AUTOMATION,
  integrationPath,
} from "../../../src/integrations/model";
import { PROVIDER_IDS, type ProviderId } from "../../../src/providers/types";

export interface IntegrationSeed {
  userId: string;
  providerId: ProviderId;
  /** Merged over the defaults; `null` writes no `automation` field at all (older documents). */
  automation?: Partial<Automation> | null;
}

const BATCH_WRITES = 500;
const IN_FLIGHT = 4;

export async function seedIntegrationDocs(
  db: Firestore,
  seeds: readonly IntegrationSeed[],
): Promise<void> {
  const batches: IntegrationSeed[][] = [];
  for (let start = 0; start < seeds.length; start += BATCH_WRITES) {
    batches.push(seeds.slice(start, start + BATCH_WRITES));
  }
  for (let start = 0; start < batches.length; start += IN_FLIGHT) {
    await Promise.all(
      batches.slice(start, start + IN_FLIGHT).map((chunk) => {
        const batch = db.batch();
        for (const seed of chunk) {
          batch.set(db.doc(integrationPath(seed.userId, seed.providerId)), {
            status: "active",
            accountIds: ["acct-1"],
            ...(seed.automation === null
              ? {}
              : { automation: { ...DEFAULT_AUTOMATION, ...seed.automation } }),
          });
        }
        return batch.commit();
      }),
    );
  }
}

/** `count` users (`prefix-0000`…), each with an integration on every platform. */
export const everyPlatform = (
  prefix: string,
  count: number,
  automation?: (user: number) => Partial<Automation>,
): IntegrationSeed[] =>
  Array.from({ length: count }, (_, user) =>
    PROVIDER_IDS.map((providerId) => ({
      userId: `${prefix}-${String(user).padStart(4, "0")}`,
      providerId,
      ...(automation ? { automation: automation(user) } : {}),
    })),
  ).flat();
