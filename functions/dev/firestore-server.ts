/**
 * The Firestore gRPC server used by the tests and by `npm start` (the official emulator is a
 * Java download these machines cannot make). `firebase-admin` reaches it through
 * FIRESTORE_EMULATOR_HOST. The implementation lives in ./firestore; what it guarantees is
 * proved by test/conformance, which also runs against the official emulator.
 */
import { Server, ServerCredentials } from "@grpc/grpc-js";

import { firestoreServiceDefinition } from "./firestore/proto";
import { createFirestoreService } from "./firestore/service";
import { Store } from "./firestore/store";
import { Transactions } from "./firestore/transactions";

export interface RunningFirestore {
  /** `host:port`, the value for FIRESTORE_EMULATOR_HOST. */
  host: string;
  port: number;
  stop(): void;
}

/** Starts the server on 127.0.0.1:`port` (a free port when omitted). */
export async function startFirestoreServer(port?: number): Promise<RunningFirestore> {
  const server = new Server();
  server.addService(
    firestoreServiceDefinition,
    createFirestoreService(new Store(), new Transactions()),
  );
  const bound = await new Promise<number>((resolve, reject) => {
    server.bindAsync(
      `127.0.0.1:${port ?? 0}`,
      ServerCredentials.createInsecure(),
      (error, chosen) => (error ? reject(error) : resolve(chosen)),
    );
  });
  return { host: `127.0.0.1:${bound}`, port: bound, stop: () => server.forceShutdown() };
}
