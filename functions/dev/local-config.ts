/**
 * The local stack's configuration, shared by `npm start` and the scripts that talk to a running
 * stack (`npm run token`, `metrics`, `trigger`), so that they agree on the project, the ports and
 * the values without being told twice:
 *
 * - values come from the shell, then `functions/.env.local`, `.env.demo-cohorts`, `.env`, then
 *   the embedded defaults in `functions/dev/local.env` (Firebase's precedence, our defaults last);
 * - every port has a variable ({@link PORT_SETTINGS}); `FIRESTORE_EMULATOR_HOST` and
 *   `FIREBASE_AUTH_EMULATOR_HOST`, when set, name the address of the stack's own emulators.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseEnv } from "node:util";

import { isPortFree } from "./ports";

export const LOCAL_PROJECT_ID = "demo-cohorts";
/** The password of every user the local stack puts in its Auth emulator (local only). */
export const LOCAL_PASSWORD = "local-password";

const FUNCTIONS_DIR = join(__dirname, "..");
/** Lowest precedence first. */
const ENV_FILES = ["dev/local.env", ".env", `.env.${LOCAL_PROJECT_ID}`, ".env.local"];

export interface LocalEnv {
  /** The shell's value of `name`, else the files' (the last file that sets it wins). */
  get(name: string): string | undefined;
  /** The files that were read, relative to `functions/`, highest precedence first. */
  files: string[];
}

export function readLocalEnv(shell: NodeJS.ProcessEnv = process.env): LocalEnv {
  const fromFiles: Record<string, string> = {};
  const files: string[] = [];
  for (const name of ENV_FILES) {
    const path = join(FUNCTIONS_DIR, name);
    if (existsSync(path)) {
      Object.assign(fromFiles, parseEnv(readFileSync(path, "utf8")));
      files.unshift(name);
    }
  }
  return { get: (name) => shell[name] ?? fromFiles[name], files };
}

export type PortName =
  | "hosting"
  | "functions"
  | "firestore"
  | "firestoreWebsocket"
  | "auth"
  | "pubsub"
  | "hub"
  | "logging"
  | "eventarc"
  | "tasks"
  | "sandbox"
  | "alertReceiver";

export interface PortSetting {
  /** What listens there, for messages. */
  what: string;
  /** The variables that set it, the first one set wins. */
  variables: readonly string[];
  fallback: number;
}

export const PORT_SETTINGS: Readonly<Record<PortName, PortSetting>> = {
  hosting: { what: "HTTP", variables: ["HOSTING_PORT", "PORT"], fallback: 3000 },
  functions: { what: "Functions emulator", variables: ["FUNCTIONS_PORT"], fallback: 5001 },
  firestore: { what: "Firestore emulator", variables: ["FIRESTORE_PORT"], fallback: 8080 },
  firestoreWebsocket: {
    what: "Firestore emulator websocket",
    variables: ["FIRESTORE_WEBSOCKET_PORT"],
    fallback: 9150,
  },
  auth: { what: "Auth emulator", variables: ["AUTH_PORT"], fallback: 9099 },
  pubsub: { what: "Pub/Sub emulator", variables: ["PUBSUB_PORT"], fallback: 8085 },
  hub: { what: "Emulator hub", variables: ["HUB_PORT"], fallback: 4400 },
  logging: { what: "Logging emulator", variables: ["LOGGING_PORT"], fallback: 4500 },
  eventarc: { what: "Eventarc emulator", variables: ["EVENTARC_PORT"], fallback: 9299 },
  tasks: { what: "Cloud Tasks emulator", variables: ["TASKS_PORT"], fallback: 9499 },
  sandbox: { what: "sandbox ad platforms", variables: ["SANDBOX_PORT"], fallback: 4010 },
  alertReceiver: {
    what: "alert webhook receiver",
    variables: ["ALERT_RECEIVER_PORT"],
    fallback: 4020,
  },
};

/** Emulators whose address may also be given as `host:port`, the way the SDKs read it. */
const HOST_VARIABLES: Partial<Record<PortName, string>> = {
  firestore: "FIRESTORE_EMULATOR_HOST",
  auth: "FIREBASE_AUTH_EMULATOR_HOST",
};

