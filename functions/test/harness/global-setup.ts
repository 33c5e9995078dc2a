/**
 * Starts the official emulators the suite runs on, once for the whole run: the Cloud Firestore
 * emulator and firebase-tools' Auth emulator, through firebase-tools itself (`dev/emulators`).
 * A variable already set (`FIRESTORE_EMULATOR_HOST`, `FIREBASE_AUTH_EMULATOR_HOST`) means that
 * emulator runs elsewhere and is used as it is. Jest workers inherit the variables because they
 * are spawned after global setup. There is no fallback: a machine without the emulators gets
 * the toolchain's message saying what to install.
 *
 * The end-to-end tests (`test/e2e`) start a whole Emulator Suite of their own (functions,
 * hosting, pubsub too), since the functions must be wired to the Firestore they listen to.
 */
import { ALL_EMULATORS, type EmulatorName, freePorts, startSuite } from "../../dev/emulators/suite";

declare global {
  var __EMULATORS__: { stop(): Promise<void> } | undefined;
}

const REQUIRED_NODE_MAJOR = 24;

export default async function globalSetup(): Promise<void> {
  const major = Number(process.versions.node.split(".")[0]);
  if (major !== REQUIRED_NODE_MAJOR) {
    throw new Error(
      `The tests run on Node.js ${REQUIRED_NODE_MAJOR}, the deployed runtime (this is ${process.version}). ` +
        "Run them through `npm test`, which puts the project's Node.js 24 (node_modules/.bin/node) first.",
    );
  }
  // No test reaches the internet: keep google-auth-library from probing the metadata server.
  process.env.METADATA_SERVER_DETECTION = "none";
  const only: EmulatorName[] = [];
  if (!process.env.FIRESTORE_EMULATOR_HOST) {
    only.push("firestore");
  }
  if (!process.env.FIREBASE_AUTH_EMULATOR_HOST) {
    only.push("auth");
  }
  if (only.length === 0) {
    return;
  }
  const suite = await startSuite({
    name: "test-shared",
    projectId: "demo-cohorts-test",
    ports: await freePorts(),
    only: ALL_EMULATORS.filter((name) => only.includes(name)),
    params: {},
    secrets: {},
  });
  if (only.includes("firestore")) {
    process.env.FIRESTORE_EMULATOR_HOST = suite.hosts.firestore;
  }
  if (only.includes("auth")) {
    process.env.FIREBASE_AUTH_EMULATOR_HOST = suite.hosts.auth;
  }
  globalThis.__EMULATORS__ = suite;
}
