/**
 * The re-encryption pass, for operators (from functions/):
 *
 *     npx tsx dev/reencrypt-credentials.ts [--dry-run]
 *
 * Seals every stored credentials document under TOKEN_ENCRYPTION_KEYS' `current` key: the last
 * step of a key rotation (afterwards the old key can be removed) and the migration of tokens
 * stored before encryption. `--dry-run` opens everything and writes nothing: it reports which key
 * each document uses and which cannot be opened. Prints counts only, never a token; exits 1 when
 * a document could not be opened (it keeps its old key: do not remove that key yet).
 *
 * Target: the Firestore FIRESTORE_EMULATOR_HOST names (e.g. the local stack's 127.0.0.1:8080),
 * otherwise project GCLOUD_PROJECT with Application Default Credentials.
 */
import { initializeApp } from "firebase-admin/app";
import { getFirestore } from "firebase-admin/firestore";

import { reencryptCredentials } from "../src/integrations/credentials";
import { requireTokenKeys } from "../src/integrations/token-keys";
import { readRawEnv } from "../src/params";

const USAGE = "usage: npx tsx dev/reencrypt-credentials.ts [--dry-run]";

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  if (args.some((arg) => arg !== "--dry-run")) {
    console.error(USAGE);
    return 2;
  }
  const projectId = process.env.GCLOUD_PROJECT;
  if (!projectId) {
    console.error(`GCLOUD_PROJECT must name the project whose credentials to re-encrypt\n${USAGE}`);
    return 2;
  }
  const keys = requireTokenKeys(readRawEnv());
  const db = getFirestore(initializeApp({ projectId }));
  const dryRun = args.includes("--dry-run");
  const summary = await reencryptCredentials(db, keys, { dryRun });
  console.log(
    JSON.stringify(
      {
        projectId,
        firestore: process.env.FIRESTORE_EMULATOR_HOST ?? "production",
        currentKey: keys.current.id,
        dryRun,
        ...summary,
      },
      null,
      2,
    ),
  );
  return Object.keys(summary.unreadable).length > 0 ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    // ConfigError messages name the variable, never its value.
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  },
);
