/**
 * What the benchmarks share: the official Cloud Firestore emulator (started for the run, or the
 * one FIRESTORE_EMULATOR_HOST names), a logger that prints nothing, and the script's ending.
 */
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
