/**
 * Starts the Firestore test server once for the whole run, unless FIRESTORE_EMULATOR_HOST is
 * already set (e.g. under `firebase emulators:exec`, where the official emulator is used).
 * Workers inherit the variable because Jest spawns them after global setup.
 */
import { startFirestoreServer } from "../../dev/firestore-server";

declare global {
  var __FIRESTORE_SERVER__: { stop(): void } | undefined;
}

export default async function globalSetup(): Promise<void> {
  // No test reaches the internet: keep google-auth-library from probing the metadata server.
  process.env.METADATA_SERVER_DETECTION = "none";
  if (process.env.FIRESTORE_EMULATOR_HOST) {
    return;
  }
  const server = await startFirestoreServer();
  process.env.FIRESTORE_EMULATOR_HOST = server.host;
  globalThis.__FIRESTORE_SERVER__ = server;
}
