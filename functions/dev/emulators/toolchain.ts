/**
 * Finds what firebase-tools needs to run its emulators offline, and says what to install when
 * something is missing (never falls back to anything less strict than the official emulators).
 *
 * - **Java 21+**: firebase-tools 15 refuses older Java for its Firestore emulator. `JAVA_HOME`
 *   wins; otherwise the newest JDK under the usual JVM folders.
 * - **The emulator jars**: firebase-tools downloads them into its cache folder on first use. On a
 *   machine without network, the Google Cloud SDK's own Firestore and Pub/Sub emulators (the
 *   same programs) are used instead: a cache folder of ours names them the way firebase-tools
 *   expects (it checks only that the files exist; sizes and checksums only when downloading).
 *   The SDK's Firestore jar has no `Main-Class`, and firebase-tools runs `java -jar`, so a
 *   manifest-only jar beside it supplies one and puts the SDK jar on its class path.
 */
import { execFileSync, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";

export const MIN_JAVA_MAJOR = 21;
const FIRESTORE_MAIN_CLASS = "com.google.cloud.datastore.emulator.firestore.CloudFirestore";
const JVM_FOLDERS = ["/usr/lib/jvm", "/opt/java", "/usr/local/lib/jvm"];
const SDK_FOLDERS = [
  "/usr/lib/google-cloud-sdk",
  "/usr/share/google-cloud-sdk",
  "/opt/google-cloud-sdk",
];

export class ToolchainError extends Error {}

/** The major version `java -version` reports, or undefined when the binary does not run. */
function javaMajor(javaHome: string): number | undefined {
  const java = join(javaHome, "bin", "java");
  if (!existsSync(java)) {
    return undefined;
  }
  // `java -version` prints to stderr.
  const result = spawnSync(java, ["-version"], { encoding: "utf8" });
  return result.status === 0 ? parseJavaMajor(result.stderr) : undefined;
}

/** `openjdk version "25.0.1"` → 25; `java version "1.8.0_402"` → 8. */
export function parseJavaMajor(text: string): number | undefined {
  const match = /version "(\d+)(?:\.(\d+))?/.exec(text);
  if (!match) {
    return undefined;
  }
  const first = Number(match[1]);
  return first === 1 && match[2] !== undefined ? Number(match[2]) : first;
}

function findJava(): { home: string; major: number } {
  const candidates = [
    ...(process.env.JAVA_HOME ? [process.env.JAVA_HOME] : []),
    ...JVM_FOLDERS.filter((folder) => existsSync(folder)).flatMap((folder) =>
      readdirSync(folder).map((name) => join(folder, name)),
    ),
  ];
  let best: { home: string; major: number } | undefined;
  for (const home of candidates) {
    const major = javaMajor(home);
    if (
      major !== undefined &&
      major >= MIN_JAVA_MAJOR &&
      (best === undefined || major > best.major)
    ) {
      best = { home, major };
      if (home === process.env.JAVA_HOME) {
        break; // The developer's choice wins when it is recent enough.
      }
    }
  }
  if (!best) {
    throw new ToolchainError(
      `The Firebase emulators need Java ${MIN_JAVA_MAJOR} or newer (firebase-tools 15 refuses older). ` +
        `None found in JAVA_HOME or ${JVM_FOLDERS.join(", ")}. Install a JDK ${MIN_JAVA_MAJOR}+ ` +
        `(e.g. Debian's openjdk-21-jdk-headless, or Temurin) and set JAVA_HOME to it.`,
    );
  }
  return best;
}

interface SdkEmulators {
  root: string;
  firestoreJar: string;
  firestoreVersion: string;
  pubsubDir: string;
  pubsubVersion: string;
}

function componentVersion(root: string, component: string): string {
  const file = join(root, ".install", `${component}.snapshot.json`);
  if (existsSync(file)) {
    const snapshot = JSON.parse(readFileSync(file, "utf8")) as {
      components?: Array<{ id?: string; version?: { version_string?: string } }>;
    };
    const version = snapshot.components?.find((c) => c.id === component)?.version?.version_string;
    if (version) {
      return version;
    }
  }
  return "sdk";
}

function findSdkEmulators(): SdkEmulators | undefined {
  const roots = [
    ...(process.env.CLOUDSDK_ROOT_DIR ? [process.env.CLOUDSDK_ROOT_DIR] : []),
    ...SDK_FOLDERS,
  ];
  for (const root of roots) {
    const firestoreJar = join(
      root,
      "platform",
      "cloud-firestore-emulator",
      "cloud-firestore-emulator.jar",
    );
    const pubsubDir = join(root, "platform", "pubsub-emulator");
    if (existsSync(firestoreJar) && existsSync(join(pubsubDir, "bin", "cloud-pubsub-emulator"))) {
      return {
        root,
        firestoreJar,
        firestoreVersion: componentVersion(root, "cloud-firestore-emulator"),
        pubsubDir,
        pubsubVersion: componentVersion(root, "pubsub-emulator"),
      };
    }
  }
  return undefined;
}

/** firebase-tools' own cache, where it keeps the jars it downloaded. */
const defaultCache = () =>
  process.env.FIREBASE_EMULATORS_PATH ?? join(homedir(), ".cache", "firebase", "emulators");

function hasDownloadedJars(cache: string): boolean {
  return (
    existsSync(cache) &&
    readdirSync(cache).some((name) => /^cloud-firestore-emulator-v.*\.jar$/.test(name))
  );
}

/** Writes the cache folder that presents the SDK's emulators as firebase-tools' downloads. */
function prepareSdkCache(sdk: SdkEmulators, cache: string, javaHome: string): void {
  mkdirSync(cache, { recursive: true });
  const jar = join(cache, `cloud-firestore-emulator-v${sdk.firestoreVersion}.jar`);
  if (!existsSync(jar)) {
    const manifest = join(cache, "firestore-manifest.txt");
    // Class-Path entries are URLs relative to the jar: an absolute path resolves to itself.
    writeFileSync(
      manifest,
      `Main-Class: ${FIRESTORE_MAIN_CLASS}\nClass-Path: ${sdk.firestoreJar}\n`,
    );
    execFileSync(join(javaHome, "bin", "jar"), ["--create", "--file", jar, "--manifest", manifest]);
  }
  const pubsub = join(cache, `pubsub-emulator-${sdk.pubsubVersion}`);
  if (!existsSync(pubsub)) {
    mkdirSync(pubsub, { recursive: true });
    symlinkSync(sdk.pubsubDir, join(pubsub, "pubsub-emulator"));
  }
}

export interface Toolchain {
  /** Variables to add to firebase-tools' environment. */
  env: Record<string, string>;
  /** What was found, for the start-up log. */
  summary: string;
}

/**
 * Resolves Java and the emulator jars; `cacheDir` is where the SDK-backed cache goes (inside
 * the project, git-ignored). Throws a ToolchainError saying what to install.
 */
export function resolveToolchain(cacheDir: string): Toolchain {
  const java = findJava();
  const env: Record<string, string> = {
    JAVA_HOME: java.home,
    PATH: [join(java.home, "bin"), process.env.PATH ?? ""].join(delimiter),
  };
  const sdk = findSdkEmulators();
  if (sdk) {
    prepareSdkCache(sdk, cacheDir, java.home);
    Object.assign(env, {
      FIREBASE_EMULATORS_PATH: cacheDir,
      FIRESTORE_EMULATOR_VERSION: sdk.firestoreVersion,
      PUBSUB_EMULATOR_VERSION: sdk.pubsubVersion,
    });
    return {
      env,
      summary: `Java ${java.major} (${java.home}); Cloud SDK emulators at ${sdk.root} (Firestore ${sdk.firestoreVersion}, Pub/Sub ${sdk.pubsubVersion})`,
    };
  }
  if (!hasDownloadedJars(defaultCache()) && process.env.FIREBASE_EMULATORS_DOWNLOAD !== "1") {
    throw new ToolchainError(
      "No Firestore emulator found. Either install the Google Cloud SDK with its " +
        "cloud-firestore-emulator and pubsub-emulator components (looked in CLOUDSDK_ROOT_DIR, " +
        `${SDK_FOLDERS.join(", ")}), or, on a machine with network, let firebase-tools download ` +
        "its own jars: `npx firebase setup:emulators:firestore && npx firebase " +
        "setup:emulators:pubsub` (or set FIREBASE_EMULATORS_DOWNLOAD=1).",
    );
  }
  return { env, summary: `Java ${java.major} (${java.home}); firebase-tools' own emulator jars` };
}
