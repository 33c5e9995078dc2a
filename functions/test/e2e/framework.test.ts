/**
 * Error responses through the real Google Cloud Functions Framework, the runtime that serves a
 * deployed 2nd-gen function: `@google-cloud/functions-framework` runs the built module
 * (`lib/`) as Cloud Run does (`--target`, `--signature-type=http`, NODE_ENV=production, the
 * parameters and only the bound secrets in the environment), against the test emulators.
 *
 * What it shows about malformed JSON: the framework parses every body with body-parser before
 * it calls the function, and a body sent as `application/json` that does not parse (or, since
 * body-parser is strict, whose top level is not an object or array) is answered by Express's
 * final handler — 400, text/html, "Bad Request" — without the function ever running. No code
 * in the function can change that response. Every body the framework does hand over is answered
 * with our JSON error: the same bytes under another content type, ill-formed text, a body of
 * about 1 MB.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { dirname, join } from "node:path";

import { freePort } from "../../dev/emulators/suite";
import { CRON_SECRET, TEST_ENV } from "../harness/auth";
import { type TestFirestore, testFirestore } from "../harness/firestore";
import { coldStart, deployedEnv, type Endpoint, LIB_DIR, waitFor } from "./helpers";

jest.setTimeout(60_000);

/** The package's `functions-framework` bin, which the runtime starts (its exports hide it). */
const FRAMEWORK_MAIN = join(
  dirname(require.resolve("@google-cloud/functions-framework")),
  "main.js",
);
const TARGET = "integrationsSchedule";

let firestore: TestFirestore;
let server: ChildProcess;
let output = "";
let url: string;

beforeAll(async () => {
  firestore = testFirestore("functions-framework");
  const lib = coldStart();
  const endpoint = (lib.functions[TARGET] as unknown as { __endpoint: Endpoint }).__endpoint;
  await lib.close();
  const port = await freePort();
  url = `http://127.0.0.1:${port}/`;
  server = spawn(
    process.execPath,
    [FRAMEWORK_MAIN, `--target=${TARGET}`, "--signature-type=http", `--source=${LIB_DIR}`],
    {
      env: {
        PATH: process.env.PATH,
        ...deployedEnv(endpoint, TEST_ENV),
        NODE_ENV: "production",
        PORT: String(port),
        GCLOUD_PROJECT: firestore.projectId,
        FIREBASE_CONFIG: JSON.stringify({ projectId: firestore.projectId }),
        FIRESTORE_EMULATOR_HOST: process.env.FIRESTORE_EMULATOR_HOST,
        FIREBASE_AUTH_EMULATOR_HOST: process.env.FIREBASE_AUTH_EMULATOR_HOST,
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const collect = (chunk: Buffer) => {
    output += chunk.toString("utf8");
  };
  server.stdout?.on("data", collect);
  server.stderr?.on("data", collect);
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await fetch(`${url}favicon.ico`);
      break;
    } catch (error) {
      if (Date.now() > deadline || server.exitCode !== null) {
        throw new Error(`the Functions Framework did not start:\n${output}`, { cause: error });
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
});

afterAll(async () => {
  if (server.exitCode === null) {
    await new Promise((resolve) => {
      server.once("exit", resolve);
      server.kill("SIGTERM");
    });
  }
  await firestore.close();
});

async function post(body: string | Buffer, contentType: string) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": contentType, "x-cron-key": CRON_SECRET },
    body,
  });
  return {
    status: response.status,
    contentType: response.headers.get("content-type") ?? "",
    text: await response.text(),
  };
}

interface ErrorBody {
  error: { code: string; message: string; issues?: Array<{ field: string; message: string }> };
}

/** Our error shape, parsed from a response that must be JSON. */
function ourError(response: { contentType: string; text: string }): ErrorBody["error"] {
  expect(response.contentType).toMatch(/^application\/json/);
  return (JSON.parse(response.text) as ErrorBody).error;
}

describe("malformed JSON sent as application/json", () => {
  it.each([
    ["truncated", '{"userId": "secret-looking-value'],
    ["not JSON", "userId=member"],
    ["a top-level number (body-parser is strict)", "42"],
  ])("%s is answered by the framework, not the function", async (_label, body) => {
    const logged = output.length;
    const response = await post(body, "application/json");
    expect(response.status).toBe(400);
    expect(response.contentType).toMatch(/^text\/html/);
    expect(response.text).toContain("<pre>Bad Request</pre>");
    // Nothing of the input comes back (in production mode, not even the parser's message).
    expect(response.text).not.toContain(body);
    // The function answers only JSON (`send` in respond.ts): this is Express's final handler,
    // which logs the parse error, raw body included, on stderr (after it has answered).
    await waitFor(
      "the framework's log of the parse error",
      () => Promise.resolve(output.includes("entity.parse.failed", logged) || undefined),
      { timeoutMs: 5_000, intervalMs: 20, describe: () => output },
    );
  });
});

describe("every body the framework hands over gets our JSON error", () => {
  it("the same malformed bytes as text/plain", async () => {
    const response = await post('{"userId": ', "text/plain");
    expect(response.status).toBe(400);
    expect(ourError(response).issues).toEqual([
      { field: "body", message: "must be a JSON object" },
    ]);
  });

  it("a JSON array", async () => {
    const response = await post('[{"userId": "member"}]', "application/json");
    expect(response.status).toBe(400);
    expect(ourError(response).code).toBe("invalid_argument");
  });

  it("a lone surrogate written as a JSON escape", async () => {
    const response = await post('{"userId": "\\ud800"}', "application/json");
    expect(response.status).toBe(400);
    expect(ourError(response).issues).toEqual([
      { field: "userId", message: "must be well-formed Unicode text" },
    ]);
  });

  it.each([
    [
      "application/json",
      () => `{${Array.from({ length: 90_000 }, (_, i) => `"f${i}":1`).join(",")}}`,
    ],
    ["application/octet-stream", () => Buffer.alloc(900_000, "{")],
  ])("a body of about 1 MB as %s earns a few kilobytes", async (contentType, makeBody) => {
    const response = await post(makeBody(), contentType);
    expect(response.status).toBe(400);
    expect(ourError(response).code).toBe("invalid_argument");
    expect(Buffer.byteLength(response.text)).toBeLessThanOrEqual(8_000);
  });
});
