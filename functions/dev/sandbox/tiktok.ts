/**
 * TikTok API for Business v1.3 in the sandbox: the advertisers that authorized our app
 * (`GET /oauth2/advertiser/get/`), `GET /advertiser/info/`, the synchronous report
 * `GET /report/integrated/get/` and the asynchronous report tasks (`POST /report/task/create/`,
 * `GET /report/task/check/`, `GET /report/task/download/`, `POST /report/task/cancel/`) under
 * `/open_api/v1.3/`, answering as TikTok does — HTTP 200 with the envelope
 * `{code, message, request_id, data}` for success and errors alike, the token in the
 * `Access-Token` header, a GET's array parameters as JSON strings and a POST's in a JSON body, at
 * most 30 days per synchronous daily report and `page`/`page_size` (≤ 1000) paging with
 * `page_info`. Metrics are strings, `"-"` where there is no data. Return codes:
 * https://business-api.tiktok.com/portal/docs?id=1737172488964097
 *
 * Report data is kept forever: "Report data is retained forever, and there is no query lookback
 * range restriction" (Reporting FAQs, https://business-api.tiktok.com/portal/docs?id=1738864850353154),
 * so no start date is refused as too old.
 */
import { randomBytes } from "node:crypto";

import type { PlatformSandbox, SandboxReply, SandboxRequest } from "./platform";
import { daysBetween, decimalOf, type SandboxAccount, type SandboxWorld } from "./world";

const PREFIX = "/open_api/v1.3";
const REPORT_PATH = `${PREFIX}/report/integrated/get/`;
const ADVERTISER_INFO_PATH = `${PREFIX}/advertiser/info/`;
const AUTHORIZED_ADVERTISERS_PATH = `${PREFIX}/oauth2/advertiser/get/`;
const TASK_CREATE_PATH = `${PREFIX}/report/task/create/`;
const TASK_CHECK_PATH = `${PREFIX}/report/task/check/`;
const TASK_DOWNLOAD_PATH = `${PREFIX}/report/task/download/`;
const TASK_CANCEL_PATH = `${PREFIX}/report/task/cancel/`;

/** What this sandbox can compute; TikTok rejects any metric it does not know with 40002. */
const KNOWN_METRICS = new Set([
  "campaign_name",
  "impressions",
  "clicks",
  "spend",
  "conversion",
  "total_complete_payment_rate",
]);
const ADVERTISER_FIELDS = new Set([
  "advertiser_id",
  "name",
  "status",
  "currency",
  "timezone",
  "display_timezone",
]);
const MAX_DAYS = 30;
const MAX_PAGE_SIZE = 1000;
const DEFAULT_PAGE_SIZE = 10;
const MAX_ADVERTISER_IDS = 100;
/**
 * A report over too much data, as issue 11 reports TikTok answering it (the code is not in the
 * return-code list we hold, so the wording of its message is ours).
 */
const QUERY_TOO_LARGE_CODE = 40067;

/**
 * Our developer app as the sandbox knows it: `/oauth2/advertiser/get/` takes its `app_id` and
 * `secret` besides the user's token.
 */
export const TIKTOK_SANDBOX_APP = {
  appId: "7000000000000000100",
  secret: "sandbox-tiktok-app-secret",
} as const;

/** TikTok request ids: a UTC timestamp followed by hex, e.g. `202203232218030102452410100E00D348`. */
function requestId(): string {
  const stamp = new Date().toISOString().replace(/\D/g, "").slice(0, 14);
  return `${stamp}${randomBytes(10).toString("hex").toUpperCase()}`;
}

function envelope(code: number, message: string, data: unknown = {}): SandboxReply {
  return { status: 200, body: { code, message, request_id: requestId(), data } };
}

const parameterError = (message: string): SandboxReply => envelope(40002, message);

/** The token checks TikTok runs before anything else. */
function checkToken(req: SandboxRequest, world: SandboxWorld): SandboxReply | undefined {
  const header = req.headers["access-token"];
  const token = Array.isArray(header) ? header[0] : header;
  if (!token) {
    return envelope(
      40104,
      "Access token is null, you should set it in http header with key Access-Token.",
    );
  }
  switch (world.checkAccessToken("tiktok", token)) {
    case "valid":
      return undefined;
    case "expired":
      return envelope(40102, "Access token has expired.");
    case "revoked":
    case "unknown":
      return envelope(40105, "Access token is incorrect or has been revoked.");
  }
}

