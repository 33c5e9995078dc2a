/**
 * `npm run trigger -- <functionId>`: runs a scheduled function of the running local stack now,
 * as Cloud Scheduler would (e.g. `sweepQueuedJobs` instead of waiting for its five minutes).
 * The schedules are read from the built functions, as `npm start` reads them.
 */
import { join } from "node:path";

import { functionTriggerUrl } from "./emulators/suite";
import { LOCAL_PROJECT_ID, localPorts, loopback, readLocalEnv } from "./local-config";
import { invokeScheduled, loadBuiltFunctions, readSchedules } from "./schedules";

const FUNCTIONS_DIR = join(__dirname, "..");

async function main(): Promise<void> {
  const scheduled = readSchedules(loadBuiltFunctions(FUNCTIONS_DIR));
  const names = scheduled.map((fn) => `${fn.id} (${fn.schedule})`).join(", ");
  const id = process.argv[2];
  const fn = scheduled.find((entry) => entry.id === id);
  if (!fn) {
    console.error(
      `usage: npm run trigger -- <functionId>, one of the scheduled functions: ${names}`,
    );
    process.exit(2);
  }
  const host = loopback(localPorts(readLocalEnv()).functions);
  const url = functionTriggerUrl(host, LOCAL_PROJECT_ID, fn.id, fn.region);
  const started = Date.now();
  const { status, body } = await invokeScheduled(url, fn, new Date()).catch((error: unknown) => {
    throw new Error(
      `No Functions emulator at ${host} (${String(error)}): is \`npm start\` running? ` +
        "(Its port comes from FUNCTIONS_PORT, as for `npm start`.)",
    );
  });
  if (status !== 200) {
    throw new Error(
      `${fn.id} answered ${status}${body ? `: ${body}` : ""} (see the npm start logs)`,
    );
  }
  console.log(`${fn.id} ran in ${Date.now() - started} ms (its logs are in the npm start output)`);
}

main()
  .then(() => process.exit(0))
  .catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  });
