/**
 * Error bodies are bounded whatever the request: a body of about 1 MB — many unknown fields,
 * one huge key, bytes of another content type, ill-formed text everywhere, deep nesting — is
 * answered with a few kilobytes at most, at most 20 issues, and a message that says how many
 * there were. Nothing is written.
 */
import type { Handler } from "../../../src/http/context";
import { handleCron } from "../../../src/http/cron";
import { handleProcess } from "../../../src/http/process";
import { handleSchedule } from "../../../src/http/schedule";
import { handleWorker } from "../../../src/http/worker";
import type { FieldIssue } from "../../../src/shared/errors";
import {
  cronHeaders,
  endpointDeps,
  request,
  startTestAuth,
  type TestAuth,
  writtenState,
} from "../../harness/auth";
import { type TestFirestore, testFirestore } from "../../harness/firestore";

const NOW = new Date("2026-11-28T10:00:00Z");
const BODY_BYTES = 900_000;
/** What respond.ts allows: 300 + 20 × (100 + 200) characters of text, plus the JSON around it. */
const MAX_ERROR_BYTES = 8_000;

let firestore: TestFirestore;
let testAuth: TestAuth;

beforeAll(async () => {
  firestore = testFirestore("http-errors-size");
  testAuth = await startTestAuth(firestore);
});
afterAll(async () => {
  await testAuth.close();
  await firestore.close();
});

interface ErrorBody {
  error: { code: string; message: string; issues?: FieldIssue[] };
}

/** The body parsed from its JSON text, as the runtime's body parser delivers it. */
const parsed = (json: string): unknown => JSON.parse(json) as unknown;

const manyUnknownFields = (): Record<string, number> => {
  const body: Record<string, number> = {};
  // Each entry `"f<i>":1,` adds its key's length plus 5 characters of JSON.
  for (let i = 0, size = 2; size < BODY_BYTES; i++) {
    body[`f${i}`] = 1;
    size += `f${i}`.length + 5;
  }
  return body;
};

const deeplyNested = (depth: number): string =>
  `{"userId": "u", "x": ${"[".repeat(depth)}"\\ud800"${"]".repeat(depth)}}`;

const bodies: Array<[string, Handler, () => unknown]> = [
  ["many unknown fields (worker)", handleWorker, manyUnknownFields],
  [
    "many unknown fields (cron)",
    handleCron,
    () => ({ operation: "reset_stale_jobs", ...manyUnknownFields() }),
  ],
  ["one huge unknown key", handleProcess, () => ({ userId: "u", ["k".repeat(BODY_BYTES)]: 1 })],
  ["a huge userId", handleSchedule, () => ({ userId: "u".repeat(BODY_BYTES) })],
  [
    "a huge cursor",
    handleCron,
    () => ({ operation: "process_all_users", cursor: "c".repeat(BODY_BYTES) }),
  ],
  ["a Buffer (another content type)", handleWorker, () => Buffer.alloc(BODY_BYTES, "{")],
  ["a huge text body", handleWorker, () => "{".repeat(BODY_BYTES)],
  [
    "ill-formed text in every value",
    handleSchedule,
    () => ({ userId: "u", list: Array.from({ length: BODY_BYTES / 10 }, () => "\ud800") }),
  ],
  ["ill-formed huge keys", handleSchedule, () => ({ [`${"k".repeat(BODY_BYTES)}\ud800`]: 1 })],
  ["deep nesting", handleProcess, () => parsed(deeplyNested(BODY_BYTES / 2 - 20))],
];

describe("a body of about 1 MB", () => {
  it.each(bodies)("%s earns a bounded 400", async (_label, handler, makeBody) => {
    const before = await writtenState(firestore.db);
    const response = await handler(
      request("POST", { headers: cronHeaders(), body: makeBody() }),
      endpointDeps({ db: firestore.db, auth: testAuth.auth, now: NOW }),
    );
    expect(await writtenState(firestore.db)).toEqual(before);
    expect(response.status).toBe(400);
    const body = response.body as ErrorBody;
    expect(body.error.code).toBe("invalid_argument");
    expect(Buffer.byteLength(JSON.stringify(body))).toBeLessThanOrEqual(MAX_ERROR_BYTES);
    expect(body.error.issues?.length).toBeLessThanOrEqual(20);
    expect(body.error.message.length).toBeLessThanOrEqual(300);
    for (const issue of body.error.issues ?? []) {
      expect(issue.field.length).toBeLessThanOrEqual(100);
      expect(issue.message.length).toBeLessThanOrEqual(200);
      expect(issue.field).not.toMatch(/\p{Surrogate}/u);
    }
  });

  it("says how many issues there were when it lists only some", async () => {
    const body = manyUnknownFields();
    const response = await handleWorker(
      request("POST", { headers: cronHeaders(), body }),
      endpointDeps({ db: firestore.db, auth: testAuth.auth, now: NOW }),
    );
    const error = (response.body as ErrorBody).error;
    expect(error.issues).toHaveLength(20);
    expect(error.issues?.[0]).toEqual({ field: "f0", message: "is not a known field" });
    expect(error.message).toBe(
      `Invalid request body (first 20 of ${Object.keys(body).length} issues)`,
    );
  });

  it("cuts a long field name to an excerpt ending in …", async () => {
    const response = await handleProcess(
      request("POST", { headers: cronHeaders(), body: { userId: "u", ["k".repeat(5_000)]: 1 } }),
      endpointDeps({ db: firestore.db, auth: testAuth.auth, now: NOW }),
    );
    const issues = (response.body as ErrorBody).error.issues;
    expect(issues).toEqual([{ field: `${"k".repeat(99)}…`, message: "is not a known field" }]);
  });
});
