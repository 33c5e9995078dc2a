/**
 * Runs the health check against a Firestore host that never answers, in its own process: the
 * client's abandoned request keeps retrying after the check has timed out, and must not outlive
 * a jest worker. Prints the response as JSON and exits. Usage: tsx <this> <host:port>.
 */
import axios from "axios";
import { initializeApp } from "firebase-admin/app";
import { getFirestore } from "firebase-admin/firestore";

import { checkHealth } from "../../src/http/health";

const [host, env] = process.argv.slice(2);
process.env.FIRESTORE_EMULATOR_HOST = host;
process.env.METADATA_SERVER_DETECTION = "none";

checkHealth({
  db: getFirestore(initializeApp({ projectId: "demo-unreachable" })),
  http: axios.create(),
  env: JSON.parse(env ?? "{}") as Record<string, string>,
  now: Date.now,
  uptimeSeconds: () => process.uptime(),
  version: "probe",
})
  .then((response) => {
    process.stdout.write(JSON.stringify(response));
    process.exit(0);
  })
  .catch((error: unknown) => {
    process.stderr.write(String(error));
    process.exit(1);
  });
