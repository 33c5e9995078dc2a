/**
 * Ill-formed text and document ids Firestore refuses: a lone surrogate anywhere in a body or
 * query (value or key, at any depth), and ids such as `..` or `__x__` where they become document
 * ids, are answered 400 naming the field, with nothing written. Firestore itself refuses such a
 * string, which reached it (and answered 500) before.
 */
import type { Handler } from "../../../src/http/context";
import { handleCron } from "../../../src/http/cron";
import { handleProcess } from "../../../src/http/process";
import { handleSchedule } from "../../../src/http/schedule";
import { handleStatus } from "../../../src/http/status";
import { bearer, cronHeaders, type ErrorBody, memberApi } from "../../harness/auth";

const NOW = new Date("2026-11-28T10:00:00Z");
const LONE_HIGH = "\ud800";
const LONE_LOW = "\udc00";

const api = memberApi("http-errors-ill-formed", NOW);
const call = api.refused;

const post = (handler: Handler, body: unknown) =>
  call(handler, "POST", { headers: cronHeaders(), body });

const HANDLERS = { schedule: handleSchedule, process: handleProcess, cron: handleCron };

const fieldsOf = (body: ErrorBody) => body.error.issues?.map((issue) => issue.field);

describe("a lone surrogate", () => {
  it.each([
    ["schedule", { userId: LONE_HIGH }, "userId"],
    ["schedule", { userId: `member${LONE_LOW}` }, "userId"],
    ["schedule", { userId: `a${LONE_HIGH}b`, providerId: "google" }, "userId"],
    ["process", { userId: LONE_HIGH }, "userId"],
    ["process", { userId: `${LONE_LOW}${LONE_HIGH}` }, "userId"],
    [
      "cron",
      { operation: "process_all_users", cursor: `users/u${LONE_HIGH}/integrations/google` },
      "cursor",
    ],
  ] as const)("in %s %j → 400 naming %s", async (name, body, field) => {
    const { status, body: response } = await post(HANDLERS[name], body);
    expect(status).toBe(400);
    expect(response.error.code).toBe("invalid_argument");
    expect(fieldsOf(response)).toEqual([field]);
    expect(response.error.issues?.[0]?.message).toBe("must be well-formed Unicode text");
  });

  it("is found at any depth and in keys, and named in well-formed text", async () => {
    const { status, body } = await post(handleSchedule, {
      userId: "member",
      [`x${LONE_HIGH}`]: 1,
      nested: { list: ["ok", `bad${LONE_LOW}`] },
    });
    expect(status).toBe(400);
    expect(body.error.issues).toEqual([
      { field: "x\ufffd", message: "is not a well-formed field name" },
      { field: "nested.list.1", message: "must be well-formed Unicode text" },
    ]);
  });

  it("is refused in a query too", async () => {
    const { status, body } = await call(handleStatus, "GET", {
      headers: bearer(api.userToken),
      query: { limit: `1${LONE_HIGH}` },
    });
    expect(status).toBe(400);
    expect(fieldsOf(body)).toEqual(["limit"]);
  });

  it("does not stop a well-formed surrogate pair", async () => {
    const { status, body } = await post(handleSchedule, { userId: "membre-\ud83d\ude00" });
    // A valid id with no integrations: the request got past validation to the lookup.
    expect(status).toBe(404);
    expect(body.error.code).toBe("not_found");
  });
});

describe("ids Firestore refuses as document ids", () => {
  it.each([
    ["users/../integrations/google", "users/../integrations/google"],
    ["users/./integrations/google", "users/./integrations/google"],
    ["users/__u__/integrations/google", "users/__u__/integrations/google"],
    ["users/u/integrations/__google__", "users/u/integrations/__google__"],
    ["a user id of 1,502 UTF-8 bytes", `users/${"é".repeat(751)}/integrations/google`],
  ])("cursor %s → 400 naming cursor", async (_label, cursor) => {
    const { status, body } = await post(handleCron, { operation: "process_all_users", cursor });
    expect(status).toBe(400);
    expect(fieldsOf(body)).toEqual(["cursor"]);
  });

  it.each(["..", ".", "__x__", "a/b"])("userId %j → 400 naming userId", async (userId) => {
    const { status, body } = await post(handleSchedule, { userId });
    expect(status).toBe(400);
    expect(fieldsOf(body)).toEqual(["userId"]);
  });
});
