/**
 * Per-test-file Firestore access through the real firebase-admin client. Each call gets its own
 * `demo-` project, so test files never see each other's documents and need no clearing.
 */
import { randomUUID } from "node:crypto";

import { type App, deleteApp, initializeApp } from "firebase-admin/app";
import { type Firestore, getFirestore } from "firebase-admin/firestore";

export interface TestFirestore {
  db: Firestore;
  projectId: string;
  app: App;
  close(): Promise<void>;
}

export function testFirestore(label = "test"): TestFirestore {
  if (!process.env.FIRESTORE_EMULATOR_HOST) {
    throw new Error(
      "FIRESTORE_EMULATOR_HOST is not set: run the tests through jest's global setup",
    );
  }
  const projectId = `demo-${label}-${randomUUID().slice(0, 8)}`;
  const app = initializeApp({ projectId }, projectId);
  const db = getFirestore(app);
  return { db, projectId, app, close: () => deleteApp(app) };
}
