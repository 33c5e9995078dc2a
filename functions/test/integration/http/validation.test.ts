/**
 * Rejected requests: every endpoint answers 400 with field-level issues (or 405 for a wrong
 * method) and writes nothing — no job, no scheduler event, no settings change.
 */
import { handleAutomation } from "../../../src/http/automation";
import type { Handler } from "../../../src/http/context";
import { handleCron } from "../../../src/http/cron";
import { handleProcess } from "../../../src/http/process";
import { handleSchedule } from "../../../src/http/schedule";
import { handleStatus } from "../../../src/http/status";
import { handleWorker } from "../../../src/http/worker";
import { DEFAULT_AUTOMATION } from "../../../src/integrations/model";
import { bearer, cronHeaders, memberApi } from "../../harness/auth";

const NOW = new Date("2026-11-28T10:00:00Z");

const api = memberApi("http-validation", NOW);

type Credentials = "cron" | "user";

const headersFor = (credentials: Credentials) =>
  credentials === "cron" ? cronHeaders() : bearer(api.userToken);

const endpoints: Record<string, { handler: Handler; method: string; credentials: Credentials }> = {
  cron: { handler: handleCron, method: "POST", credentials: "cron" },
  worker: { handler: handleWorker, method: "POST", credentials: "cron" },
  process: { handler: handleProcess, method: "POST", credentials: "cron" },
  schedule: { handler: handleSchedule, method: "POST", credentials: "cron" },
  status: { handler: handleStatus, method: "GET", credentials: "user" },
  automation: { handler: handleAutomation, method: "PATCH", credentials: "user" },
};

async function callRejected(
  name: string,
  input: { method?: string; body?: unknown; query?: unknown; anonymous?: boolean },
) {
  const endpoint = endpoints[name]!;
  const automationBefore = await memberAutomation();
  const response = await api.refused(endpoint.handler, input.method ?? endpoint.method, {
    headers: input.anonymous ? {} : headersFor(endpoint.credentials),
    body: input.body,
    query: input.query,
  });
  expect(await memberAutomation()).toEqual(automationBefore);
  return response;
}

async function memberAutomation(): Promise<unknown> {
  const snapshot = await api.firestore.db.doc("users/member/integrations/google").get();
  return snapshot.get("automation");
}

describe("bodies that are not JSON objects", () => {
  const postEndpoints = ["cron", "worker", "process", "schedule", "automation"];
  it.each(
    postEndpoints.flatMap((name) =>
      [undefined, "", "text", 42, null, [], [{ operation: "reset_stale_jobs" }]].map(
        (body) => [name, JSON.stringify(body) ?? "absent", body] as const,
      ),
    ),
  )("%s answers 400 to a %s body", async (name, _label, body) => {
    const { status, body: response } = await callRejected(name, { body });
    expect(status).toBe(400);
    expect(response.error.code).toBe("invalid_argument");
    expect(response.error.issues).toEqual([{ field: "body", message: "must be a JSON object" }]);
  });
});

