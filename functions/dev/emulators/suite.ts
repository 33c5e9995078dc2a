/**
 * Runs the Firebase Emulator Suite (firebase-tools) on the real functions, for `npm start` and
 * for the test suite, each in a run folder of its own under `.emulators/<name>/`:
 *
 * - `firebase.json` is the project's own, with the emulators' ports of this run and paths made
 *   relative to the run folder (rules, indexes, hosting, rewrites and functions settings are
 *   unchanged, so what runs is what deploys);
 * - `functions/` holds the functions' package.json and a link to the built `lib/`, plus the
 *   run's `.env` (parameters) and `.secret.local` (secrets): the files the Functions emulator
 *   reads, as it reads them from the source folder when deployed locally. A run folder keeps
 *   a test run's values away from the developer's own `functions/.env*` and lets `npm start`
 *   and `npm test` run side by side on different ports.
 *
 * firebase-tools runs on the Node.js that runs this module (`process.execPath`), and the
 * Functions emulator runs the functions on that same binary.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomInt } from "node:crypto";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";

import { resolveToolchain } from "./toolchain";

export const REPO_DIR = join(__dirname, "..", "..", "..");
export const FUNCTIONS_DIR = join(REPO_DIR, "functions");
const EMULATORS_DIR = join(REPO_DIR, ".emulators");
const FIREBASE_BIN = join(
  dirname(require.resolve("firebase-tools/package.json")),
  "lib",
  "bin",
  "firebase.js",
);

export type EmulatorName = "functions" | "firestore" | "auth" | "pubsub" | "hosting";
export const ALL_EMULATORS: readonly EmulatorName[] = [
  "functions",
  "firestore",
  "auth",
  "pubsub",
  "hosting",
];

export interface SuitePorts {
  hosting: number;
  functions: number;
  firestore: number;
  firestoreWebsocket: number;
  auth: number;
  pubsub: number;
  hub: number;
  logging: number;
  eventarc: number;
  tasks: number;
}

export interface SuiteOptions {
  /** Run folder name under `.emulators/`. */
  name: string;
  projectId: string;
  ports: SuitePorts;
  only?: readonly EmulatorName[];
  /** Parameters, written to the run's `functions/.env`. */
  params: Record<string, string>;
  /** Secrets, written to the run's `functions/.secret.local`. */
  secrets: Record<string, string>;
  /** Import from and export to this folder on exit (data survives a restart). */
  dataDir?: string;
  /** Where firebase-tools' output goes; by default it is kept and shown only on failure. */
  onOutput?: (chunk: string) => void;
  /** Function ids that must be loaded before the suite counts as ready. */
  expectFunctions?: readonly string[];
  readyTimeoutMs?: number;
  /**
   * Run firebase-tools in a process group of its own, so that a terminal's Ctrl-C reaches only
   * the caller, whose `stop()` then sends the single SIGINT that exports the data (a second
   * SIGINT makes firebase-tools quit at once, without exporting).
   */
  detached?: boolean;
  /** Called when firebase-tools exits, whether or not `stop()` asked it to. */
  onExit?: (reason: string) => void;
}

export interface RunningSuite {
  projectId: string;
  ports: SuitePorts;
  /** `host:port` values, as the SDKs read them from the environment. */
  hosts: { firestore: string; auth: string; pubsub: string; functions: string; hosting: string };
  /** The Functions emulator's URL for invoking a function by id (scheduled ones included). */
  triggerUrl(functionId: string, region?: string): string;
  /** firebase-tools' output so far. */
  output(): string;
  stop(): Promise<void>;
}

/** The Functions emulator's URL that invokes a function by id (scheduled ones included). */
export function functionTriggerUrl(
  functionsHost: string,
  projectId: string,
  functionId: string,
  region = "us-central1",
): string {
  return `http://${functionsHost}/functions/projects/${projectId}/triggers/${region}-${functionId}-0`;
}

/**
 * Ports are taken below the kernel's ephemeral range (Linux: ip_local_port_range, 32768 up by
 * default), where no `listen(0)` server and no outgoing connection is ever given one: a port the
 * OS picked, checked free and released could be handed to another test's server before the
 * emulator binds it (seen: the Firestore emulator failing to start with "address in use").
 */
const PORT_RANGE = { from: 20_000, to: 32_000 } as const;
const taken = new Set<number>();

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** A port nothing listens on right now, none this process handed out before. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 1000; attempt += 1) {
    const port = PORT_RANGE.from + randomInt(PORT_RANGE.to - PORT_RANGE.from);
    if (!taken.has(port) && (await canListen(port))) {
      taken.add(port);
      return port;
    }
  }
  throw new Error(`No free port between ${PORT_RANGE.from} and ${PORT_RANGE.to}`);
}

