/**
 * Cloud Tasks for the end-to-end tests that load the built functions in this process: the Cloud
 * Tasks emulator of firebase-tools itself (its queue model: concurrency and rate limits, retries
 * with backoff, task names used once), with one queue per task function, created from the
 * function's own manifest (`__endpoint.taskQueueTrigger`) as the Functions emulator creates it,
 * and dispatching over HTTP to a server that hands each request to the function object as the
 * Functions Framework does — with the OIDC bearer token Cloud Tasks sends (Cloud Run verifies
 * it; the SDK only decodes it).
 *
 * The emulator runs a task as soon as a slot is free: it ignores schedule times.
 */
import type { AddressInfo } from "node:net";

import express from "express";
import { TasksEmulator } from "firebase-tools/lib/emulator/tasksEmulator";

import { freePort } from "../../dev/emulators/suite";
import { REGION } from "../../src/params";

type TaskHandler = (req: express.Request, res: express.Response) => void | Promise<void>;

export interface TaskFunction {
  (req: express.Request, res: express.Response): unknown;
  __endpoint?: { taskQueueTrigger?: Record<string, unknown> };
}

export interface Dispatch {
  functionName: string;
  jobId: string;
  taskName: string;
  status: number;
}

export interface RunningTasks {
  /** For CLOUD_TASKS_EMULATOR_HOST. */
  host: string;
  /** Every request the queues dispatched, in the order they were answered. */
  dispatches: Dispatch[];
  close(): Promise<void>;
}

/** An unsigned ID token of the service account Cloud Tasks calls as (the SDK decodes it). */
const OIDC_TOKEN = [
  { alg: "RS256", typ: "JWT" },
  { sub: "cloud-tasks", email: "cloud-tasks@demo.iam.gserviceaccount.com" },
]
  .map((part) => Buffer.from(JSON.stringify(part)).toString("base64url"))
  .concat("signature")
  .join(".");

export async function startCloudTasks(
  projectId: string,
  functions: Record<string, TaskFunction>,
): Promise<RunningTasks> {
  const dispatches: Dispatch[] = [];
  const app = express();
  app.use(express.json());
  app.post("/:functionName", (req, res) => {
    const functionName = String(req.params.functionName);
    const handler = functions[functionName] as TaskHandler | undefined;
    res.on("finish", () => {
      const body = req.body as { data?: { jobId?: unknown } };
      dispatches.push({
        functionName,
        jobId: String(body.data?.jobId),
        taskName: String(req.header("X-CloudTasks-TaskName")),
        status: res.statusCode,
      });
    });
    if (!handler) {
      res.status(404).end();
      return;
    }
    req.headers.authorization = `Bearer ${OIDC_TOKEN}`;
    void handler(req, res);
  });
  const server = await new Promise<ReturnType<typeof app.listen>>((resolve) => {
    const listening = app.listen(0, "127.0.0.1", () => resolve(listening));
  });
  const { port: serverPort } = server.address() as AddressInfo;

  const port = await freePort();
  const emulator = new TasksEmulator({ host: "127.0.0.1", port, projectId });
  await emulator.start();
  const host = `127.0.0.1:${port}`;
  for (const [functionName, fn] of Object.entries(functions)) {
    const trigger = fn.__endpoint?.taskQueueTrigger;
    if (!trigger) {
      throw new Error(`${functionName} is not a task-queue function`);
    }
    const response = await fetch(
      `http://${host}/projects/${projectId}/locations/${REGION}/queues/${functionName}`,
      {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          ...trigger,
          defaultUri: `http://127.0.0.1:${serverPort}/${functionName}`,
        }),
      },
    );
    if (!response.ok) {
      throw new Error(
        `creating queue ${functionName}: ${response.status} ${await response.text()}`,
      );
    }
  }
  return {
    host,
    dispatches,
    close: async () => {
      await emulator.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
