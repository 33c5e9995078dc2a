/**
 * `npm start`: the whole system offline on the Firebase Emulator Suite, on embedded defaults.
 *
 * Builds the functions, starts the sandbox ad platforms (and a local alert receiver), then the
 * suite (`dev/emulators/suite.ts`: Functions, Firestore, Auth, Pub/Sub and Hosting) on the built
 * functions with this run's parameters and secrets; seeds the demo users into its Firestore and
 * Auth; and invokes every scheduled function on its own cron expression, which the emulator does
 * not do. The guide's URLs (`http://localhost:3000/api/...`) go through Hosting's rewrites to the
 * functions, and the Functions emulator delivers the job trigger's Firestore events itself.
 * Data survives a restart (`LOCAL_DATA_DIR`, exported on exit). Ctrl-C stops everything.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";

import { SECRET_NAMES, splitConfiguration, VARIABLE_NAMES } from "../src/params";
import { emulatorLogFilter, type LogSink } from "./emulator-logs";
import { type RunningSuite, SUITE_PORT_NAMES } from "./emulators/suite";
import {
  LOCAL_PASSWORD,
  LOCAL_PROJECT_ID,
  type LocalEnv,
  localPorts,
  loopback,
  portInUse,
  type PortName,
  readLocalEnv,
  useEmulators,
} from "./local-config";
import { isPortFree } from "./ports";
import { installPrettyLogs } from "./pretty-logs";
import {
  deployedIds,
  invokeScheduled,
  loadBuiltFunctions,
  readSchedules,
  type ScheduledFunction,
  startScheduleClock,
} from "./schedules";

const FUNCTIONS_DIR = join(__dirname, "..");
const REPO_DIR = join(FUNCTIONS_DIR, "..");
/** Every port the stack binds: the suite's and the sandbox's. */
const CHECKED_PORTS: readonly PortName[] = [...SUITE_PORT_NAMES, "sandbox"];

const log = (severity: string, message: string, fields: Record<string, unknown> = {}) =>
  console.info(JSON.stringify({ severity, message, ...fields }));
const info = (message: string, fields?: Record<string, unknown>) => log("INFO", message, fields);

/** `tsc -p tsconfig.build.json` (the emulator runs functions/lib), on this Node.js. */
function buildFunctions(): void {
  const started = Date.now();
  const tsc = require.resolve("typescript/bin/tsc");
  const result = spawnSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], {
    cwd: FUNCTIONS_DIR,
    encoding: "utf8",
  });
  if (result.status !== 0) {
    throw new Error(
      `The functions do not build (tsc -p tsconfig.build.json in functions/):\n${result.stdout}${result.stderr}`,
    );
  }
  info("functions built", { ms: Date.now() - started });
}

/** The functions' configuration from the developer's env files and the stack's own values. */
function functionValues(env: LocalEnv, overrides: Record<string, string>) {
  const values = Object.fromEntries(
    [...VARIABLE_NAMES, ...SECRET_NAMES].flatMap((name) => {
      const value = env.get(name) || overrides[name];
      return value === undefined ? [] : [[name, value]];
    }),
  );
  const { variables, secrets } = splitConfiguration(values);
  return { params: variables, secrets };
}

function dataDir(env: LocalEnv): string {
  const configured = env.get("LOCAL_DATA_DIR");
  // npm runs the script in functions/; a relative path means one from where `npm start` was typed.
  return configured
    ? resolve(process.env.INIT_CWD ?? process.cwd(), configured)
    : join(REPO_DIR, ".emulators", "local-data");
}

type RunState = "starting" | "ready" | "stopping";