/** Every port a suite binds (firebase-tools starts Eventarc and Cloud Tasks too). */
export const SUITE_PORT_NAMES: ReadonlyArray<keyof SuitePorts> = [
  "hosting",
  "functions",
  "firestore",
  "firestoreWebsocket",
  "auth",
  "pubsub",
  "hub",
  "logging",
  "eventarc",
  "tasks",
];

export async function freePorts(): Promise<SuitePorts> {
  const ports: Partial<SuitePorts> = {};
  for (const name of SUITE_PORT_NAMES) {
    ports[name] = await freePort();
  }
  return ports as SuitePorts;
}

/** `KEY=value` lines in the dotenv syntax firebase-tools parses (values double-quoted). */
export function dotenv(values: Record<string, string>): string {
  return Object.entries(values)
    .map(([key, value]) => `${key}=${JSON.stringify(value)}`)
    .join("\n")
    .concat("\n");
}

interface FirebaseJson {
  functions: Array<Record<string, unknown> & { source: string }>;
  firestore: { rules: string; indexes: string };
  hosting: Record<string, unknown> & { public: string };
  emulators?: Record<string, unknown>;
}

export function readFirebaseJson(): FirebaseJson {
  return JSON.parse(readFileSync(join(REPO_DIR, "firebase.json"), "utf8")) as FirebaseJson;
}

function writeRunFolder(options: SuiteOptions): string {
  const runDir = join(EMULATORS_DIR, options.name);
  const sourceDir = join(runDir, "functions");
  mkdirSync(sourceDir, { recursive: true });
  const base = readFirebaseJson();
  // firebase-tools refuses paths outside the project folder: link the project's files in.
  const linked = (path: string) => {
    const link = join(runDir, path);
    rmSync(link, { force: true, recursive: true });
    symlinkSync(join(REPO_DIR, path), link);
    return path;
  };
  const { ports } = options;
  const config: FirebaseJson = {
    ...base,
    functions: base.functions.map((codebase) => ({ ...codebase, source: "functions" })),
    firestore: {
      rules: linked(base.firestore.rules),
      indexes: linked(base.firestore.indexes),
    },
    hosting: { ...base.hosting, public: linked(base.hosting.public) },
    emulators: {
      auth: { host: "127.0.0.1", port: ports.auth },
      firestore: {
        host: "127.0.0.1",
        port: ports.firestore,
        websocketPort: ports.firestoreWebsocket,
      },
      functions: { host: "127.0.0.1", port: ports.functions },
      hosting: { host: "127.0.0.1", port: ports.hosting },
      pubsub: { host: "127.0.0.1", port: ports.pubsub },
      hub: { host: "127.0.0.1", port: ports.hub },
      logging: { host: "127.0.0.1", port: ports.logging },
      eventarc: { host: "127.0.0.1", port: ports.eventarc },
      tasks: { host: "127.0.0.1", port: ports.tasks },
      ui: { enabled: false },
      singleProjectMode: false,
    },
  };
  writeFileSync(join(runDir, "firebase.json"), JSON.stringify(config, null, 2));
  copyFileSync(join(FUNCTIONS_DIR, "package.json"), join(sourceDir, "package.json"));
  const lib = join(sourceDir, "lib");
  rmSync(lib, { force: true, recursive: true });
  symlinkSync(join(FUNCTIONS_DIR, "lib"), lib);
  // The emulator writes defaulted parameters into .env.local: start from a clean slate.
  rmSync(join(sourceDir, ".env.local"), { force: true });
  writeFileSync(join(sourceDir, ".env"), dotenv(options.params));
  writeFileSync(join(sourceDir, ".secret.local"), dotenv(options.secrets), { mode: 0o600 });
  return runDir;
}

interface Backends {
  backends?: Array<{ functionTriggers?: Array<{ id?: string; entryPoint?: string }> }>;
}

async function loadedFunctions(functionsPort: number): Promise<string[]> {
  try {
    const response = await fetch(`http://127.0.0.1:${functionsPort}/backends`);
    if (!response.ok) {
      return [];
    }
    const body = (await response.json()) as Backends;
    return (body.backends ?? []).flatMap((backend) =>
      (backend.functionTriggers ?? []).map((trigger) => trigger.entryPoint ?? trigger.id ?? ""),
    );
  } catch {
    return [];
  }
}