/** An array parameter sent as a JSON string; `undefined` when absent. */
function jsonList(raw: string | null): string[] | "invalid" | undefined {
  if (raw === null) {
    return undefined;
  }
  try {
    return stringList(JSON.parse(raw));
  } catch {
    return "invalid";
  }
}

const stringList = (value: unknown): string[] | "invalid" =>
  Array.isArray(value) && value.every((item) => typeof item === "string") ? value : "invalid";

/**
 * A request's parameters, wherever TikTok takes them: a GET's query string (arrays as JSON
 * strings), or a POST's JSON body (arrays as arrays: the report task endpoints).
 */
interface Params {
  /** A scalar, as text (a JSON body's number or boolean as JSON); `null` when absent. */
  text(name: string): string | null;
  list(name: string): string[] | "invalid" | undefined;
}

const queryParams = (req: SandboxRequest): Params => ({
  text: (name) => req.query.get(name),
  list: (name) => jsonList(req.query.get(name)),
});

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

function bodyParams(body: Record<string, unknown>): Params {
  return {
    text: (name) => {
      const value = body[name];
      if (value === undefined || value === null) {
        return null;
      }
      // A number where TikTok expects a string id fails its checks as it would at TikTok (v1.3
      // takes `advertiser_id` as a string: a 19-digit number loses its last digits in JSON).
      return typeof value === "string" ? value : JSON.stringify(value);
    },
    list: (name) => (body[name] === undefined ? undefined : stringList(body[name])),
  };
}

function requiredList(params: Params, name: string): string[] | SandboxReply {
  const list = params.list(name);
  if (list === undefined) {
    return parameterError(`${name}: Missing data for required field.`);
  }
  return list === "invalid" ? parameterError(`${name}: Not a valid list.`) : list;
}

/**
 * Unknown advertisers, and advertisers the token was not authorized for: one the user's login
 * does not reach yet (hidden) or one the `forbiddenAccounts` knob names.
 */
function advertiserAccess(
  world: SandboxWorld,
  advertiserId: string,
): SandboxAccount | SandboxReply {
  const account = world.account("tiktok", advertiserId);
  if (!account) {
    return envelope(40300, `Advertiser ${advertiserId} does not exist or has been deleted.`);
  }
  if (account.hidden || world.faults("tiktok").forbiddenAccounts?.includes(advertiserId)) {
    return envelope(40001, `No permission to operate advertiser ${advertiserId}.`);
  }
  return account;
}

const isReply = (value: object): value is SandboxReply => "status" in value && "body" in value;
const isAdvertiserId = (value: string): boolean => /^\d+$/.test(value);

/**
 * An advertiser's status as `/advertiser/info/` names it (Enumeration, "Advertiser status",
 * https://business-api.tiktok.com/portal/docs?id=1737174886619138): a disabled account is
 * `STATUS_DISABLE`, every other one approved, `STATUS_ENABLE`.
 */
const statusOf = (account: SandboxAccount): string =>
  account.disabled ? "STATUS_DISABLE" : "STATUS_ENABLE";

/**
 * `GET /advertiser/info/` (https://business-api.tiktok.com/portal/docs?id=1739593083610113):
 * up to 100 advertisers a request, each with the `fields` asked (all of them by default). More
 * ids get 40011, the return code for "Too many IDs are provided in a single request"
 * (https://business-api.tiktok.com/portal/docs?id=1737172488964097).
 */
