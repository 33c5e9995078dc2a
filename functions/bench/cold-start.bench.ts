/**
 * Cold start of the deployed bundle (`lib/index.js`) against a bare firebase-functions module,
 * each in fresh Node.js processes (this Node binary), alternating, many times.
 *
 * What "cold start" means here: what a new instance does before its first invocation can run
 * our handler code. The Functions Framework (`@google-cloud/functions-framework`, as deployed)
 * loads its own modules, `require`s the module and looks up FUNCTION_TARGET (loader.js), starts
 * its HTTP server; the first invocation then awaits the `onInit` callback (firebase-functions'
 * `withInit`) and calls the handler. A child process here does the same steps with the
 * framework's own `getServer`, in the environment the runtime sets (FUNCTION_TARGET, K_SERVICE,
 * K_REVISION, FUNCTION_SIGNATURE_TYPE, PORT, NODE_ENV=production, GCLOUD_PROJECT,
 * FIREBASE_CONFIG) and times:
 *
 * - load: `require(entry)` and the target lookup (the framework's own ESM check, which costs
 *   the same for any module, is left out);
 * - load + onInit: the above plus the onInit callback, run through firebase-functions' own
 *   `withInit` as the first invocation runs it (no network: `initializeApp()` makes no call).
 *   This is the deployed bundle's cold start, the figure the ≤ 1.3× goal is about;
 * - ready + onInit: from process start (Node.js boot, the framework) to a listening server,
 *   plus onInit: the whole wait before the handler, for scale. The boot alone (before the
 *   require) is the same work for both: its ratio shows how noisy the machine was.
 *
 * The handler's own first-call work (the modules it imports lazily, its I/O) is not timed: it
 * is the function's work, and a bare module has none. Its weight shows in the import table
 * (e.g. firebase-admin/firestore, which every Firestore-using handler loads on first use).
 *
 * Sections: the headline (one HTTP function against a bare `onRequest` module), every exported
 * function against a bare module of its kind with its idle RSS (after load, onInit and 200 ms
 * idle, framework server included), and what each import costs alone and over a bare
 * `onRequest` module.
 *
 * Run from functions/ after `npm run build`: `npx tsx bench/cold-start.bench.ts`. Options:
 * `--runs 30` (headline pairs), `--function-runs 5`, `--import-runs 5`, `--target health`,
 * `--lib lib` (another build of the bundle, to compare), `--only headline|functions|imports`.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { parseArgs, promisify } from "node:util";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "30" },
    "function-runs": { type: "string", default: "5" },
    "import-runs": { type: "string", default: "5" },
    target: { type: "string", default: "health" },
    lib: { type: "string", default: "lib" },
    only: { type: "string" },
  },
});
const FUNCTIONS_DIR = join(__dirname, "..");
const LIB_DIR = resolve(FUNCTIONS_DIR, values.lib);
const LIB_INDEX = join(LIB_DIR, "index.js");
/** Resolves as the built module resolves (so `--lib` elsewhere needs node_modules above it). */
const fromLib = createRequire(LIB_INDEX);
const packageRoot = (name: string, entry: string) => {
  const marker = join("node_modules", name);
  return entry.slice(0, entry.lastIndexOf(marker) + marker.length);
};
const FRAMEWORK_DIR = packageRoot(
  join("@google-cloud", "functions-framework"),
  createRequire(join(FUNCTIONS_DIR, "package.json")).resolve("@google-cloud/functions-framework"),
);
/** firebase-functions' `withInit`: what wraps every handler (not in the package's exports). */
const WITH_INIT = join(
  packageRoot("firebase-functions", fromLib.resolve("firebase-functions")),
  "lib",
  "common",
  "onInit.js",
);

type Kind = "http" | "scheduled" | "event" | "tasks" | "callable";

interface Spec {
  entry: string;
  target?: string;
  preload: string[];
  /** Starts the framework's server and runs onInit (a function), or only times the require. */
  serve: boolean;
  /** Required after onInit, before the RSS reading (untimed). */
  extra: string[];
}

interface Sample {
  /** Process start to the user module's require: Node.js boot and the framework. */
  bootMs: number;
  loadMs: number;
  onInitMs: number;
  readyMs: number;
  rssMb: number;
  heapMb: number;
  modules: number;
}