async function isListening(port: number): Promise<boolean> {
  try {
    await fetch(`http://127.0.0.1:${port}/`);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function stopChild(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
    }, timeoutMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    // SIGINT is firebase-tools' clean shutdown: it stops every emulator and exports data.
    child.kill("SIGINT");
  });
}

/** Starts the suite and resolves once every emulator listens and the functions are loaded. */
export async function startSuite(options: SuiteOptions): Promise<RunningSuite> {
  if (!existsSync(join(FUNCTIONS_DIR, "lib", "index.js"))) {
    throw new Error("functions/lib is missing: run `npm run build` first");
  }
  const only = options.only ?? ALL_EMULATORS;
  const toolchain = resolveToolchain(join(EMULATORS_DIR, "cache"));
  const runDir = writeRunFolder(options);
  const args = [
    FIREBASE_BIN,
    "emulators:start",
    "--only",
    only.join(","),
    "--project",
    options.projectId,
    "--config",
    join(runDir, "firebase.json"),
  ];
  if (options.dataDir) {
    mkdirSync(options.dataDir, { recursive: true });
    args.push("--export-on-exit", options.dataDir);
    if (existsSync(join(options.dataDir, "firebase-export-metadata.json"))) {
      args.push("--import", options.dataDir);
    }
  }
  let output = `${toolchain.summary}\n`;
  const child = spawn(process.execPath, args, {
    cwd: runDir,
    env: {
      ...process.env,
      ...toolchain.env,
      // The CLI must not prompt, phone home or look for updates.
      FIREBASE_CLI_DISABLE_UPDATE_CHECK: "true",
      FIREBASE_SKIP_UPDATE_CHECK: "true",
      CI: "true",
      // Whatever the caller points at must not leak into the suite's own processes.
      FIRESTORE_EMULATOR_HOST: "",
      FIREBASE_AUTH_EMULATOR_HOST: "",
      GCLOUD_PROJECT: options.projectId,
    },
    stdio: ["ignore", "pipe", "pipe"],
    detached: options.detached ?? false,
  });
  const collect = (chunk: Buffer) => {
    const text = chunk.toString("utf8");
    output += text;
    options.onOutput?.(text);
  };
  child.stdout.on("data", collect);
  child.stderr.on("data", collect);
  let exited: string | undefined;
  child.once("exit", (code, signal) => {
    exited = `firebase-tools exited (${signal ?? `code ${code}`})`;
    options.onExit?.(exited);
  });

  const { ports } = options;
  const expected = options.expectFunctions ?? [];
  const deadline = Date.now() + (options.readyTimeoutMs ?? 120_000);
  const portOf: Record<EmulatorName, number> = {
    functions: ports.functions,
    firestore: ports.firestore,
    auth: ports.auth,
    pubsub: ports.pubsub,
    hosting: ports.hosting,
  };
  for (;;) {
    if (exited) {
      throw new Error(`${exited} before the emulators were ready:\n${output}`);
    }
    const listening = await Promise.all(only.map((name) => isListening(portOf[name])));
    const ready = output.includes("All emulators ready") && listening.every(Boolean);
    if (ready) {
      const loaded = only.includes("functions") ? await loadedFunctions(ports.functions) : [];
      const missing = expected.filter((id) => !loaded.includes(id));
      if (missing.length === 0) {
        break;
      }
      // firebase-tools prints "ready" even when the functions failed to load (a parameter
      // without a value, a throw at import): that is a failed start, not a slow one.
      if (/Failed to load function definition|Error: /.test(output) && loaded.length === 0) {
        await stopChild(child, 10_000);
        throw new Error(`The functions did not load:\n${output}`);
      }
    }
    if (Date.now() > deadline) {
      await stopChild(child, 10_000);
      throw new Error(`The emulators were not ready in time:\n${output}`);
    }
    await sleep(250);
  }

  const host = (port: number) => `127.0.0.1:${port}`;
  return {
    projectId: options.projectId,
    ports,
    hosts: {
      firestore: host(ports.firestore),
      auth: host(ports.auth),
      pubsub: host(ports.pubsub),
      functions: host(ports.functions),
      hosting: host(ports.hosting),
    },
    triggerUrl: (functionId, region) =>
      functionTriggerUrl(host(ports.functions), options.projectId, functionId, region),
    output: () => output,
    stop: () => stopChild(child, options.dataDir ? 60_000 : 15_000),
  };
}
