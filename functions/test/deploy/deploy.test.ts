/**
 * Deploy hygiene, checked with firebase-tools' own code wherever it runs offline (its `lib/`,
 * typed in `firebase-tools.d.ts`): the manifest the CLI discovers from the built functions, its
 * runtime check, the files it uploads, the parameters a deploy needs, and the lock Cloud Build
 * installs from (`dev/deploy-lock.ts`). Secret Manager is online, so it is stubbed here.
 */
import { execFile } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, delimiter, dirname, join } from "node:path";
import { promisify } from "node:util";

import * as backend from "firebase-tools/lib/deploy/functions/backend";
import { type Build, resolveBackend } from "firebase-tools/lib/deploy/functions/build";
import { resolveCpuAndConcurrency } from "firebase-tools/lib/deploy/functions/prepare";
import { prepareFunctionsUpload } from "firebase-tools/lib/deploy/functions/prepareFunctionsUpload";
import { getRuntimeChoice } from "firebase-tools/lib/deploy/functions/runtimes/node/parseRuntimeAndValidateSDK";
import * as supported from "firebase-tools/lib/deploy/functions/runtimes/supported";
import * as validate from "firebase-tools/lib/deploy/functions/validate";
import * as dotenv from "firebase-tools/lib/functions/env";
import {
  configForCodebase,
  normalizeAndValidate,
} from "firebase-tools/lib/functions/projectConfig";
import * as secretManager from "firebase-tools/lib/gcp/secretManager";
import * as prompt from "firebase-tools/lib/prompt";
import * as utils from "firebase-tools/lib/utils";

import {
  deriveWorkspaceLock,
  formatLock,
  type LockEntry,
  type PackageLock,
  type WorkspaceManifest,
} from "../../dev/deploy-lock";
import { OPTIONAL_VARIABLES } from "../../src/params";
import { BACKFILL_QUEUES, TASK_QUEUES } from "../../src/providers/budget";
import { PROVIDER_IDS } from "../../src/providers/types";

const execFileAsync = promisify(execFile);

const functionsDir = join(__dirname, "../..");
const projectDir = join(functionsDir, "..");
const PROJECT_ID = "demo-deploy-check";
const firebaseConfig = { projectId: PROJECT_ID };

const readJson = <T>(path: string) => JSON.parse(readFileSync(path, "utf8")) as T;
const firebaseJson = readJson<{ functions: unknown }>(join(projectDir, "firebase.json"));
const codebase = configForCodebase(normalizeAndValidate(firebaseJson.functions), "default");
const envExample = readFileSync(join(functionsDir, ".env.example"), "utf8");

/** What must exist in Secret Manager before a project's first deploy: every bound secret. */
const SECRETS_TO_CREATE = [
  "INTEGRATIONS_CRON_SECRET",
  "INTEGRATIONS_CRON_SECRET_PREVIOUS",
  "PROVIDER_SECRETS",
  "STRIPE_SECRET_KEY",
  "TOKEN_ENCRYPTION_KEYS",
];
const PROMPTS = ["input", "password", "confirm", "select", "checkbox", "number"] as const;

/** The part of firebase-functions' `__endpoint` (the declared options) the checks compare. */
interface DeclaredEndpoint {
  region?: string[];
  availableMemoryMb?: number | null;
  timeoutSeconds?: number | null;
  secretEnvironmentVariables?: { key: string }[] | null;
  scheduleTrigger?: { timeZone?: string | null; retryConfig?: { retryCount?: number | null } };
  eventTrigger?: Record<string, unknown>;
}

/**
 * Scripts run by plain Node.js in functions/, each printing one JSON line after MARKER: outside
 * jest, lib/ loads as the runtime loads it, and firebase-tools' discovery as the CLI runs it (it
 * leaves timers behind that would keep jest waiting).
 */