function advertiserInfo(req: SandboxRequest, world: SandboxWorld): SandboxReply {
  const params = queryParams(req);
  const ids = requiredList(params, "advertiser_ids");
  if (!Array.isArray(ids)) {
    return ids;
  }
  if (ids.length > MAX_ADVERTISER_IDS) {
    return envelope(
      40011,
      `Too many IDs in advertiser_ids: at most ${MAX_ADVERTISER_IDS} a request, ${ids.length} given.`,
    );
  }
  if (ids.length === 0 || !ids.every(isAdvertiserId)) {
    return parameterError(
      "advertiser_ids: Length must be at least 1, each a numeric advertiser ID.",
    );
  }
  const fields = params.list("fields") ?? [...ADVERTISER_FIELDS];
  if (fields === "invalid") {
    return parameterError("fields: Not a valid list.");
  }
  const unknownFields = fields.filter((field) => !ADVERTISER_FIELDS.has(field));
  if (unknownFields.length > 0) {
    return parameterError(`fields: Invalid fields: ${JSON.stringify(unknownFields)}.`);
  }
  const list: Array<Record<string, string>> = [];
  for (const id of ids) {
    const account = advertiserAccess(world, id);
    if (isReply(account)) {
      return account;
    }
    const all: Record<string, string> = {
      advertiser_id: account.id,
      name: account.name,
      status: statusOf(account),
      currency: account.currency,
      timezone: account.timeZone,
      display_timezone: account.timeZone,
    };
    list.push(Object.fromEntries(fields.map((field) => [field, all[field] ?? ""])));
  }
  return envelope(0, "OK", { list });
}

/**
 * `GET /oauth2/advertiser/get/` (https://business-api.tiktok.com/portal/docs?id=1738455508553729):
 * "a list of advertiser accounts that authorized an app", for the app's `app_id` and `secret` (both
 * required) and the user's `Access-Token`, as `data.list[]` of `advertiser_id` and
 * `advertiser_name`, unpaged. The accounts are those the user's login reaches (not hidden:
 * one authorized later appears once revealed), disabled ones included. A wrong app answers as the
 * return codes name it: 40113 "The app has been blocked or does not exist", 40101 "Secret and app
 * ID do not match" (https://business-api.tiktok.com/portal/docs?id=1737172488964097).
 */
function authorizedAdvertisers(req: SandboxRequest, world: SandboxWorld): SandboxReply {
  for (const name of ["app_id", "secret"]) {
    if (!req.query.get(name)) {
      return parameterError(`${name}: Missing data for required field.`);
    }
  }
  if (req.query.get("app_id") !== TIKTOK_SANDBOX_APP.appId) {
    return envelope(
      40113,
      "The app_id is inconsistent with the token's app information. Please retry after correcting it.",
    );
  }
  if (req.query.get("secret") !== TIKTOK_SANDBOX_APP.secret) {
    return envelope(40101, "Invalid secret: the secret and app_id do not match.");
  }
  const list = world
    .reachable("tiktok")
    .filter((account) => !account.manager)
    .map((account) => ({ advertiser_id: account.id, advertiser_name: account.name }));
  return envelope(0, "OK", { list });
}

function positiveInteger(params: Params, name: string, fallback: number): number | undefined {
  const raw = params.text(name);
  if (raw === null) {
    return fallback;
  }
  return /^\d+$/.test(raw) && Number(raw) >= 1 ? Number(raw) : undefined;
}

const isDay = (value: string | null): value is string =>
  value !== null &&
  /^\d{4}-\d{2}-\d{2}$/.test(value) &&
  !Number.isNaN(Date.parse(`${value}T00:00:00Z`));

/** What a report, synchronous or asynchronous, asks for. */
interface ReportQuery {
  advertiserId: string;
  dimensions: string[];
  metrics: string[];
  days: string[];
}

/**
 * The report parameters in the order TikTok validates them; a reply when one is wrong. A
 * synchronous daily report covers at most 30 days; an asynchronous one has no limit ("There are
 * no limits on starting times and ending times for asynchronous reports":
 * https://business-api.tiktok.com/portal/docs?id=1740302766489602).
 */
