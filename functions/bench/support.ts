/**
 * What the benchmarks share: the official Cloud Firestore emulator (started for the run, or the
 * one FIRESTORE_EMULATOR_HOST names), a logger that prints nothing, and the script's ending.
 */
import { createConnection, createServer, type Socket } from "node:net";

import { freePorts, type RunningSuite, startSuite } from "../dev/emulators/suite";
import type { Logger } from "../src/shared/logger";

/** Starts the Firestore emulator unless one is named; returns how to stop what it started. */
export async function firestoreEmulator(name: string): Promise<() => Promise<void>> {
  // No metadata server offline: firebase-admin would otherwise probe for one on each call.
  process.env.METADATA_SERVER_DETECTION ??= "none";
  if (process.env.FIRESTORE_EMULATOR_HOST) {
    return () => Promise.resolve();
  }
  const suite: RunningSuite = await startSuite({
    name,
    projectId: "demo-bench",
    ports: await freePorts(),
    only: ["firestore"],
    params: {},
    secrets: {},
  });
  process.env.FIRESTORE_EMULATOR_HOST = suite.hosts.firestore;
  return () => suite.stop();
}

export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLogger,
};

/** Runs the benchmark and exits (the emulator's and the SDK's handles would keep it alive). */
export function runMain(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}

/**
 * A TCP proxy to `target` (`host:port`) that holds every chunk `oneWayMs` in each direction: a
 * network round trip of twice that between the client and the emulator, which on loopback has
 * none. Order is kept (timers of one delay fire in the order they were set), so gRPC's HTTP/2
 * stream is delivered intact, only later — what a client in a Cloud Functions region sees of
 * Firestore's latency, which the emulator on the same machine cannot show.
 */
export async function latencyProxy(
  target: string,
  oneWayMs: number,
): Promise<{ host: string; close: () => Promise<void> }> {
  const [targetHost, targetPort] = [target.replace(/:\d+$/, ""), Number(target.split(":").at(-1))];
  const sockets = new Set<Socket>();
  const relay = (from: Socket, to: Socket) => {
    from.on("data", (chunk) => setTimeout(() => to.write(chunk), oneWayMs));
    from.on("close", () => setTimeout(() => to.destroy(), oneWayMs));
    from.on("error", () => to.destroy());
  };
  const server = createServer((client) => {
    const upstream = createConnection({ host: targetHost, port: targetPort });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.setNoDelay(true);
      socket.on("close", () => sockets.delete(socket));
    }
    relay(client, upstream);
    relay(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    host: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        sockets.forEach((socket) => socket.destroy());
        server.close(() => resolve());
      }),
  };
}