const MARKER = "deploy-test:";
const DECLARATIONS_PROBE = `
const exported = require("./lib/index.js");
const params = require("./lib/params.js");
const endpoints = {};
for (const [name, value] of Object.entries(exported)) {
  if (typeof value === "function" && value.__endpoint) endpoints[name] = value.__endpoint;
}
const secrets = Object.values(params)
  .filter((p) => p && typeof p.toSpec === "function" && p.toSpec().type === "secret")
  .map((p) => p.name);
console.log(${JSON.stringify(MARKER)} + JSON.stringify({ exports: Object.keys(exported), endpoints, secrets }));
`;
// What \`firebase deploy\` does (prepare.loadCodebases): take the codebase's runtime delegate,
// validate it, then serve the built code with FUNCTIONS_CONTROL_API=true and PORT, and parse
// the /__/functions.yaml it answers into a build.
const DISCOVERY_PROBE = `
const { getRuntimeDelegate } = require("firebase-tools/lib/deploy/functions/runtimes");
const [context, config, env] = JSON.parse(process.argv[1]);
(async () => {
  const delegate = await getRuntimeDelegate(context);
  await delegate.validate();
  const build = await delegate.discoverBuild(config, env);
  console.log(${JSON.stringify(MARKER)} + JSON.stringify(build));
  process.exit(0);
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
`;

async function runProbe<T>(script: string, ...args: unknown[]): Promise<T> {
  const { stdout } = await execFileAsync(
    process.execPath,
    ["-e", script, ...(args.length > 0 ? [JSON.stringify(args)] : [])],
    { cwd: functionsDir, maxBuffer: 16 * 1024 * 1024 },
  );
  const line = stdout.split("\n").find((text) => text.startsWith(MARKER));
  if (line === undefined) {
    throw new Error(`the probe printed no result:\n${stdout}`);
  }
  return JSON.parse(line.slice(MARKER.length)) as T;
}

let exportedNames: string[];
let declared: Record<string, DeclaredEndpoint>;
let declaredSecrets: string[];
let build: Build;

beforeAll(async () => {
  // The built code is what deploys: `npm test` builds it before jest runs (other files run it
  // at the same time, so this file must not rebuild it under them).
  if (!existsSync(join(functionsDir, "lib", "index.js"))) {
    throw new Error("functions/lib is missing: run `npm run build` (npm test does) first");
  }
  const [declarations, discovered] = await Promise.all([
    // The declared truth: each export's \`__endpoint\` (the options firebase-functions records)
    // and the params declared with defineSecret.
    runProbe<{
      exports: string[];
      endpoints: Record<string, DeclaredEndpoint>;
      secrets: string[];
    }>(DECLARATIONS_PROBE),
    runProbe<Build>(
      DISCOVERY_PROBE,
      { projectId: PROJECT_ID, projectDir, sourceDir: functionsDir, runtime: codebase.runtime },
      { firebase: firebaseConfig },
      {
        ...dotenv.parseStrict(envExample),
        ...dotenv.loadFirebaseEnvs(firebaseConfig, PROJECT_ID),
        GOOGLE_CLOUD_QUOTA_PROJECT: PROJECT_ID,
      },
    ),
  ]);
  exportedNames = declarations.exports;
  declared = declarations.endpoints;
  declaredSecrets = declarations.secrets;
  build = { ...discovered, runtime: codebase.runtime };
}, 120_000);

afterEach(() => {
  jest.restoreAllMocks();
});

const sorted = (values: Iterable<string>) => [...values].sort();
const secretKeys = (bindings: { key: string }[] | null | undefined) =>
  sorted((bindings ?? []).map((binding) => binding.key));

/** Secret Manager answers that every secret exists with an enabled latest version. */
const secretsExist = (missing: string[] = []) =>
  jest
    .spyOn(secretManager, "getSecretMetadata")
    .mockImplementation((projectId, name) =>
      Promise.resolve(
        missing.includes(name)
          ? {}
          : { secret: { projectId, name }, secretVersion: { versionId: "1", state: "ENABLED" } },
      ),
    );

/** Every prompt firebase-tools can show fails the test's deploy (and is recorded). */
const noPrompts = () =>
  Object.fromEntries(
    PROMPTS.map((name) => [
      name,
      jest.spyOn(prompt, name).mockRejectedValue(new Error(`firebase-tools prompted (${name})`)),
    ]),
  ) as Record<(typeof PROMPTS)[number], jest.SpiedFunction<(typeof prompt)["input"]>>;