function reportQuery(params: Params, maxDays: number): SandboxReply | ReportQuery {
  const advertiserId = params.text("advertiser_id");
  if (!advertiserId) {
    return parameterError("advertiser_id: Missing data for required field.");
  }
  if (!isAdvertiserId(advertiserId)) {
    return parameterError("advertiser_id: Not a valid integer.");
  }
  if (params.text("report_type") !== "BASIC") {
    return parameterError("report_type: Must be one of: BASIC.");
  }
  // The sandbox serves the campaign level only.
  if (params.text("data_level") !== "AUCTION_CAMPAIGN") {
    return parameterError("data_level: Must be one of: AUCTION_CAMPAIGN.");
  }
  const dimensions = requiredList(params, "dimensions");
  if (!Array.isArray(dimensions)) {
    return dimensions;
  }
  if ([...dimensions].sort().join() !== "campaign_id,stat_time_day") {
    return parameterError(
      `dimensions: Invalid dimensions ${JSON.stringify(dimensions)}: use ["campaign_id","stat_time_day"].`,
    );
  }
  const metrics = requiredList(params, "metrics");
  if (!Array.isArray(metrics)) {
    return metrics;
  }
  const invalid = metrics.filter((name) => !KNOWN_METRICS.has(name));
  if (invalid.length > 0) {
    return parameterError(
      `Please correct the information in invalid metric fields and try again. Invalid metric fields: [${invalid.map((name) => `'${name}'`).join(", ")}]. `,
    );
  }
  const start = params.text("start_date");
  const end = params.text("end_date");
  if (!isDay(start) || !isDay(end)) {
    return parameterError("start_date and end_date are required in the format YYYY-MM-DD.");
  }
  if (end < start) {
    return parameterError("end_date must be later than or equal to start_date.");
  }
  const days = daysBetween(start, end);
  if (days.length > maxDays) {
    return parameterError(
      `The time span between start_date and end_date cannot exceed ${maxDays} days when stat_time_day is used as a dimension.`,
    );
  }
  return { advertiserId, dimensions, metrics, days };
}

const rangeOf = (query: ReportQuery) => ({
  since: query.days[0] ?? "",
  until: query.days.at(-1) ?? "",
});

/** One campaign-day of a report, as the synchronous report lists it. */
interface ReportRow {
  dimensions: Record<string, string>;
  metrics: Record<string, string>;
}

/** Every campaign-day of the query that has started for the advertiser, with the metrics asked. */
function reportRows(world: SandboxWorld, account: SandboxAccount, query: ReportQuery): ReportRow[] {
  const campaigns = world.campaigns(account);
  // A day that has not started for the advertiser has no data yet.
  return query.days
    .filter((day) => day <= world.today(account))
    .flatMap((day) =>
      campaigns.map((campaign) => {
        const generated = world.metrics(account, campaign.id, day);
        const all: Record<string, string> = {
          campaign_name: campaign.name,
          impressions: String(generated.impressions),
          clicks: String(generated.clicks),
          spend: decimalOf(generated.spendMicros, 2),
          conversion: String(generated.conversions),
          // No Complete Payment events that day: TikTok reports the value as "-".
          total_complete_payment_rate:
            generated.conversions === 0 ? "-" : decimalOf(generated.conversionValueMicros, 2),
        };
        return {
          dimensions: { campaign_id: campaign.id, stat_time_day: `${day} 00:00:00` },
          metrics: Object.fromEntries(query.metrics.map((name) => [name, all[name] ?? "-"])),
        };
      }),
    );
}

function report(req: SandboxRequest, world: SandboxWorld): SandboxReply {
  const params = queryParams(req);
  const query = reportQuery(params, MAX_DAYS);
  if (isReply(query)) {
    return query;
  }
  const page = positiveInteger(params, "page", 1);
  if (page === undefined) {
    return parameterError("page: Must be greater than or equal to 1.");
  }
  const pageSize = positiveInteger(params, "page_size", DEFAULT_PAGE_SIZE);
  if (pageSize === undefined || pageSize > MAX_PAGE_SIZE) {
    return parameterError(
      `page_size: Must be greater than or equal to 1 and less than or equal to ${MAX_PAGE_SIZE}.`,
    );
  }
  const account = advertiserAccess(world, query.advertiserId);
  if (isReply(account)) {
    return account;
  }
  const cells = query.days.length * world.campaigns(account).length;
  if (world.queryTooLarge("tiktok", account.id, rangeOf(query), cells)) {
    return tooMuchData();
  }
  const rows = reportRows(world, account, query);
  return envelope(0, "OK", {
    list: rows.slice((page - 1) * pageSize, page * pageSize),
    page_info: {
      page,
      page_size: pageSize,
      total_number: rows.length,
      total_page: Math.ceil(rows.length / pageSize),
    },
  });
}

const tooMuchData = (): SandboxReply =>
  envelope(
    QUERY_TOO_LARGE_CODE,
    "The report covers too much data. Please narrow the date range and try again.",
  );

/**
 * A task's status, as `/report/task/check/` names it: `QUEUING`, `PROCESSING`, `SUCCESS`,
 * `FAILED`, `CANCELED` (https://business-api.tiktok.com/portal/docs?id=1740302781443073).
 */