// The child: the framework's main.js steps, timed. Plain CommonJS, run by this Node binary.
const CHILD = `"use strict";
const spec = JSON.parse(process.argv[2]);
(async () => {
  const framework = (file) => require(${JSON.stringify(FRAMEWORK_DIR)} + "/build/src/" + file);
  const { getServer } = framework("server.js");
  const { parseOptions } = framework("options.js");
  for (const path of spec.preload) require(path);
  const before = Object.keys(require.cache).length;
  const t0 = performance.now();
  const bootMs = t0;
  const loaded = require(spec.entry);
  const userFunction = spec.target === undefined ? loaded : loaded[spec.target];
  const loadMs = performance.now() - t0;
  const modules = Object.keys(require.cache).length - before;
  let readyMs = performance.now();
  let onInitMs = 0;
  let server;
  if (spec.serve) {
    if (typeof userFunction !== "function") throw new Error("no function " + spec.target);
    server = getServer(userFunction, parseOptions([], process.env));
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    readyMs = performance.now();
    const { withInit } = require(${JSON.stringify(WITH_INIT)});
    const t1 = performance.now();
    await withInit(() => undefined)();
    onInitMs = performance.now() - t1;
  }
  for (const path of spec.extra) require(path);
  await new Promise((resolve) => setTimeout(resolve, 200));
  const { rss, heapUsed } = process.memoryUsage();
  const mb = (bytes) => bytes / 1048576;
  process.stdout.write(JSON.stringify({ bootMs, loadMs, onInitMs, readyMs, rssMb: mb(rss),
    heapMb: mb(heapUsed), modules }) + "\\n");
  process.exit(0);
})().catch((error) => { console.error(error); process.exit(1); });
`;

const BARE: Record<Exclude<Kind, "callable">, [string, string]> = {
  http: ["firebase-functions/https", `onRequest((_req, res) => { res.status(204).end(); })`],
  scheduled: ["firebase-functions/scheduler", `onSchedule("0 * * * *", async () => undefined)`],
  event: ["firebase-functions/firestore", `onDocumentCreated("bare/{id}", () => undefined)`],
  tasks: ["firebase-functions/tasks", `onTaskDispatched(async () => undefined)`],
};
const SIGNATURE: Record<Kind, string> = {
  http: "http",
  scheduled: "http",
  event: "cloudevent",
  tasks: "http",
  callable: "http",
};

const work = mkdtempSync(join(tmpdir(), "cold-start-"));
const CHILD_PATH = join(work, "child.js");
const barePath = (kind: Kind) => join(work, `bare-${kind}.js`);

function runtimeEnv(target: string | undefined, kind: Kind): NodeJS.ProcessEnv {
  const service = target?.toLowerCase();
  return {
    PATH: process.env.PATH,
    NODE_ENV: "production",
    PORT: "0",
    GCLOUD_PROJECT: "demo-cold-start",
    FIREBASE_CONFIG: JSON.stringify({ projectId: "demo-cold-start" }),
    ...(service && target
      ? {
          FUNCTION_TARGET: target,
          FUNCTION_SIGNATURE_TYPE: SIGNATURE[kind],
          K_SERVICE: service,
          K_REVISION: `${service}-00001-bench`,
        }
      : {}),
  };
}

function child(spec: Spec, env: NodeJS.ProcessEnv): Promise<Sample> {
  return new Promise((done, fail) => {
    execFile(
      process.execPath,
      [CHILD_PATH, JSON.stringify(spec)],
      { env, cwd: FUNCTIONS_DIR, maxBuffer: 1 << 20 },
      (error, stdout, stderr) => {
        if (error) {
          fail(new Error(`${spec.entry} ${spec.target ?? ""}: ${stderr || error.message}`));
          return;
        }
        done(JSON.parse(stdout.trim().split("\n").pop() ?? "") as Sample);
      },
    );
  });
}

interface Variant {
  label: string;
  kind: Kind;
  spec: Spec;
  env: NodeJS.ProcessEnv;
  samples: Sample[];
}