/** The values firebase-tools loads from functions/.env when that file holds `text`. */
function loadDotenv(text: string): Record<string, string> {
  const dir = mkdtempSync(join(tmpdir(), "deploy-env-"));
  try {
    writeFileSync(join(dir, ".env"), text);
    return dotenv.loadUserEnvs({ functionsSource: dir, projectId: PROJECT_ID, projectDir: dir });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** firebase-tools' deploy-time parameter resolution (build.resolveBackend → resolveParams). */
const resolveParams = (userEnvs: Record<string, string>, nonInteractive: boolean) =>
  resolveBackend({
    // It fills in prompt settings on the params it asks for: keep the discovered build intact.
    build: structuredClone(build),
    firebaseConfig,
    userEnvs,
    codebase: "default",
    nonInteractive,
    isEmulator: false,
  });

const nonSecretParams = () => build.params.filter((param) => param.type !== "secret");
const defaultedParams = () => nonSecretParams().filter((param) => param.default !== undefined);
const requiredValues = () => {
  const fromExample = dotenv.parseStrict(envExample);
  return Object.fromEntries(
    nonSecretParams()
      .filter((param) => param.default === undefined)
      .map((param) => [param.name, fromExample[param.name] ?? ""]),
  );
};

describe("the manifest firebase-tools discovers from lib/", () => {
  it("lists every exported function, in us-central1 on Cloud Functions 2nd gen", () => {
    expect(exportedNames.length).toBeGreaterThan(0);
    // Every export is a function firebase-tools deploys (a stray export would be ignored).
    expect(exportedNames.filter((name) => !declared[name])).toEqual([]);
    expect(sorted(Object.keys(build.endpoints))).toEqual(sorted(exportedNames));
    for (const name of exportedNames) {
      const endpoint = build.endpoints[name];
      expect({ name, region: endpoint?.region, platform: endpoint?.platform }).toEqual({
        name,
        region: ["us-central1"],
        platform: "gcfv2",
      });
    }
  });

  it("schedules each scheduled function as declared, in UTC, with a retry count", () => {
    const scheduled = Object.entries(declared).filter(([, endpoint]) => endpoint.scheduleTrigger);
    expect(scheduled.length).toBeGreaterThan(0);
    for (const [name, endpoint] of scheduled) {
      const trigger = build.endpoints[name]?.scheduleTrigger;
      expect({ name, trigger }).toEqual({ name, trigger: endpoint.scheduleTrigger });
      expect({
        name,
        timeZone: endpoint.scheduleTrigger?.timeZone,
        retryCount: typeof endpoint.scheduleTrigger?.retryConfig?.retryCount,
      }).toEqual({ name, timeZone: "UTC", retryCount: "number" });
    }
  });

  it("triggers processSyncJob on new syncJobs/{jobId} documents, redelivered on failure (dispatching is idempotent)", () => {
    const triggered = Object.keys(build.endpoints).filter(
      (name) => build.endpoints[name]?.eventTrigger,
    );
    expect(triggered.sort()).toEqual(["processSyncJob", "startBackfillOnConnect"]);
    const trigger = build.endpoints.processSyncJob?.eventTrigger;
    expect(trigger).toEqual(declared.processSyncJob?.eventTrigger);
    expect(trigger).toMatchObject({
      eventType: "google.cloud.firestore.document.v1.created",
      eventFilterPathPatterns: { document: "syncJobs/{jobId}" },
      retry: true,
    });
  });

  it("starts a new integration's backfill on its document's creation, redelivered on failure (idempotent)", () => {
    const trigger = build.endpoints.startBackfillOnConnect?.eventTrigger;
    expect(trigger).toEqual(declared.startBackfillOnConnect?.eventTrigger);
    expect(trigger).toMatchObject({
      eventType: "google.cloud.firestore.document.v1.created",
      eventFilterPathPatterns: { document: "users/{userId}/integrations/{providerId}" },
      retry: true,
    });
  });

  it("deploys a sync and a backfill task queue per platform, with the concurrency that splits its budget", () => {
    const queues = Object.keys(build.endpoints).filter(
      (name) => build.endpoints[name]?.taskQueueTrigger,
    );
    const specs = [TASK_QUEUES, BACKFILL_QUEUES].flatMap((table) =>
      PROVIDER_IDS.map((id) => table[id]),
    );
    expect(queues.sort()).toEqual(specs.map((spec) => spec.functionName).sort());
    for (const { functionName, maxConcurrentDispatches, maxDispatchesPerSecond } of specs) {
      expect(build.endpoints[functionName]?.taskQueueTrigger).toMatchObject({
        rateLimits: { maxConcurrentDispatches, maxDispatchesPerSecond },
        retryConfig: { maxAttempts: 50, minBackoffSeconds: 10, maxBackoffSeconds: 300 },
      });
    }
  });

  it("gives each function the timeout, memory and secrets its trigger declares", () => {
    for (const [name, endpoint] of Object.entries(declared)) {
      const found = build.endpoints[name];
      expect({
        name,
        timeoutSeconds: found?.timeoutSeconds ?? null,
        memoryMb: found?.availableMemoryMb ?? null,
        secrets: secretKeys(found?.secretEnvironmentVariables),
      }).toEqual({
        name,
        timeoutSeconds: endpoint.timeoutSeconds ?? null,
        memoryMb: endpoint.availableMemoryMb ?? null,
        secrets: secretKeys(endpoint.secretEnvironmentVariables),
      });
      // Each binding reads the secret of the same name in the deploy's project.
      for (const binding of found?.secretEnvironmentVariables ?? []) {
        expect(binding).toEqual({ key: binding.key, secret: binding.key, projectId: PROJECT_ID });
      }
    }
    const timeouts = Object.values(declared).flatMap((endpoint) =>
      endpoint.timeoutSeconds ? [endpoint.timeoutSeconds] : [],
    );
    expect(timeouts.length).toBeGreaterThan(0);
    expect(new Set(timeouts)).toEqual(new Set([540]));
  });

  it("declares with defineSecret exactly the secret params, and binds no other secret", () => {
    const secretParams = build.params.filter((param) => param.type === "secret");
    expect(sorted(secretParams.map((param) => param.name))).toEqual(sorted(declaredSecrets));
    const bound = new Set(
      Object.values(build.endpoints).flatMap((endpoint) =>
        secretKeys(endpoint.secretEnvironmentVariables),
      ),
    );
    expect(sorted(bound)).toEqual(sorted(declaredSecrets));
  });

  it("passes firebase-tools' endpoint validation, every endpoint on firebase.json's runtime", async () => {
    secretsExist();
    noPrompts();
    const env = { ...requiredValues() };
    for (const param of defaultedParams()) {
      env[param.name] = String(param.default);
    }
    const { backend: want } = await resolveParams(env, true);
    const endpoints = backend.allEndpoints(want);
    expect(sorted(endpoints.map((endpoint) => endpoint.id))).toEqual(sorted(exportedNames));
    expect(new Set(endpoints.map((endpoint) => endpoint.runtime))).toEqual(
      new Set([codebase.runtime]),
    );
    // As prepare does before validating: fill in CPU and concurrency from memory.
    resolveCpuAndConcurrency(want);
    expect(() => validate.endpointsAreUnique({ default: want })).not.toThrow();
    expect(() => validate.endpointsAreValid(want, backend.empty())).not.toThrow();
  });
});

describe("the runtime", () => {
  it("is one firebase-tools deploys today, not deprecated or near it, and engines agree", () => {
    const runtime = codebase.runtime ?? "";
    const now = new Date();
    expect(runtime).toMatch(/^nodejs\d+$/);
    expect(supported.isRuntime(runtime)).toBe(true);
    expect(supported.isDecommissioned(runtime, now)).toBe(false);
    // guardVersionSupport throws once decommissioned and warns from 90 days before deprecation.
    const warning = jest.spyOn(utils, "logLabeledWarning").mockImplementation(() => undefined);
    expect(() => supported.guardVersionSupport(runtime, now)).not.toThrow();
    expect(warning).not.toHaveBeenCalled();
    // Without firebase.json's runtime the CLI takes package.json's engines.node.
    expect(getRuntimeChoice(functionsDir)).toBe(runtime);
    expect(readJson<{ engines: { node: string } }>(join(functionsDir, "package.json"))).toEqual(
      expect.objectContaining({ engines: { node: runtime.replace("nodejs", "") } }),
    );
  });
});

/** The names in a zip archive, from its central directory. */
function zipEntries(zip: Buffer): string[] {
  const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const count = zip.readUInt16LE(end + 10);
  const names: string[] = [];
  for (let offset = zip.readUInt32LE(end + 16), i = 0; i < count; i++) {
    const nameLength = zip.readUInt16LE(offset + 28);
    const skip = nameLength + zip.readUInt16LE(offset + 30) + zip.readUInt16LE(offset + 32);
    names.push(zip.toString("utf8", offset + 46, offset + 46 + nameLength));
    offset += 46 + skip;
  }
  return names;
}

describe("the upload", () => {
  it("ignores *.local files", () => {
    expect(codebase.ignore).toContain("*.local");
  });

  it("packages the built code, package.json and the lock, and no local env, sources or tests", async () => {
    // A copy of functions/ (no node_modules, none of the developer's env files) with the files
    // that must stay behind planted in it, packaged by firebase-tools as `firebase deploy` does.
    const copy = mkdtempSync(join(tmpdir(), "deploy-upload-"));
    const sourceDir = join(copy, "functions");
    try {
      cpSync(functionsDir, sourceDir, {
        recursive: true,
        filter: (path) =>
          !/(^|\/)(node_modules|\.env[^/]*|[^/]*\.local)$/.test(path.slice(functionsDir.length)),
      });
      const planted = {
        ".env": "NEXT_PUBLIC_APP_URL=https://app.example.com\n",
        ".env.local": "NEXT_PUBLIC_APP_URL=http://localhost:3000\n",
        ".secret.local": "INTEGRATIONS_CRON_SECRET=local-only\n",
        "lib/.env.local": "X=1\n",
        "package-lock.json": "{}\n",
        "node_modules/left-out/index.js": "",
      };
      for (const [path, text] of Object.entries(planted)) {
        mkdirSync(dirname(join(sourceDir, path)), { recursive: true });
        writeFileSync(join(sourceDir, path), text);
      }
      const packaged = await prepareFunctionsUpload(
        copy,
        sourceDir,
        { ...codebase, ignore: [...(codebase.ignore ?? [])] },
        [],
        undefined,
        { exportType: "zip" },
      );
      const entries = zipEntries(readFileSync(packaged?.pathToSource ?? ""));
      rmSync(packaged?.pathToSource ?? "", { force: true });

      expect(entries).toEqual(
        expect.arrayContaining(["package.json", "package-lock.json", "lib/index.js", ".env"]),
      );
      expect(entries.filter((name) => basename(name).endsWith(".local"))).toEqual([]);
      expect(entries.filter((name) => /(^|\/)(src|test|dev|node_modules)\//.test(name))).toEqual(
        [],
      );
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});

describe(".env.example", () => {
  it("sets no secret, even commented out, and says how to create each one", () => {
    const assigned = dotenv.parseStrict(envExample);
    expect(declaredSecrets.length).toBeGreaterThan(0);
    for (const secret of declaredSecrets) {
      expect({ secret, assigned: secret in assigned }).toEqual({ secret, assigned: false });
      expect(envExample).not.toMatch(new RegExp(`^\\s*#?\\s*${secret}\\s*=`, "m"));
      expect(envExample).toContain(`firebase functions:secrets:set ${secret}`);
    }
  });

  it("sets every required parameter and documents every optional variable", () => {
    const assigned = dotenv.parseStrict(envExample);
    for (const param of nonSecretParams()) {
      expect({ name: param.name, value: assigned[param.name] }).toEqual({
        name: param.name,
        value: expect.stringMatching(/\S/) as unknown,
      });
    }
    for (const name of OPTIONAL_VARIABLES) {
      expect(envExample).toMatch(new RegExp(`^#?\\s*${name}=`, "m"));
    }
  });
});

describe("the parameters a deploy needs", () => {
  it("are values for NEXT_PUBLIC_APP_URL and ADMIN_EMAILS, besides the secrets", () => {
    expect(new Set(nonSecretParams().map((param) => param.type))).toEqual(new Set(["string"]));
    expect(sorted(Object.keys(requiredValues()))).toEqual(["ADMIN_EMAILS", "NEXT_PUBLIC_APP_URL"]);
    expect(
      sorted(build.params.filter((param) => param.type === "secret").map((p) => p.name)),
    ).toEqual(SECRETS_TO_CREATE);
  });

  it("declare no param with a default: every optional setting is a plain variable", () => {
    expect(defaultedParams()).toEqual([]);
    expect(OPTIONAL_VARIABLES.filter((name) => build.params.some((p) => p.name === name))).toEqual(
      [],
    );
  });

  it.each([
    ["non-interactive", true],
    ["interactive", false],
  ])(
    "resolve without asking in a %s deploy with only the required values",
    async (_mode, nonInteractive) => {
      const lookups = secretsExist();
      const prompts = noPrompts();
      const env = loadDotenv(
        Object.entries(requiredValues())
          .map(([name, value]) => `${name}=${JSON.stringify(value)}\n`)
          .join(""),
      );

      const { envs, secretRefs } = await resolveParams(env, nonInteractive);

      expect(Object.values(prompts).filter((spy) => spy.mock.calls.length > 0)).toEqual([]);
      expect(sorted(lookups.mock.calls.map(([, name]) => name))).toEqual(SECRETS_TO_CREATE);
      expect(sorted(Object.keys(secretRefs))).toEqual(SECRETS_TO_CREATE);
      for (const [name, value] of Object.entries(requiredValues())) {
        expect({ name, value: envs[name]?.toString() }).toEqual({ name, value });
      }
    },
  );

  it.each(SECRETS_TO_CREATE)(
    "stop a non-interactive deploy when secret %s is missing, optional or not, and create nothing",
    async (secret) => {
      secretsExist([secret]);
      noPrompts();
      const created = jest.spyOn(secretManager, "createSecret").mockResolvedValue({});
      const added = jest.spyOn(secretManager, "addVersion").mockResolvedValue({});
      const env = { ...requiredValues() };
      for (const param of defaultedParams()) {
        env[param.name] = String(param.default);
      }
      await expect(resolveParams(env, true)).rejects.toThrow(
        `In non-interactive mode but have no value for the secret ${secret}: ${secret}\n\n` +
          `Set this secret before deploying:\n\tfirebase functions:secrets:set ${secret}`,
      );
      expect(created).not.toHaveBeenCalled();
      expect(added).not.toHaveBeenCalled();
    },
  );

  it("make an interactive deploy ask for a missing secret's value and create it", async () => {
    const secret = "STRIPE_SECRET_KEY";
    secretsExist([secret]);
    const prompts = noPrompts();
    prompts.password.mockResolvedValue("typed-in");
    const created = jest.spyOn(secretManager, "createSecret").mockResolvedValue({});
    const added = jest.spyOn(secretManager, "addVersion").mockResolvedValue({});
    const env = { ...requiredValues() };
    for (const param of defaultedParams()) {
      env[param.name] = String(param.default);
    }
    await resolveParams(env, false);
    expect(prompts.password.mock.calls.map(([options]) => options.message)).toEqual([
      `Enter a value for ${secret}:`,
    ]);
    expect(created.mock.calls.map((call) => call.slice(0, 2))).toEqual([[PROJECT_ID, secret]]);
    expect(added).toHaveBeenCalledWith(PROJECT_ID, secret, "typed-in");
  });

  it("take a secret set in a dotenv file as a plain value, without asking Secret Manager", async () => {
    const lookups = secretsExist();
    noPrompts();
    const [secret] = SECRETS_TO_CREATE as [string];
    const env = { ...requiredValues(), [secret]: "" };
    for (const param of defaultedParams()) {
      env[param.name] = String(param.default);
    }
    const { envs, secretRefs } = await resolveParams(env, true);
    expect(lookups.mock.calls.map(([, name]) => name)).not.toContain(secret);
    expect(Object.keys(secretRefs)).not.toContain(secret);
    expect(envs[secret]?.toString()).toBe("");
  });
});

/** Where `name` resolves from `from` in a lock's tree, as Node.js looks it up. */
function resolveInLock(lock: PackageLock, from: string, name: string): string | undefined {
  for (let at = from; ;) {
    const candidate = at === "" ? `node_modules/${name}` : `${at}/node_modules/${name}`;
    if (lock.packages[candidate]) {
      return candidate;
    }
    if (at === "") {
      return undefined;
    }
    const parent = at.lastIndexOf("/node_modules/");
    at = parent >= 0 ? at.slice(0, parent) : "";
  }
}

const release = (location: string, entry: LockEntry | undefined) =>
  `${location.slice(location.lastIndexOf("node_modules/") + 13)}@${entry?.version}#${entry?.integrity}`;

describe("the lock Cloud Build installs from (dev/deploy-lock.ts)", () => {
  const rootLock = readJson<PackageLock>(join(projectDir, "package-lock.json"));
  const manifest = readJson<WorkspaceManifest>(join(functionsDir, "package.json"));
  const lock = deriveWorkspaceLock(rootLock, "functions", manifest);

  it("pins every production package to the release the root lock resolves it to", () => {
    // The production closure of the workspace, walked in the root lock's own layout.
    const wanted = new Set<string>();
    const visited = new Set<string>();
    const visit = (from: string) => {
      const entry = rootLock.packages[from];
      const optional = Object.keys(entry?.optionalDependencies ?? {});
      const peers = Object.keys(entry?.peerDependencies ?? {}).filter(
        (name) => !entry?.peerDependenciesMeta?.[name]?.optional,
      );
      for (const name of [...Object.keys(entry?.dependencies ?? {}), ...optional, ...peers]) {
        const location = resolveInLock(rootLock, from, name);
        if (location === undefined) {
          // Only an optional dependency may be absent.
          expect({ from, missing: name, optional: optional.includes(name) }).toEqual({
            from,
            missing: name,
            optional: true,
          });
        } else if (!visited.has(location)) {
          visited.add(location);
          wanted.add(release(location, rootLock.packages[location]));
          visit(location);
        }
      }
    };
    visit("functions");
    expect(wanted.size).toBeGreaterThan(100);

    const installed = Object.entries(lock.packages).filter(
      ([location, entry]) => location !== "" && !entry.dev,
    );
    const installedReleases = new Set(
      installed.map(([location, entry]) => release(location, entry)),
    );
    expect(sorted([...wanted].filter((key) => !installedReleases.has(key)))).toEqual([]);
    // Beyond those, only optional peers the root tree also holds (npm installs a present one).
    const rootReleases = new Set(
      Object.entries(rootLock.packages).map(([location, entry]) => release(location, entry)),
    );
    expect(sorted([...installedReleases].filter((key) => !rootReleases.has(key)))).toEqual([]);
    for (const name of Object.keys(manifest.dependencies ?? {})) {
      const inRoot = resolveInLock(rootLock, "functions", name) ?? "";
      expect({ name, version: lock.packages[`node_modules/${name}`]?.version }).toEqual({
        name,
        version: rootLock.packages[inRoot]?.version,
      });
    }
  });

  it("refuses a root lock that is out of date with package.json", () => {
    const edited = {
      ...manifest,
      dependencies: { ...manifest.dependencies, "left-pad": "^1.3.0" },
    };
    expect(() => deriveWorkspaceLock(rootLock, "functions", edited)).toThrow(
      "the root lock is out of date with functions/package.json (dependencies differ)",
    );
  });

  it("is what npm ci accepts as in sync with package.json and installs in production", async () => {
    const dir = mkdtempSync(join(tmpdir(), "deploy-lock-"));
    try {
      writeFileSync(join(dir, "package.json"), JSON.stringify(manifest, null, 2));
      writeFileSync(join(dir, "package-lock.json"), formatLock(lock));
      // Cloud Build's install, without downloading: NODE_ENV=production, `npm ci`.
      const { stdout } = await execFileAsync(
        "npm",
        ["ci", "--dry-run", "--offline", "--ignore-scripts", "--no-audit", "--no-fund"],
        {
          cwd: dir,
          env: {
            ...process.env,
            NODE_ENV: "production",
            PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ""}`,
          },
        },
      );
      // Exactly the lock's production entries, each at its pinned version.
      const added = stdout.split("\n").flatMap((text) => {
        const match = /^add (\S+) (\S+)$/.exec(text);
        return match ? [`${match[1]}@${match[2]}`] : [];
      });
      const production = Object.entries(lock.packages).flatMap(([location, entry]) =>
        location !== "" && !entry.dev ? [release(location, entry).replace(/#.*$/, "")] : [],
      );
      expect(sorted(added)).toEqual(sorted(production));
      for (const name of Object.keys(manifest.dependencies ?? {})) {
        expect(added).toContain(`${name}@${lock.packages[`node_modules/${name}`]?.version}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
