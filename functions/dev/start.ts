/**
 * `npm start`: the whole system offline, on embedded defaults. Starts the Firestore server and
 * the sandbox ad platforms, seeds the demo users, then serves the real functions code: every
 * `onRequest` function at the guide's URLs on http://localhost:3000, the scheduled functions on
 * the cron expressions they declare, and the job trigger on each new job document.
 * Ctrl-C stops everything.
 */
import { existsSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { parseEnv } from "node:util";

import { installPrettyLogs } from "./pretty-logs";

const FUNCTIONS_DIR = join(__dirname, "..");
const PROJECT_ID = "demo-cohorts";

/** Firebase's order: the shell wins, then .env.local, then .env; our embedded defaults last. */
function loadEnvFiles(): string[] {
  const files = [".env.local", ".env", "dev/local.env"].map((name) => join(FUNCTIONS_DIR, name));
  const loaded: string[] = [];
  for (const file of files.filter((path) => existsSync(path))) {
    for (const [key, value] of Object.entries(parseEnv(readFileSync(file, "utf8")))) {
      process.env[key] ??= value;
    }
    loaded.push(file.slice(FUNCTIONS_DIR.length + 1));
  }
  return loaded;
}

function portFrom(name: string, fallback: number): number {
  const raw = process.env[name];
  const port = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`${name} must be a port number from 1 to 65535 (got "${raw}")`);
  }
  return port;
}

const portInUse = (port: number, what: string, variable: string) =>
  new Error(
    `Port ${port} (${what}) is already in use — is another \`npm start\` running? Stop it, or set ${variable}=….`,
  );

async function listen(server: Server, port: number, what: string, variable: string) {
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) => {
      reject(error.code === "EADDRINUSE" ? portInUse(port, what, variable) : error);
    });
    server.listen(port, "127.0.0.1", resolve);
  });
}

const info = (message: string, fields: Record<string, unknown> = {}) =>
  console.info(JSON.stringify({ severity: "INFO", message, ...fields }));

async function main(): Promise<void> {
  installPrettyLogs();
  const envFiles = loadEnvFiles();
  const port = portFrom("PORT", 3000);
  const firestorePort = portFrom("FIRESTORE_PORT", 8080);
  const sandboxPort = portFrom("SANDBOX_PORT", 4010);
  process.env.GCLOUD_PROJECT ??= PROJECT_ID;
  // Offline: keep google-auth-library from probing the GCE metadata server.
  process.env.METADATA_SERVER_DETECTION ??= "none";

  const stops: Array<() => Promise<void> | void> = [];
  const http = createServer();
  await listen(http, port, "HTTP", "PORT");
  stops.push(
    () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  );

  const { isPortFree } = await import("./ports");
  for (const [busy, what, variable] of [
    [firestorePort, "Firestore", "FIRESTORE_PORT"],
    [sandboxPort, "sandbox ad platforms", "SANDBOX_PORT"],
  ] as const) {
    if (!(await isPortFree(busy))) {
      http.close();
      throw portInUse(busy, what, variable);
    }
  }

  const { startFirestoreServer } = await import("./firestore-server");
  const firestore = await startFirestoreServer(firestorePort);
  process.env.FIRESTORE_EMULATOR_HOST = firestore.host;
  stops.push(() => firestore.stop());

  const { startSandbox } = await import("./sandbox/server");
  const { SandboxWorld } = await import("./sandbox/world");
  const { SANDBOX_PLATFORMS, demoAccounts, sandboxProviderSettings } = await import("./sandbox");
  const world = new SandboxWorld(demoAccounts());
  const sandbox = await startSandbox({ world, platforms: SANDBOX_PLATFORMS, port: sandboxPort });
  stops.push(() => sandbox.stop());

  // No webhook configured: a local receiver stands in, so scheduler alerts show in these logs.
  let alertReceiver: string | undefined;
  if (!process.env.SCHEDULER_ALERT_WEBHOOK_URL) {
    const alertPort = portFrom("ALERT_RECEIVER_PORT", 4020);
    const { startWebhookReceiver } = await import("./webhook-receiver");
    const receiver = await startWebhookReceiver({
      port: alertPort,
      onMessage: (alert) => info("alert webhook received", { text: alert.text }),
    }).catch((error: NodeJS.ErrnoException) => {
      throw error.code === "EADDRINUSE"
        ? portInUse(alertPort, "alert webhook receiver", "ALERT_RECEIVER_PORT")
        : error;
    });
    process.env.SCHEDULER_ALERT_WEBHOOK_URL = alertReceiver = receiver.url;
    stops.push(() => receiver.stop());
  }
  // The adapters reach the sandbox by configuration only, as they would reach production.
  const { settings, secrets } = sandboxProviderSettings(sandbox);
  process.env.PROVIDER_SETTINGS ??= JSON.stringify(settings);
  process.env.PROVIDER_SECRETS ??= JSON.stringify(secrets);

  const { startAuthEmulator } = await import("./auth-emulator");
  const authEmulator = await startAuthEmulator({ projectId: process.env.GCLOUD_PROJECT });
  process.env.FIREBASE_AUTH_EMULATOR_HOST = authEmulator.host;
  stops.push(() => authEmulator.stop());

  // The real functions code, loaded only now so that it sees the environment above.
  const functionsModule = (await import("../src/index")) as Record<string, unknown>;
  const { getApps, initializeApp } = await import("firebase-admin/app");
  const { getFirestore } = await import("firebase-admin/firestore");
  if (getApps().length === 0) {
    initializeApp({ projectId: process.env.GCLOUD_PROJECT });
  }
  const db = getFirestore();

  const { seedDemo } = await import("./seed");
  const seeded = await seedDemo(db, world);

  const { createLocalApp, readRewrites } = await import("./local-app");
  const { devTokenRoute } = await import("./dev-tokens");
  const app = createLocalApp(functionsModule, [devTokenRoute(authEmulator)]);
  http.on("request", app);
  const { startLocalTriggers } = await import("./local-triggers");
  const triggers = startLocalTriggers(functionsModule, { db, log: info });
  stops.push(() => triggers.stop());

  info(`Local stack ready on http://localhost:${port}`, {
    firestore: firestore.host,
    sandbox: sandbox.url,
    // A configured webhook URL is a credential: only the local receiver's is shown.
    alertWebhook: alertReceiver ?? "configured (SCHEDULER_ALERT_WEBHOOK_URL)",
    project: process.env.GCLOUD_PROJECT,
    auth: authEmulator.host,
    envFiles,
    demoIntegrations: seeded,
    endpoints: readRewrites().map((rewrite) => rewrite.source),
    scheduled: triggers.scheduled,
    documentTriggers: triggers.documentCreated,
  });

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      return;
    }
    stopping = true;
    info(`${signal}: stopping local stack`);
    // Reverse order: stop taking requests and events before the stores go away.
    void stops
      .reverse()
      .reduce<Promise<void>>((chain, step) => chain.then(() => step()), Promise.resolve())
      .finally(() => process.exit(0));
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
