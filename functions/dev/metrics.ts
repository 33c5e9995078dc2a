/**
 * `npm run metrics -- <userId>`: prints a user's synced metrics from the running local stack's
 * Firestore emulator (the address and project `npm start` uses: FIRESTORE_PORT or
 * FIRESTORE_EMULATOR_HOST, default 127.0.0.1:8080; demo-cohorts), as totals per platform and
 * account (money from integer micros).
 */
import { initializeApp } from "firebase-admin/app";
import { getFirestore } from "firebase-admin/firestore";
import { z } from "zod";

import {
  LOCAL_PROJECT_ID,
  localPorts,
  readLocalEnv,
  requireRunning,
  useEmulators,
} from "./local-config";

const rowSchema = z.object({
  provider: z.string(),
  accountId: z.string(),
  currency: z.string(),
  date: z.string(),
  impressions: z.number(),
  clicks: z.number(),
  spendMicros: z.number(),
  conversions: z.number(),
  conversionValueMicros: z.number(),
});

const money = (micros: number) => (micros / 1_000_000).toFixed(2);

async function main(): Promise<void> {
  const userId = process.argv[2];
  if (!userId) {
    console.error("usage: npm run metrics -- <userId>   (e.g. demo-alice)");
    process.exit(2);
  }
  const host = await requireRunning(
    localPorts(readLocalEnv()).firestore,
    "Firestore emulator",
    "FIRESTORE_PORT or FIRESTORE_EMULATOR_HOST",
  );
  useEmulators({ firestore: host });
  const db = getFirestore(initializeApp({ projectId: LOCAL_PROJECT_ID }));
  const snapshot = await db.collection(`users/${userId}/metrics`).get();
  const groups = new Map<string, { rows: number; days: Set<string> } & z.infer<typeof rowSchema>>();
  for (const doc of snapshot.docs) {
    const row = rowSchema.parse(doc.data());
    const key = `${row.provider} ${row.accountId}`;
    const group = groups.get(key) ?? {
      ...row,
      rows: 0,
      days: new Set<string>(),
      impressions: 0,
      clicks: 0,
      spendMicros: 0,
      conversions: 0,
      conversionValueMicros: 0,
    };
    group.rows += 1;
    group.days.add(row.date);
    group.impressions += row.impressions;
    group.clicks += row.clicks;
    group.spendMicros += row.spendMicros;
    group.conversions += row.conversions;
    group.conversionValueMicros += row.conversionValueMicros;
    groups.set(key, group);
  }
  if (groups.size === 0) {
    console.log(`No metrics for ${userId} yet (is \`npm start\` running, and has a sync run?).`);
    return;
  }
  console.log(`Synced metrics for ${userId} (${snapshot.size} campaign-days)`);
  console.table(
    [...groups.values()].map((group) => ({
      platform: group.provider,
      account: group.accountId,
      days: group.days.size,
      rows: group.rows,
      impressions: group.impressions,
      clicks: group.clicks,
      spend: `${money(group.spendMicros)} ${group.currency}`,
      conversions: group.conversions,
      value: `${money(group.conversionValueMicros)} ${group.currency}`,
    })),
  );
}

main()
  .then(() => process.exit(0))
  .catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  });