type TaskStatus = "QUEUING" | "PROCESSING" | "SUCCESS" | "FAILED" | "CANCELED";

/** An asynchronous report task: its query and how it will end, fixed when it was created. */
interface ReportTask {
  advertiserId: string;
  query: ReportQuery;
  /** `enable_report_title_translation`: a title row of display names, not field names. */
  translatedTitles: boolean;
  status: TaskStatus;
  /** Status checks answered so far. */
  checks: number;
  /** Status checks answered "still running" before the task ends (`asyncReports` knob). */
  checksBeforeDone: number;
  outcome: "SUCCESS" | "FAILED" | "stuck";
}

/** Each world's tasks by id: a test's world starts with none. */
const tasksByWorld = new WeakMap<SandboxWorld, Map<string, ReportTask>>();
let lastTaskId = 7_300_000_000_000_000_000n;

function tasksOf(world: SandboxWorld): Map<string, ReportTask> {
  let tasks = tasksByWorld.get(world);
  if (!tasks) {
    tasks = new Map();
    tasksByWorld.set(world, tasks);
  }
  return tasks;
}

const OUTPUT_FORMATS = ["CSV_STRING", "CSV_DOWNLOAD", "XLSX_DOWNLOAD"];

/**
 * `POST /report/task/create/` (https://business-api.tiktok.com/portal/docs?id=1740302766489602):
 * the synchronous report's parameters in a JSON body, without the 30-day limit or paging
 * ("Paging is not supported"), plus `output_format` (default `CSV_STRING`) and
 * `enable_report_title_translation` (default `true`). Answers `data.task_id`. One QueryRecord per
 * task created, whatever the checks and downloads that follow.
 */
function createTask(req: SandboxRequest, world: SandboxWorld): SandboxReply {
  if (!isRecord(req.body)) {
    return parameterError("The request body must be a JSON object.");
  }
  const params = bodyParams(req.body);
  const query = reportQuery(params, Infinity);
  if (isReply(query)) {
    return query;
  }
  const outputFormat = params.text("output_format") ?? "CSV_STRING";
  if (!OUTPUT_FORMATS.includes(outputFormat)) {
    return parameterError(`output_format: Must be one of: ${OUTPUT_FORMATS.join(", ")}.`);
  }
  if (outputFormat !== "CSV_STRING") {
    // 40009 is TikTok's own "not supported in sandbox": this one renders the CSV stream only.
    return envelope(40009, `Unsupported output_format in sandbox environment: ${outputFormat}.`);
  }
  const translation = params.text("enable_report_title_translation") ?? "true";
  if (translation !== "true" && translation !== "false") {
    return parameterError("enable_report_title_translation: Not a valid boolean.");
  }
  const account = advertiserAccess(world, query.advertiserId);
  if (isReply(account)) {
    return account;
  }
  if (world.faults("tiktok").asyncReports?.notAllowed) {
    // Asynchronous reports are for allowlisted apps only (the create task page); the code is
    // TikTok's, the wording ours.
    return envelope(40118, "The app has no permission to create asynchronous report tasks.");
  }
  const cells = query.days.length * world.campaigns(account).length;
  // The maxRowsPerQuery knob refuses a task as it refuses a synchronous report; TikTok itself
  // publishes no size limit for tasks.
  if (world.queryTooLarge("tiktok", account.id, rangeOf(query), cells)) {
    return tooMuchData();
  }
  const knobs = world.faults("tiktok");
  const { checksBeforeDone = 1, failReports = 0, stuckAboveRows } = knobs.asyncReports ?? {};
  if (failReports > 0) {
    knobs.asyncReports = { ...knobs.asyncReports, failReports: failReports - 1 };
  }
  lastTaskId += 1n;
  const taskId = String(lastTaskId);
  tasksOf(world).set(taskId, {
    advertiserId: account.id,
    query,
    translatedTitles: translation === "true",
    status: "QUEUING",
    checks: 0,
    checksBeforeDone,
    outcome:
      failReports > 0
        ? "FAILED"
        : stuckAboveRows !== undefined && cells > stuckAboveRows
          ? "stuck"
          : "SUCCESS",
  });
  return envelope(0, "OK", { task_id: taskId });
}

