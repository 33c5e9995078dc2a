/**
 * The Firestore gRPC server used by the tests and by `npm start` (the official emulator is a
 * Java download these machines cannot make). `firebase-admin` reaches it through
 * FIRESTORE_EMULATOR_HOST.
 */
import { FirestoreServer } from "@firestore-emulator/server";

import { freePort } from "./ports";

export interface RunningFirestore {
  /** `host:port`, the value for FIRESTORE_EMULATOR_HOST. */
  host: string;
  port: number;
  stop(): void;
}

export async function startFirestoreServer(port?: number): Promise<RunningFirestore> {
  const chosen = port ?? (await freePort());
  const server = new FirestoreServer();
  await server.start(chosen);
  return { host: `127.0.0.1:${chosen}`, port: chosen, stop: () => server.stop() };
}