async function main(): Promise<void> {
  const started = Date.now();
  installPrettyLogs();
  const run: { state: RunState; stopRequested?: string; stop: (signal: string) => void } = {
    state: "starting",
    // Nothing detached runs yet: stopping is exiting.
    stop: () => process.exit(130),
  };
  // Ctrl-C, `kill`, a closed terminal: each stops the stack once (the data is exported).
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(signal, () => run.stop(signal));
  }
  const env = readLocalEnv();
  const ports = localPorts(env);
  for (const name of CHECKED_PORTS) {
    if (!(await isPortFree(ports[name]))) {
      throw portInUse(name, ports[name]);
    }
  }
  const alertReceiverWanted = !env.get("SCHEDULER_ALERT_WEBHOOK_URL");
  if (alertReceiverWanted && !(await isPortFree(ports.alertReceiver))) {
    throw portInUse("alertReceiver", ports.alertReceiver);
  }
  // Offline: keep google-auth-library in firebase-tools from probing the GCE metadata server.
  useEmulators({});

  buildFunctions();
  const functionsModule = loadBuiltFunctions(FUNCTIONS_DIR);
  const scheduled = readSchedules(functionsModule);

  const stops: Array<() => Promise<void> | void> = [];
  const stopAll = async () => {
    // Reverse order: the clock and the suite stop before what they call goes away.
    for (const step of stops.splice(0).reverse()) {
      await Promise.resolve(step()).catch((error: unknown) =>
        log("WARNING", "stopping failed", { error: String(error) }),
      );
    }
  };
  try {
    const { startSandbox } = await import("./sandbox/server");
    const { SandboxWorld } = await import("./sandbox/world");
    const { SANDBOX_PLATFORMS, demoAccounts, sandboxProviderSettings } = await import("./sandbox");
    const world = new SandboxWorld(demoAccounts());
    const sandbox = await startSandbox({
      world,
      platforms: SANDBOX_PLATFORMS,
      port: ports.sandbox,
    });
    stops.push(() => sandbox.stop());

    // The adapters reach the sandbox by configuration only, as they would reach production.
    const { settings, secrets: sandboxSecrets } = sandboxProviderSettings(sandbox);
    const overrides: Record<string, string> = {
      PROVIDER_SETTINGS: JSON.stringify(settings),
      PROVIDER_SECRETS: JSON.stringify(sandboxSecrets),
    };
    // No webhook configured: a local receiver stands in, so scheduler alerts show in these logs.
    let alertReceiver: string | undefined;
    if (alertReceiverWanted) {
      const { startWebhookReceiver } = await import("./webhook-receiver");
      const receiver = await startWebhookReceiver({
        port: ports.alertReceiver,
        onMessage: (alert) => info("alert webhook received", { text: alert.text }),
      });
      overrides.SCHEDULER_ALERT_WEBHOOK_URL = alertReceiver = receiver.url;
      stops.push(() => receiver.stop());
    }
    const { params, secrets } = functionValues(env, overrides);

    const sink: LogSink = {
      entry: (severity, message, fields) => log(severity, message, fields),
      raw: (line) => console.log(line),
    };
    const output = emulatorLogFilter(sink, { raw: env.get("LOCAL_LOGS") === "raw" });
    const data = dataDir(env);
    const imported = existsSync(join(data, "firebase-export-metadata.json"));
    info("starting the Firebase emulators", { data: imported ? `${data} (imported)` : data });
    run.stop = (signal) => {
      // firebase-tools starts in a process group of its own: it is stopped once it is up.
      if (!run.stopRequested) {
        run.stopRequested = signal;
        info(`${signal}: the local stack stops as soon as the emulators are up`);
      }
    };
    const { startSuite } = await import("./emulators/suite");
    const suite: RunningSuite = await startSuite({
      name: "local",
      projectId: LOCAL_PROJECT_ID,
      ports: {
        hosting: ports.hosting,
        functions: ports.functions,
        firestore: ports.firestore,
        firestoreWebsocket: ports.firestoreWebsocket,
        auth: ports.auth,
        pubsub: ports.pubsub,
        hub: ports.hub,
        logging: ports.logging,
        eventarc: ports.eventarc,
        tasks: ports.tasks,
      },
      params,
      secrets,
      dataDir: data,
      onOutput: (chunk) => output.write(chunk),
      expectFunctions: deployedIds(functionsModule),
      // Ctrl-C reaches this process only; `suite.stop()` sends firebase-tools its one SIGINT.
      detached: true,
      onExit: (reason) => {
        output.flush();
        if (run.state === "ready") {
          run.state = "stopping";
          log("ERROR", `${reason}: stopping the local stack`);
          void stopAll().finally(() => process.exit(1));
        }
      },
    });
    stops.push(async () => {
      info("exporting data and stopping the emulators", { data });
      await suite.stop();
    });
    run.stop = (signal) => {
      if (run.state === "stopping") {
        return;
      }
      run.state = "stopping";
      info(`${signal}: stopping the local stack`);
      void stopAll().finally(() => {
        info("local stack stopped", { data });
        process.exit(0);
      });
    };
    if (run.stopRequested) {
      run.stop(run.stopRequested);
      return;
    }

    // Seed through firebase-admin, pointed at this suite's emulators.
    useEmulators(suite.hosts);
    const { initializeApp } = await import("firebase-admin/app");
    const { getFirestore } = await import("firebase-admin/firestore");
    const { getAuth } = await import("firebase-admin/auth");
    const { firstAdminEmail, localUsers, seedAuthUsers, seedDemo } = await import("./seed");
    const app = initializeApp({ projectId: LOCAL_PROJECT_ID }, "local-seed");
    const seeded = await seedDemo(getFirestore(app), world, {
      TOKEN_ENCRYPTION_KEYS: secrets.TOKEN_ENCRYPTION_KEYS,
    });
    const users = localUsers(params.ADMIN_EMAILS);
    await seedAuthUsers(getAuth(app), users, LOCAL_PASSWORD);

    const clock = startScheduleClock(scheduled, (fn, scheduleTime) => {
      void runScheduled(suite, fn, scheduleTime);
    });
    stops.push(() => clock.stop());

    const hosting = `http://localhost:${ports.hosting}`;
    info(`Local stack ready on ${hosting} in ${((Date.now() - started) / 1000).toFixed(1)} s`, {
      api: `${hosting}/api/...`,
      functions: suite.hosts.functions,
      firestore: suite.hosts.firestore,
      auth: suite.hosts.auth,
      pubsub: suite.hosts.pubsub,
      hub: loopback(ports.hub),
      sandbox: sandbox.url,
      // A configured webhook URL is a credential: only the local receiver's is shown.
      alertWebhook: alertReceiver ?? "configured (SCHEDULER_ALERT_WEBHOOK_URL)",
      project: LOCAL_PROJECT_ID,
      envFiles: env.files,
      data,
      users: users.map((user) => `${user.email} (${user.uid})`),
      password: LOCAL_PASSWORD,
      token: `TOKEN=$(npm run -s token -- ${firstAdminEmail(params.ADMIN_EMAILS) ?? "<email>"})`,
      demoIntegrations: seeded,
      scheduled: scheduled.map((fn) => `${fn.id} (${fn.schedule} ${fn.timeZone})`),
    });
    if (run.state === "starting") {
      run.state = "ready";
    }
  } catch (error) {
    await stopAll();
    // A signal during seeding stops the emulators under it: that is the stop, not a failure.
    if (run.state !== "stopping") {
      throw error;
    }
  }
}

async function runScheduled(suite: RunningSuite, fn: ScheduledFunction, scheduleTime: Date) {
  info(`scheduled ${fn.id}`, { schedule: fn.schedule, scheduleTime: scheduleTime.toISOString() });
  try {
    const { status } = await invokeScheduled(suite.triggerUrl(fn.id, fn.region), fn, scheduleTime);
    if (status !== 200) {
      log("WARNING", `scheduled ${fn.id} failed`, { status });
    }
  } catch (error) {
    log("WARNING", `scheduled ${fn.id} could not be invoked`, { error: String(error) });
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