/**
 * The task a check, download or cancel names (`advertiser_id` and `task_id`, both required), or
 * TikTok's answer when there is none. The wording for an unknown task is ours; 40007 is TikTok's
 * "The operation/object does not exist".
 */
function namedTask(params: Params, world: SandboxWorld): ReportTask | SandboxReply {
  const advertiserId = params.text("advertiser_id");
  if (!advertiserId) {
    return parameterError("advertiser_id: Missing data for required field.");
  }
  if (!isAdvertiserId(advertiserId)) {
    return parameterError("advertiser_id: Not a valid integer.");
  }
  const taskId = params.text("task_id");
  if (!taskId) {
    return parameterError("task_id: Missing data for required field.");
  }
  const account = advertiserAccess(world, advertiserId);
  if (isReply(account)) {
    return account;
  }
  const task = tasksOf(world).get(taskId);
  if (!task || task.advertiserId !== account.id) {
    return envelope(40007, `The task ${taskId} does not exist for advertiser ${advertiserId}.`);
  }
  return task;
}

const hasEnded = (status: TaskStatus): boolean =>
  status === "SUCCESS" || status === "FAILED" || status === "CANCELED";

/**
 * `GET /report/task/check/` (https://business-api.tiktok.com/portal/docs?id=1740302781443073):
 * `data.status`, and `data.message` (why, when `FAILED`). A task waits `QUEUING`, runs
 * `PROCESSING`, and ends once it has answered `checksBeforeDone` checks; a stuck one never does.
 */
function checkTask(req: SandboxRequest, world: SandboxWorld): SandboxReply {
  const task = namedTask(queryParams(req), world);
  if (isReply(task)) {
    return task;
  }
  if (!hasEnded(task.status)) {
    task.checks += 1;
    task.status =
      task.outcome !== "stuck" && task.checks > task.checksBeforeDone
        ? task.outcome
        : task.checks === 1
          ? "QUEUING"
          : "PROCESSING";
  }
  return envelope(0, "OK", {
    status: task.status,
    message: task.status === "FAILED" ? "Report generation failed, please retry." : "",
  });
}

/** Display names of the title row with translation on (the documented example's wording). */
const TRANSLATED_TITLES: Readonly<Record<string, string>> = {
  campaign_id: "Campaign ID",
  campaign_name: "Campaign Name",
  stat_time_day: "Date",
  spend: "Cost",
  impressions: "Impression",
  clicks: "Click",
  conversion: "Conversions",
  total_complete_payment_rate: "Total Complete Payment Value",
};

/** RFC 4180: a field with a comma, quote or line break is quoted, its quotes doubled. */
const csvField = (value: string): string =>
  /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;

/**
 * `GET /report/task/download/` (https://business-api.tiktok.com/portal/docs?id=1740302808815618):
 * for `CSV_STRING`, the output itself as a CSV file stream — a title row of the dimensions and
 * metrics asked for (field names with translation off, as TikTok recommends), then one row per
 * campaign-day; JSON (a `download_url`) only for `CSV_DOWNLOAD`/`XLSX_DOWNLOAD`. A task that has
 * not succeeded answers 40201 "Task is not ready" while it runs, 40200 "Task error" once it
 * failed or was canceled. Days are written as the synchronous report writes them.
 */
function downloadTask(req: SandboxRequest, world: SandboxWorld): SandboxReply {
  const task = namedTask(queryParams(req), world);
  if (isReply(task)) {
    return task;
  }
  if (task.status !== "SUCCESS") {
    return hasEnded(task.status)
      ? envelope(40200, `Task error: the task is ${task.status} and has no output.`)
      : envelope(40201, "Task is not ready.");
  }
  const account = world.account("tiktok", task.advertiserId);
  const rows = account ? reportRows(world, account, task.query) : [];
  const columns = [...task.query.dimensions, ...task.query.metrics];
  const title = columns.map((name) =>
    task.translatedTitles ? (TRANSLATED_TITLES[name] ?? name) : name,
  );
  const lines = rows.map((row) =>
    columns.map((name) => row.dimensions[name] ?? row.metrics[name] ?? "-"),
  );
  return {
    status: 200,
    headers: { "content-type": "text/csv; charset=utf-8" },
    body: [title, ...lines].map((line) => `${line.map(csvField).join(",")}\n`).join(""),
  };
}

