/**
 * `npm start`: the local stack on embedded defaults. Starts the Firestore server, then serves the
 * real functions code at the guide's URLs on http://localhost:3000. Ctrl-C stops everything.
 */
import { existsSync, readFileSync } from "node:fs";
import type { Server } from "node:http";
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
    console.error(`${name} must be a port number from 1 to 65535 (got "${raw}")`);
    process.exit(2);
  }
  return port;
}

async function listen(server: Server, port: number, what: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "EADDRINUSE") {
        reject(
          new Error(
            `Port ${port} (${what}) is already in use — is another \`npm start\` running? Stop it, or choose another port with PORT=… / FIRESTORE_PORT=….`,
          ),
        );
      } else {
        reject(error);
      }
    });
    server.listen(port, "127.0.0.1", resolve);
  });
}

async function main(): Promise<void> {
  installPrettyLogs();
  const envFiles = loadEnvFiles();
  const port = portFrom("PORT", 3000);
  const firestorePort = portFrom("FIRESTORE_PORT", 8080);
  process.env.GCLOUD_PROJECT ??= PROJECT_ID;
  // Offline: keep google-auth-library from probing the GCE metadata server.
  process.env.METADATA_SERVER_DETECTION ??= "none";

  const { createServer } = await import("node:http");
  const http = createServer();
  await listen(http, port, "HTTP");
  const { isPortFree } = await import("./ports");
  if (!(await isPortFree(firestorePort))) {
    http.close();
    throw new Error(
      `Port ${firestorePort} (Firestore) is already in use — is another \`npm start\` running? Stop it, or set FIRESTORE_PORT=….`,
    );
  }

  const { startFirestoreServer } = await import("./firestore-server");
  const firestore = await startFirestoreServer(firestorePort);
  process.env.FIRESTORE_EMULATOR_HOST = firestore.host;

  // The real functions code, loaded only now so that it sees the environment above.
  const functionsModule = (await import("../src/index")) as Record<string, unknown>;
  const { createLocalApp, readRewrites } = await import("./local-app");
  http.on("request", createLocalApp(functionsModule));

  console.info(
    JSON.stringify({
      severity: "INFO",
      message: `Local stack ready on http://localhost:${port}`,
      firestore: firestore.host,
      project: process.env.GCLOUD_PROJECT,
      envFiles,
      endpoints: readRewrites().map((rewrite) => rewrite.source),
    }),
  );

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      return;
    }
    stopping = true;
    console.info(JSON.stringify({ severity: "INFO", message: `${signal}: stopping local stack` }));
    http.closeAllConnections();
    http.close(() => {
      firestore.stop();
      process.exit(0);
    });
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
