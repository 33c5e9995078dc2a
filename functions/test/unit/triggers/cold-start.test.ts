/**
 * Cold starts: importing the entry point must do no I/O and load only what every function
 * needs — each function loads its domain code, and the heavy provider module, on first use.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

let loaded: string[];

beforeAll(async () => {
  const { stdout } = await execFileAsync(
    process.execPath,
    [require.resolve("tsx/cli"), join(__dirname, "../../harness/import-probe.ts")],
    // No Firestore, no credentials: importing must not need either.
    { env: { ...process.env, FIRESTORE_EMULATOR_HOST: "", GCLOUD_PROJECT: "" } },
  );
  loaded = JSON.parse(stdout) as string[];
}, 30_000);

const loadedFrom = (fragment: string) => loaded.filter((path) => path.includes(fragment));

it("loads the trigger declarations", () => {
  expect(loadedFrom("/src/triggers/")).not.toHaveLength(0);
});

it("loads no provider adapter or HTTP machinery: only the settings schema config validates and the queues' budget", () => {
  const providers = loadedFrom("/src/providers/").map((path) => path.split("/src/providers/")[1]);
  expect(
    providers.filter((name) => !["settings.ts", "types.ts", "budget.ts"].includes(name ?? "")),
  ).toEqual([]);
});

it.each([
  ["the endpoint handlers", "/src/http/"],
  ["the job store", "/src/jobs/store"],
  ["job processing", "/src/jobs/process"],
  ["the scheduler operations", "/src/scheduler/"],
  ["axios (the platforms' HTTP client)", "/node_modules/axios/"],
])("does not load %s at import time", (_what, fragment) => {
  expect(loadedFrom(fragment)).toEqual([]);
});