/**
 * `POST /report/task/cancel/` (https://business-api.tiktok.com/portal/docs?id=1803615367145537):
 * a task that is `QUEUING` or `PROCESSING` becomes `CANCELED`; "If the task cancellation fails,
 * an error will occur" (here 40200, TikTok's "Task error").
 */
function cancelTask(req: SandboxRequest, world: SandboxWorld): SandboxReply {
  if (!isRecord(req.body)) {
    return parameterError("The request body must be a JSON object.");
  }
  const task = namedTask(bodyParams(req.body), world);
  if (isReply(task)) {
    return task;
  }
  if (hasEnded(task.status)) {
    return envelope(40200, `Task error: a task that is ${task.status} cannot be canceled.`);
  }
  task.status = "CANCELED";
  return envelope(0, "OK", { status: "CANCELED" });
}

type Route = (req: SandboxRequest, world: SandboxWorld) => SandboxReply;

const ROUTES: ReadonlyMap<string, { method: "GET" | "POST"; route: Route }> = new Map([
  [REPORT_PATH, { method: "GET", route: report }],
  [ADVERTISER_INFO_PATH, { method: "GET", route: advertiserInfo }],
  [AUTHORIZED_ADVERTISERS_PATH, { method: "GET", route: authorizedAdvertisers }],
  [TASK_CREATE_PATH, { method: "POST", route: createTask }],
  [TASK_CHECK_PATH, { method: "GET", route: checkTask }],
  [TASK_DOWNLOAD_PATH, { method: "GET", route: downloadTask }],
  [TASK_CANCEL_PATH, { method: "POST", route: cancelTask }],
]);

export const tiktokSandbox: PlatformSandbox = {
  provider: "tiktok",
  // Account lookups are not reports: the reporting faults spare them.
  isReportingRequest: (req) =>
    req.path !== ADVERTISER_INFO_PATH &&
    req.path !== AUTHORIZED_ADVERTISERS_PATH &&
    ROUTES.has(req.path),
  handle(req, world) {
    const entry = ROUTES.get(req.path);
    if (!entry) {
      // Wrong path, including a missing trailing slash.
      return { status: 404, headers: { "content-type": "text/plain" }, body: "404 page not found" };
    }
    if (req.method !== entry.method) {
      return {
        status: 405,
        headers: { "content-type": "text/plain" },
        body: "405 method not allowed",
      };
    }
    return checkToken(req, world) ?? entry.route(req, world);
  },
  // TikTok's rate-limit signal is HTTP 200 with code 40100 and carries no wait at all, so
  // `retryAfterSeconds` cannot be expressed in it.
  rateLimited: () =>
    envelope(
      40100,
      "Due to too many requests, requests from App 7000000000000000000 are temporarily restricted.",
    ),
  subjectOf(req) {
    // Reports and tasks name one advertiser (a POST in its body); advertiser info a list (a
    // subject when it is of one), the authorized advertisers' listing none.
    const params = isRecord(req.body) ? bodyParams(req.body) : queryParams(req);
    const infoIds = params.list("advertiser_ids");
    const accountId =
      params.text("advertiser_id") ??
      (Array.isArray(infoIds) && infoIds.length === 1 ? infoIds[0] : undefined);
    const header = req.headers["access-token"];
    const token = Array.isArray(header) ? header[0] : header;
    return {
      ...(accountId === undefined ? {} : { accountId }),
      ...(token === undefined ? {} : { accessToken: token }),
    };
  },
  throttled: (scope, _retryAfterSeconds, { accountId }) => {
    switch (scope) {
      case "app":
        return tiktokSandbox.rateLimited(0);
      case "account":
        // 40133 in the return-code table's words: the advertiser-level QPS limit of the endpoint.
        // Like 40100 it states no wait.
        return envelope(
          40133,
          `Advertiser (${accountId ?? ""})'s QPS (11) reaches QPS limit 10 for current path, request is temporarily restricted.`,
        );
      case "member":
        // TikTok counts its limits per developer app and per advertiser, not per token.
        return undefined;
    }
  },
  // A TikTok-side failure: HTTP 5xx with the system-error code in the envelope.
  serverError: () => ({ ...envelope(50000, "System error"), status: 500 }),
};
