/**
 * HTTPS bindings: each export wires an `onRequest` function to a plain handler in `http/`.
 * Paths are mapped by the hosting rewrites in firebase.json (and by the local stack from the
 * same file).
 */
import axios from "axios";
import { getFirestore } from "firebase-admin/firestore";
import { onRequest } from "firebase-functions/https";

import { checkHealth } from "../http/health";
import { errorResponse, type JsonResponse, send } from "../http/respond";
import { integrationsCronSecret, readRawEnv, stripeSecretKey } from "../params";
import { AppError } from "../shared/errors";
import { createLogger } from "../shared/logger";
import { packageVersion } from "../shared/version";

type Method = "GET" | "POST";

/** Method check, error mapping and JSON output shared by every endpoint. */
function endpoint(name: string, method: Method, handle: () => Promise<JsonResponse>) {
  const logger = createLogger({ endpoint: name });
  return async (req: { method: string }, res: Parameters<typeof send>[0]): Promise<void> => {
    let response: JsonResponse;
    try {
      if (req.method !== method && !(method === "GET" && req.method === "HEAD")) {
        throw new AppError("method_not_allowed", `${name} accepts ${method} only`);
      }
      response = await handle();
    } catch (error) {
      response = errorResponse(error, logger);
    }
    if (response.status === 405) {
      res.set("Allow", method);
    }
    send(res, response);
  };
}

// Health binds the secrets only to report whether they are set; it never uses or returns them.
export const health = onRequest(
  { secrets: [integrationsCronSecret, stripeSecretKey], cors: false },
  endpoint("health", "GET", () =>
    checkHealth({
      db: getFirestore(),
      http: axios.create(),
      env: readRawEnv(),
      now: Date.now,
      uptimeSeconds: () => process.uptime(),
      version: packageVersion(),
    }),
  ),
);