const functionVariant = (label: string, kind: Kind, entry: string, target: string): Variant => ({
  label,
  kind,
  spec: { entry, target, preload: [], serve: true, extra: [] },
  env: runtimeEnv(target, kind),
  samples: [],
});
const bareVariant = (kind: Kind) => functionVariant(`bare ${kind}`, kind, barePath(kind), "bare");

/** Runs every variant once per round, in turn, so drift hits them all alike. */
async function alternate(variants: Variant[], rounds: number): Promise<void> {
  for (let round = 0; round < rounds; round += 1) {
    for (const variant of variants) {
      variant.samples.push(await child(variant.spec, variant.env));
    }
    process.stderr.write(`\r  round ${round + 1}/${rounds}`);
  }
  process.stderr.write("\n");
}

const percentile = (xs: number[], p: number): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
};
const median = (xs: number[]) => percentile(xs, 50);
const fmt = (ms: number) => ms.toFixed(1);
const figure = (xs: number[]) => `${fmt(median(xs))} / ${fmt(percentile(xs, 90))}`;
const measures = {
  "boot (before load)": (s: Sample) => s.bootMs,
  load: (s: Sample) => s.loadMs,
  "load + onInit": (s: Sample) => s.loadMs + s.onInitMs,
  "ready + onInit": (s: Sample) => s.readyMs + s.onInitMs,
};
const ratio = (a: Variant, b: Variant, measure: (s: Sample) => number) =>
  median(a.samples.map(measure)) / median(b.samples.map(measure));

async function headline(rounds: number, kinds: Map<string, Kind>): Promise<void> {
  const kind = kinds.get(values.target) ?? "http";
  const bundle = functionVariant(`bundle ${values.target}`, kind, LIB_INDEX, values.target);
  const bare = bareVariant(kind);
  console.log(`\nHeadline: ${values.target} (${kind}) against a bare module, ${rounds} pairs`);
  await alternate([bundle, bare], rounds);
  console.table(
    Object.fromEntries(
      Object.entries(measures).map(([name, measure]) => [
        name,
        {
          "bundle ms (median / p90)": figure(bundle.samples.map(measure)),
          "bare ms (median / p90)": figure(bare.samples.map(measure)),
          "ratio of medians": ratio(bundle, bare, measure).toFixed(2),
        },
      ]),
    ),
  );
}

function libFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? libFiles(path) : path.endsWith(".js") ? [path] : [];
  });
}

async function perFunction(rounds: number, kinds: Map<string, Kind>): Promise<void> {
  const functions = [...kinds].map(([name, kind]) => functionVariant(name, kind, LIB_INDEX, name));
  const bares = [...new Set<Kind>([...kinds.values(), "tasks"])]
    .filter((kind) => kind !== "callable")
    .map(bareVariant);
  // An instance after its handlers' lazy imports, at most: every module of lib/ loaded.
  const everything = functionVariant("all of lib/ loaded", "http", LIB_INDEX, values.target);
  everything.spec.extra = [...libFiles(LIB_DIR), fromLib.resolve("firebase-admin/firestore")];
  console.log(
    `\nEvery function (FUNCTION_TARGET), ${rounds} rounds; idle RSS after onInit + 200 ms`,
  );
  await alternate([...functions, ...bares, everything], rounds);
  const bareOf = new Map(bares.map((variant) => [variant.kind, variant]));
  const row = (variant: Variant, timed: boolean) => {
    const bare = bareOf.get(variant.kind);
    const timing = (measure: (s: Sample) => number) =>
      timed ? figure(variant.samples.map(measure)) : "";
    return {
      function: variant.label,
      kind: variant.kind,
      "load ms": timing(measures.load),
      "load + onInit ms": timing(measures["load + onInit"]),
      "× bare of kind":
        timed && bare && bare !== variant
          ? ratio(variant, bare, measures["load + onInit"]).toFixed(2)
          : "",
      "idle RSS MB": figure(variant.samples.map((s) => s.rssMb)),
      "heap MB": fmt(median(variant.samples.map((s) => s.heapMb))),
      "modules loaded": timed ? median(variant.samples.map((s) => s.modules)) : "",
    };
  };
  console.log(
    "(median / p90; × bare: ratio of load + onInit medians to the bare module of its kind)",
  );
  console.table([
    ...[...functions, ...bares].map((variant) => row(variant, true)),
    row(everything, false),
  ]);
}

