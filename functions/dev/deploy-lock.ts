/**
 * Writes functions/package-lock.json for the deploy, from the workspace root's lock (from
 * functions/):
 *
 *     npx tsx dev/deploy-lock.ts [--check]
 *
 * The deploy uploads functions/ alone, and Cloud Build installs there. Without a lock of its own
 * it runs `npm install --package-lock-only` first, which takes the newest versions the ranges in
 * package.json allow, so production could run versions the tests never ran with. npm writes no
 * lock for one workspace, so this lays the workspace's dependency closure out as a standalone
 * tree: every package with the version and integrity of the root lock, every dependency resolving
 * to the same package it resolves to there (checked after the layout), and npm's dev, optional and
 * peer flags recomputed for the new root (`npm ci --omit=dev` trusts them). `--check` writes
 * nothing and exits 1 when the file on disk differs.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";

type DependencyMap = Record<string, string>;

/** One `packages` entry of a lockfile v2/v3. */
export interface LockEntry {
  name?: string;
  version?: string;
  resolved?: string;
  integrity?: string;
  link?: boolean;
  dev?: boolean;
  optional?: boolean;
  devOptional?: boolean;
  peer?: boolean;
  inBundle?: boolean;
  extraneous?: boolean;
  dependencies?: DependencyMap;
  optionalDependencies?: DependencyMap;
  devDependencies?: DependencyMap;
  peerDependencies?: DependencyMap;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  [field: string]: unknown;
}

export interface PackageLock {
  name?: string;
  version?: string;
  lockfileVersion: number;
  requires?: boolean;
  packages: Record<string, LockEntry>;
}