const invalid: Array<[string, unknown, string[]]> = [
  // cron
  ["cron", {}, ["operation"]],
  ["cron", { operation: "explode" }, ["operation"]],
  ["cron", { operation: "process_all_users", maxUsers: 501 }, ["maxUsers"]],
  ["cron", { operation: "process_all_users", maxUsers: 0 }, ["maxUsers"]],
  ["cron", { operation: "process_all_users", maxUsers: 1.5 }, ["maxUsers"]],
  ["cron", { operation: "process_all_users", maxUsers: "50" }, ["maxUsers"]],
  ["cron", { operation: "process_all_users", timeframeDays: 91 }, ["timeframeDays"]],
  ["cron", { operation: "process_all_users", timeframeDays: -1 }, ["timeframeDays"]],
  ["cron", { operation: "process_all_users", jobType: "full-sync" }, ["jobType"]],
  ["cron", { operation: "process_all_users", cursor: "admin/security" }, ["cursor"]],
  ["cron", { operation: "process_all_users", maxuser: 5 }, ["maxuser"]],
  ["cron", { operation: "cleanup_old_jobs", maxUsers: 5 }, ["maxUsers"]],
  ["cron", { operation: "reset_stale_jobs", limit: 10_000 }, ["limit"]],
  // worker
  ["worker", { maxJobs: 0 }, ["maxJobs"]],
  ["worker", { maxJobs: 101 }, ["maxJobs"]],
  ["worker", { maxJobs: "10" }, ["maxJobs"]],
  ["worker", { maxUsers: 10_000 }, ["maxUsers"]],
  ["worker", { maxJob: 10 }, ["maxJob"]],
  ["worker", { maxJobs: 1e9, maxUsers: -3, extra: true }, ["maxJobs", "maxUsers", "extra"]],
  // process
  ["process", {}, ["userId"]],
  ["process", { userId: "" }, ["userId"]],
  ["process", { userId: 123 }, ["userId"]],
  ["process", { userId: "a/b" }, ["userId"]],
  ["process", { userId: "__reserved__" }, ["userId"]],
  ["process", { userId: "..", maxJobs: 1 }, ["userId"]],
  ["process", { userId: "u".repeat(129) }, ["userId"]],
  ["process", { userId: "u", maxJobs: 500 }, ["maxJobs"]],
  ["process", { userId: "u", providerId: "google" }, ["providerId"]],
  // schedule
  ["schedule", {}, ["userId"]],
  ["schedule", { allUsers: false }, ["userId"]],
  ["schedule", { userId: "member", allUsers: true }, ["userId"]],
  ["schedule", { allUsers: true, providerId: "google" }, ["providerId"]],
  ["schedule", { userId: "member", maxUsers: 5 }, ["maxUsers"]],
  ["schedule", { userId: "member", cursor: "users/a/integrations/google" }, ["cursor"]],
  ["schedule", { userId: "member", providerId: "myspace" }, ["providerId"]],
  ["schedule", { userId: "member", timeframeDays: 0 }, ["timeframeDays"]],
  ["schedule", { userId: "member", timeframeDays: 91 }, ["timeframeDays"]],
  [
    "schedule",
    { userId: "member", jobType: "initial-backfill", timeframeDays: 3651 },
    ["timeframeDays"],
  ],
  [
    "schedule",
    { allUsers: true, jobType: "initial-backfill", timeframeDays: 730 },
    ["timeframeDays"],
  ],
  ["schedule", { userId: "member", startDate: "2026-01-01" }, ["startDate"]],
  [
    "schedule",
    { userId: "member", jobType: "initial-backfill", startDate: "2026-13-01" },
    ["startDate"],
  ],
  [
    "schedule",
    { userId: "member", jobType: "initial-backfill", startDate: "2026-01-01", timeframeDays: 30 },
    ["startDate"],
  ],
  ["schedule", { userId: "member", jobType: "nightly" }, ["jobType"]],
  ["schedule", { allUsers: "yes" }, ["allUsers"]],
  ["schedule", { allUsers: true, maxUsers: 501 }, ["maxUsers"]],
  ["schedule", { userId: "member", priority: "high" }, ["priority"]],
  // automation
  ["automation", { providerId: "google" }, ["body"]],
  ["automation", { autoSync: true }, ["providerId"]],
  ["automation", { providerId: "google", cadenceHours: 5 }, ["cadenceHours"]],
  ["automation", { providerId: "google", cadenceHours: 0 }, ["cadenceHours"]],
  ["automation", { providerId: "google", lookbackDays: 91 }, ["lookbackDays"]],
  ["automation", { providerId: "google", lookbackDays: 2.5 }, ["lookbackDays"]],
  ["automation", { providerId: "google", autoSync: "false" }, ["autoSync"]],
  ["automation", { providerId: "google", autoSync: false, userId: "other" }, ["userId"]],
];

describe("field errors", () => {
  it.each(invalid)("%s %j → 400 naming %j", async (name, body, fields) => {
    const { status, body: response } = await callRejected(name, { body });
    expect(status).toBe(400);
    expect(response.error.code).toBe("invalid_argument");
    const issues = response.error.issues ?? [];
    expect(new Set(issues.map((issue) => issue.field))).toEqual(new Set(fields));
    for (const issue of issues) {
      expect(issue.message.length).toBeGreaterThan(0);
    }
  });
});

describe("status query", () => {
  it.each([
    [{ limit: "0" }, "limit"],
    [{ limit: "51" }, "limit"],
    [{ limit: "ten" }, "limit"],
    [{ limit: ["1", "2"] }, "limit"],
    [{ since: "yesterday" }, "since"],
  ])("answers 400 to %j naming %s", async (query, field) => {
    const { status, body } = await callRejected("status", { query });
    expect(status).toBe(400);
    expect(body.error.issues?.map((issue) => issue.field)).toEqual([field]);
  });
});

describe("wrong methods", () => {
  const wrong: Array<[string, string]> = [
    ["cron", "GET"],
    ["worker", "PUT"],
    ["process", "GET"],
    ["schedule", "DELETE"],
    ["status", "POST"],
    ["automation", "POST"],
  ];

  it.each(wrong)("%s answers 405 with Allow to %s", async (name, method) => {
    const { status, headers, body } = await callRejected(name, {
      method,
      body: { operation: "reset_stale_jobs" },
    });
    expect(status).toBe(405);
    expect(headers?.Allow).toBe(endpoints[name]!.method);
    expect(body.error.code).toBe("method_not_allowed");
  });

  it("checks the method before the credentials", async () => {
    const { status } = await callRejected("cron", { method: "GET", anonymous: true });
    expect(status).toBe(405);
  });
});

describe("the seeded state these tests compare against", () => {
  it("is the member's default automation", async () => {
    expect(await memberAutomation()).toEqual(DEFAULT_AUTOMATION);
  });
});