async function perImport(rounds: number): Promise<void> {
  const sdk = [
    "firebase-functions",
    "firebase-functions/core",
    "firebase-functions/options",
    "firebase-functions/params",
    "firebase-functions/logger",
    "firebase-functions/https",
    "firebase-functions/scheduler",
    "firebase-functions/firestore",
    "firebase-functions/tasks",
    "firebase-admin/app",
    "firebase-admin/auth",
    "firebase-admin/firestore",
    "zod",
  ].map((name) => [name, fromLib.resolve(name)] as const);
  const ours = [
    "index.js",
    "params.js",
    "shared/config.js",
    "triggers/deps.js",
    "triggers/http.js",
    "triggers/scheduled.js",
    "triggers/jobs.js",
    "triggers/tasks.js",
  ]
    .map((file) => [`lib/${file}`, join(LIB_DIR, file)] as const)
    .filter(([, path]) => existsSync(path));
  const https = fromLib.resolve("firebase-functions/https");
  const variants = [...sdk, ...ours].flatMap(([label, path]) =>
    [[], [https]].map((preload): Variant => ({
      label,
      kind: "http",
      spec: { entry: path, preload, serve: false, extra: [] },
      env: runtimeEnv(undefined, "http"),
      samples: [],
    })),
  );
  console.log(
    `\nWhat each import costs (require ms, median / p90), ${rounds} rounds; lib/index.js without ` +
      "FUNCTION_TARGET loads every trigger module, as deploy discovery does",
  );
  await alternate(variants, rounds);
  const rows: Record<string, Record<string, string | number>> = {};
  for (const variant of variants) {
    const over = variant.spec.preload.length > 0;
    const row = (rows[variant.label] ??= {});
    row[over ? "over firebase-functions/https" : "alone"] = figure(
      variant.samples.map(measures.load),
    );
    if (!over) {
      row["modules alone"] = median(variant.samples.map((s) => s.modules));
    }
  }
  console.table(rows);
}

/** Each export's kind, read from its `__endpoint` in a process of its own (as discovery does). */
async function exportedKinds(): Promise<Map<string, Kind>> {
  const script = `const m = require(${JSON.stringify(LIB_INDEX)});
const kind = (e) => e.httpsTrigger ? "http" : e.scheduleTrigger ? "scheduled"
  : e.eventTrigger ? "event" : e.taskQueueTrigger ? "tasks" : "callable";
console.log(JSON.stringify(Object.keys(m).filter((n) => m[n] && m[n].__endpoint)
  .map((n) => [n, kind(m[n].__endpoint)])));`;
  const { stdout } = await promisify(execFile)(process.execPath, ["-e", script], {
    env: runtimeEnv(undefined, "http"),
  });
  return new Map(JSON.parse(stdout) as [string, Kind][]);
}

async function main(): Promise<void> {
  if (!existsSync(LIB_INDEX)) {
    throw new Error(`${LIB_INDEX} is missing: run \`npm run build\` first`);
  }
  writeFileSync(CHILD_PATH, CHILD);
  for (const [kind, [module, declaration]] of Object.entries(BARE)) {
    const [factory] = declaration.split("(");
    writeFileSync(
      barePath(kind as Kind),
      `const { ${factory} } = require(${JSON.stringify(fromLib.resolve(module))});\n` +
        `exports.bare = ${declaration};\n`,
    );
  }
  const kinds = await exportedKinds();
  console.log(
    `Node.js ${process.version}; bundle ${relative(FUNCTIONS_DIR, LIB_INDEX) || LIB_INDEX}; ` +
      `framework ${relative(FUNCTIONS_DIR, FRAMEWORK_DIR)}; ${kinds.size} functions`,
  );
  const only = values.only;
  if (!only || only === "headline") {
    await headline(Number(values.runs), kinds);
  }
  if (!only || only === "functions") {
    await perFunction(Number(values["function-runs"]), kinds);
  }
  if (!only || only === "imports") {
    await perImport(Number(values["import-runs"]));
  }
}

void main()
  .finally(() => rmSync(work, { recursive: true, force: true }))
  .then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