export type LocalPorts = Record<PortName, number>;

function parsePort(variable: string, raw: string): number {
  const port = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`${variable} must be a port number from 1 to 65535 (got "${raw}")`);
  }
  return port;
}

/** The emulators listen on the loopback interface only. */
function parseHost(variable: string, raw: string): number {
  const match = /^(127\.0\.0\.1|localhost):(\d+)$/.exec(raw);
  if (!match) {
    throw new Error(
      `${variable} must be 127.0.0.1:<port> or localhost:<port> (got "${raw}"): the local ` +
        "stack's emulators listen on the loopback interface",
    );
  }
  return parsePort(variable, match[2]!);
}

function resolvePort(env: LocalEnv, name: PortName): number {
  const setting = PORT_SETTINGS[name];
  const variable = setting.variables.find((candidate) => env.get(candidate));
  const port = variable ? parsePort(variable, env.get(variable)!) : undefined;
  const hostVariable = HOST_VARIABLES[name];
  const host = hostVariable ? env.get(hostVariable) : undefined;
  if (hostVariable && host) {
    const fromHost = parseHost(hostVariable, host);
    if (port !== undefined && port !== fromHost) {
      throw new Error(
        `${hostVariable}=${host} and ${variable}=${port} disagree: set one of them, or the same port in both`,
      );
    }
    return fromHost;
  }
  return port ?? setting.fallback;
}

/** Every port of the stack; throws on a malformed value or two services on one port. */
export function localPorts(env: LocalEnv): LocalPorts {
  const names = Object.keys(PORT_SETTINGS) as PortName[];
  const ports = Object.fromEntries(
    names.map((name) => [name, resolvePort(env, name)]),
  ) as LocalPorts;
  for (const [index, name] of names.entries()) {
    const other = names.slice(index + 1).find((candidate) => ports[candidate] === ports[name]);
    if (other) {
      throw new Error(
        `Port ${ports[name]} is set for both the ${PORT_SETTINGS[name].what} ` +
          `(${PORT_SETTINGS[name].variables.join(" or ")}) and the ${PORT_SETTINGS[other].what} ` +
          `(${PORT_SETTINGS[other].variables.join(" or ")}): give each its own port`,
      );
    }
  }
  return ports;
}

export function portInUse(name: PortName, port: number): Error {
  const hostVariable = HOST_VARIABLES[name];
  const variables = [...PORT_SETTINGS[name].variables, ...(hostVariable ? [hostVariable] : [])];
  return new Error(
    `Port ${port} (${PORT_SETTINGS[name].what}) is already in use — is another \`npm start\` running? ` +
      `Stop it, or set ${variables.map((variable) => `${variable}=…`).join(" or ")}.`,
  );
}

export const loopback = (port: number): string => `127.0.0.1:${port}`;

/**
 * The running stack's emulator on `port` (`host:port`), or an error saying `npm start` is not
 * running: the scripts that read the stack fail at once instead of hanging on a dead port.
 */
export async function requireRunning(
  port: number,
  what: string,
  variables: string,
): Promise<string> {
  const host = loopback(port);
  if (await isPortFree(port)) {
    throw new Error(
      `Nothing listens on ${host}, where the local stack's ${what} should be: is \`npm start\` running? ` +
        `(Its port comes from ${variables}, as for \`npm start\`.)`,
    );
  }
  return host;
}

/**
 * Points firebase-admin at the stack's emulators. Offline, google-auth-library must not probe
 * the GCE metadata server either (it warns after a timeout).
 */
export function useEmulators(hosts: { firestore?: string; auth?: string }): void {
  process.env.METADATA_SERVER_DETECTION ??= "none";
  if (hosts.firestore) {
    process.env.FIRESTORE_EMULATOR_HOST = hosts.firestore;
  }
  if (hosts.auth) {
    process.env.FIREBASE_AUTH_EMULATOR_HOST = hosts.auth;
  }
}