/** The fields of the workspace's package.json that npm copies into the lock's root entry. */
export interface WorkspaceManifest {
  name: string;
  version?: string;
  license?: string;
  bin?: unknown;
  engines?: unknown;
  dependencies?: DependencyMap;
  optionalDependencies?: DependencyMap;
  devDependencies?: DependencyMap;
  peerDependencies?: DependencyMap;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

type EdgeType = "prod" | "dev" | "optional" | "peer" | "peerOptional";
interface Edge {
  name: string;
  type: EdgeType;
}

const FLAGS = ["dev", "optional", "devOptional", "peer", "extraneous"] as const;
const DEPENDENCY_FIELDS = [
  "dependencies",
  "optionalDependencies",
  "devDependencies",
  "peerDependencies",
] as const;

const canonical = (map: DependencyMap | undefined) =>
  JSON.stringify(Object.entries(map ?? {}).sort(([a], [b]) => a.localeCompare(b)));
type Flag = (typeof FLAGS)[number];

const childLocation = (parent: string, name: string) =>
  parent === "" ? `node_modules/${name}` : `${parent}/node_modules/${name}`;

/** The location whose node_modules holds this one ("" is the root). */
function parentLocation(location: string): string {
  const index = location.lastIndexOf("/node_modules/");
  return index >= 0 ? location.slice(0, index) : "";
}

/** The location itself, then every folder Node.js looks in above it, ending with the root. */
function searchPath(location: string): string[] {
  const path = [location];
  for (let current = location; current !== "";) {
    current = parentLocation(current);
    path.push(current);
  }
  return path;
}

const folderName = (location: string) =>
  location.slice(location.lastIndexOf("node_modules/") + "node_modules/".length);

/** Where `name` resolves from `from` in a tree of packages, as Node.js and npm look it up. */
function resolveIn(
  packages: Record<string, LockEntry>,
  from: string,
  name: string,
): string | undefined {
  return searchPath(from)
    .map((location) => childLocation(location, name))
    .find((candidate) => packages[candidate] !== undefined);
}

/** npm's edge precedence: peer, then prod, then optional override; dev only for the root. */
function edgesOf(entry: LockEntry, isRoot: boolean): Edge[] {
  const edges = new Map<string, EdgeType>();
  for (const name of Object.keys(entry.peerDependencies ?? {})) {
    edges.set(name, entry.peerDependenciesMeta?.[name]?.optional ? "peerOptional" : "peer");
  }
  for (const name of Object.keys(entry.dependencies ?? {})) {
    edges.set(name, "prod");
  }
  for (const name of Object.keys(entry.optionalDependencies ?? {})) {
    edges.set(name, "optional");
  }
  if (isRoot) {
    for (const name of Object.keys(entry.devDependencies ?? {})) {
      if (!edges.has(name)) {
        edges.set(name, "dev");
      }
    }
  }
  return [...edges].map(([name, type]) => ({ name, type }));
}

const isOptionalEdge = (type: EdgeType) => type === "optional" || type === "peerOptional";

/**
 * The standalone lock of one workspace of `rootLock`: the workspace at `workspaceLocation`
 * (e.g. "functions") becomes the root, with `manifest` (its package.json) as the root entry.
 * Throws when the root lock is out of date with `manifest`, lacks a package the workspace needs,
 * or has a layout this cannot reproduce (bundled or linked dependencies).
 */
export function deriveWorkspaceLock(
  rootLock: PackageLock,
  workspaceLocation: string,
  manifest: WorkspaceManifest,
): PackageLock {
  const source = rootLock.packages;
  if (rootLock.lockfileVersion < 2 || source[workspaceLocation] === undefined) {
    throw new Error(
      `the root lock (lockfileVersion ${rootLock.lockfileVersion}) has no packages entry for ` +
        `"${workspaceLocation}"; it needs lockfileVersion 2 or 3 from an npm workspaces install`,
    );
  }
  // The uploaded package.json is what npm ci checks the lock against.
  const workspace = source[workspaceLocation];
  const differ = DEPENDENCY_FIELDS.filter(
    (field) => canonical(manifest[field]) !== canonical(workspace[field]),
  );
  if (differ.length > 0) {
    throw new Error(
      `the root lock is out of date with ${workspaceLocation}/package.json (${differ.join(", ")} ` +
        "differ): run npm install at the workspace root first",
    );
  }
  const sameRelease = (a: string, b: string) =>
    folderName(a) === folderName(b) &&
    source[a]?.version === source[b]?.version &&
    source[a]?.integrity === source[b]?.integrity;

  // New location → the root-lock location it copies.
  const placed = new Map<string, string>([["", workspaceLocation]]);
  const edgesOut = new Map<string, { to: string; type: EdgeType }[]>();
  const queue: string[] = [""];
  const optionalPeers: { at: string; name: string; target: string }[] = [];

  const place = (location: string, from: string) => {
    const entry = source[from];
    if (entry?.link || entry?.inBundle) {
      throw new Error(
        `${from} is ${entry.link ? "a link" : "a bundled dependency"}; deriving a lock for it is not supported`,
      );
    }
    if (placed.has(location)) {
      throw new Error(`internal error: ${location} is already taken`);
    }
    placed.set(location, from);
    queue.push(location);
  };
  const visibleFrom = (at: string, name: string) =>
    searchPath(at)
      .map((location) => childLocation(location, name))
      .find((candidate) => placed.has(candidate));
  const addEdge = (at: string, to: string, type: EdgeType) =>
    edgesOut.set(at, [...(edgesOut.get(at) ?? []), { to, type }]);

  // Breadth first, so the shallowest dependents claim the top level; a package whose name is
  // already taken by another release higher up goes under the dependent that needs it. Optional
  // peers come last: npm installs one only when something else needs it, so they only have to
  // see the tested release, and where another release is in sight the tested one goes under the
  // dependent.
  while (queue.length > 0 || optionalPeers.length > 0) {
    while (queue.length > 0) {
      const at = queue.shift() as string;
      const from = placed.get(at) as string;
      for (const { name, type } of edgesOf(source[from] as LockEntry, at === "")) {
        const target = resolveIn(source, from, name);
        if (target === undefined) {
          if (isOptionalEdge(type)) {
            continue;
          }
          throw new Error(`${from || "the root"} needs ${name}, which the root lock does not have`);
        }
        if (type === "peerOptional") {
          optionalPeers.push({ at, name, target });
          continue;
        }
        const visible = visibleFrom(at, name);
        if (visible !== undefined && sameRelease(placed.get(visible) as string, target)) {
          addEdge(at, visible, type);
        } else {
          const location =
            visible === undefined ? childLocation("", name) : childLocation(at, name);
          place(location, target);
          addEdge(at, location, type);
        }
      }
    }
    for (const { at, name, target } of optionalPeers.splice(0)) {
      const visible = visibleFrom(at, name);
      if (visible !== undefined && sameRelease(placed.get(visible) as string, target)) {
        addEdge(at, visible, "peerOptional");
      } else if (visible !== undefined) {
        place(childLocation(at, name), target);
        // Installed on purpose, so flagged as a peer rather than left extraneous.
        addEdge(at, childLocation(at, name), "peer");
      }
    }
  }

  // Every dependency must resolve, from its new place, to the release it resolves to in the root
  // lock; an optional peer may stay uninstalled, but must not meet another release.
  const layout = Object.fromEntries([...placed.keys()].map((location) => [location, {}]));
  for (const [at, from] of placed) {
    for (const { name, type } of edgesOf(source[from] as LockEntry, at === "")) {
      const want = resolveIn(source, from, name);
      const got = resolveIn(layout, at, name);
      const ok =
        got === undefined
          ? want === undefined || isOptionalEdge(type)
          : want !== undefined && sameRelease(placed.get(got) as string, want);
      if (!ok) {
        throw new Error(
          `${at || "the root"} would resolve ${name} to ${got ? placed.get(got) : "nothing"} ` +
            `instead of ${want ?? "nothing"}`,
        );
      }
    }
  }

  const flags = computeFlags([...placed.keys()], edgesOut);
  const packages: Record<string, LockEntry> = { "": rootEntry(manifest) };
  const locations = [...placed.keys()].filter((location) => location !== "");
  for (const location of locations.sort((a, b) => a.localeCompare(b, "en"))) {
    const entry = source[placed.get(location) as string] as LockEntry;
    packages[location] = entryWithFlags(entry, flags.get(location));
  }
  return {
    name: manifest.name,
    ...(manifest.version === undefined ? {} : { version: manifest.version }),
    lockfileVersion: 3,
    requires: true,
    packages,
  };
}

/** npm's dep-flag walk (arborist's calc-dep-flags): flags start set and are cleared outward. */
function computeFlags(
  locations: string[],
  edgesOut: Map<string, { to: string; type: EdgeType }[]>,
): Map<string, Record<Flag, boolean>> {
  const flags = new Map(
    locations.map((location) => [
      location,
      Object.fromEntries(FLAGS.map((flag) => [flag, location !== ""])) as Record<Flag, boolean>,
    ]),
  );
  const queue = [""];
  const seen = new Set<string>();
  for (let node = queue.pop(); node !== undefined; node = queue.pop()) {
    seen.add(node);
    const from = flags.get(node) as Record<Flag, boolean>;
    for (const { to, type } of edgesOut.get(node) ?? []) {
      const target = flags.get(to) as Record<Flag, boolean>;
      const dev = type === "dev";
      const optional = isOptionalEdge(type);
      const peer = type === "peer" || type === "peerOptional";
      let changed = false;
      const unset = (flag: Flag, when: boolean) => {
        if (target[flag] && when) {
          target[flag] = false;
          changed = true;
        }
      };
      unset("extraneous", !from.extraneous && !(peer && optional));
      unset("dev", !from.dev && !dev);
      unset("optional", !from.optional && !optional);
      unset("devOptional", !from.devOptional && !from.dev && !from.optional && !dev && !optional);
      unset("peer", !from.peer && !peer);
      if (changed || !seen.has(to)) {
        queue.push(to);
      }
    }
  }
  for (const value of flags.values()) {
    if (value.devOptional && (value.dev || value.optional)) {
      value.devOptional = false;
    }
  }
  return flags;
}

function rootEntry(manifest: WorkspaceManifest): LockEntry {
  const fields = [
    "name",
    "version",
    "license",
    "dependencies",
    "optionalDependencies",
    "devDependencies",
    "peerDependencies",
    "peerDependenciesMeta",
    "bin",
    "engines",
  ] as const;
  return Object.fromEntries(
    fields.filter((field) => manifest[field] !== undefined).map((f) => [f, manifest[f]]),
  );
}

/** The root lock's entry with the new flags, in npm's field order (flags after integrity). */
function entryWithFlags(entry: LockEntry, flags: Record<Flag, boolean> | undefined): LockEntry {
  const { version, resolved, integrity, ...rest } = entry;
  for (const flag of FLAGS) {
    delete rest[flag];
  }
  const set = (flag: Flag) => (flags?.[flag] ? { [flag]: true } : {});
  return {
    ...(version === undefined ? {} : { version }),
    ...(resolved === undefined ? {} : { resolved }),
    ...(integrity === undefined ? {} : { integrity }),
    ...set("dev"),
    ...set("optional"),
    ...set("devOptional"),
    ...set("peer"),
    ...set("extraneous"),
    ...rest,
  };
}

/** The lock as npm writes it: two-space JSON and a final newline. */
export const formatLock = (lock: PackageLock) => `${JSON.stringify(lock, null, 2)}\n`;

function main(): number {
  const args = process.argv.slice(2);
  if (args.some((arg) => arg !== "--check")) {
    console.error("usage: npx tsx dev/deploy-lock.ts [--check]");
    return 2;
  }
  const functionsDir = join(__dirname, "..");
  const rootDir = join(functionsDir, "..");
  const readJson = <T>(path: string) => JSON.parse(readFileSync(path, "utf8")) as T;
  const lock = deriveWorkspaceLock(
    readJson<PackageLock>(join(rootDir, "package-lock.json")),
    relative(rootDir, functionsDir),
    readJson<WorkspaceManifest>(join(functionsDir, "package.json")),
  );
  const target = join(functionsDir, "package-lock.json");
  const text = formatLock(lock);
  const count = Object.keys(lock.packages).length - 1;
  if (args.includes("--check")) {
    const current = existsSync(target) ? readFileSync(target, "utf8") : "";
    if (current !== text) {
      console.error(`${target} is missing or stale: run npx tsx dev/deploy-lock.ts`);
      return 1;
    }
    console.log(`${target} is up to date (${count} packages)`);
    return 0;
  }
  writeFileSync(target, text);
  console.log(`wrote ${target} (${count} packages) from the workspace root's package-lock.json`);
  return 0;
}

if (require.main === module) {
  process.exitCode = main();
}
