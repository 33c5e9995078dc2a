/**
 * TikTok API for Business v1.3 in the sandbox: `GET /advertiser/info/` and
 * `GET /report/integrated/get/` under `/open_api/v1.3/`, answering as TikTok does — HTTP 200 with
 * the envelope `{code, message, request_id, data}` for success and errors alike, the token in the
 * `Access-Token` header, array parameters as JSON strings, at most 30 days per daily report and
 * `page`/`page_size` (≤ 1000) paging with `page_info`. Metrics are strings, `"-"` where there is no
 * data. Return codes: https://business-api.tiktok.com/portal/docs?id=1737172488964097
 */
import { randomBytes } from "node:crypto";

import type { PlatformSandbox, SandboxReply, SandboxRequest } from "./platform";
import { daysBetween, decimalOf, type SandboxAccount, type SandboxWorld } from "./world";

const PREFIX = "/open_api/v1.3";
const REPORT_PATH = `${PREFIX}/report/integrated/get/`;
const ADVERTISER_INFO_PATH = `${PREFIX}/advertiser/info/`;

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

/** An array parameter, sent as a JSON string; `undefined` when absent. */
function jsonList(req: SandboxRequest, name: string): string[] | "invalid" | undefined {
  const raw = req.query.get(name);
  if (raw === null) {
    return undefined;
  }
  try {
    const value: unknown = JSON.parse(raw);
    return Array.isArray(value) && value.every((item) => typeof item === "string")
      ? value
      : "invalid";
  } catch {
    return "invalid";
  }
}

function requiredList(req: SandboxRequest, name: string): string[] | SandboxReply {
  const list = jsonList(req, name);
  if (list === undefined) {
    return parameterError(`${name}: Missing data for required field.`);
  }
  return list === "invalid" ? parameterError(`${name}: Not a valid list.`) : list;
}

/** Unknown advertisers, and advertisers the token was not authorized for. */
function advertiserAccess(
  world: SandboxWorld,
  advertiserId: string,
): SandboxAccount | SandboxReply {
  const account = world.account("tiktok", advertiserId);
  if (!account) {
    return envelope(40300, `Advertiser ${advertiserId} does not exist or has been deleted.`);
  }
  if (world.faults("tiktok").forbiddenAccounts?.includes(advertiserId)) {
    return envelope(40001, `No permission to operate advertiser ${advertiserId}.`);
  }
  return account;
}

const isReply = (value: object): value is SandboxReply => "status" in value && "body" in value;
const isAdvertiserId = (value: string): boolean => /^\d+$/.test(value);

function advertiserInfo(req: SandboxRequest, world: SandboxWorld): SandboxReply {
  const ids = requiredList(req, "advertiser_ids");
  if (!Array.isArray(ids)) {
    return ids;
  }
  if (ids.length === 0 || ids.length > MAX_ADVERTISER_IDS || !ids.every(isAdvertiserId)) {
    return parameterError(
      `advertiser_ids: Length must be between 1 and ${MAX_ADVERTISER_IDS}, each a numeric advertiser ID.`,
    );
  }
  const fields = jsonList(req, "fields") ?? [...ADVERTISER_FIELDS];
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
      currency: account.currency,
      timezone: account.timeZone,
      display_timezone: account.timeZone,
    };
    list.push(Object.fromEntries(fields.map((field) => [field, all[field] ?? ""])));
  }
  return envelope(0, "OK", { list });
}

/** Cents-precision micros as TikTok's two-decimal money string. */

function positiveInteger(req: SandboxRequest, name: string, fallback: number): number | undefined {
  const raw = req.query.get(name);
  if (raw === null) {
    return fallback;
  }
  return /^\d+$/.test(raw) && Number(raw) >= 1 ? Number(raw) : undefined;
}

const isDay = (value: string | null): value is string =>
  value !== null &&
  /^\d{4}-\d{2}-\d{2}$/.test(value) &&
  !Number.isNaN(Date.parse(`${value}T00:00:00Z`));

/** The report parameters in the order TikTok validates them; a reply when one is wrong. */
function reportQuery(req: SandboxRequest):
  | SandboxReply
  | {
      advertiserId: string;
      metrics: string[];
      days: string[];
      page: number;
      pageSize: number;
    } {
  const advertiserId = req.query.get("advertiser_id");
  if (!advertiserId) {
    return parameterError("advertiser_id: Missing data for required field.");
  }
  if (!isAdvertiserId(advertiserId)) {
    return parameterError("advertiser_id: Not a valid integer.");
  }
  if (req.query.get("report_type") !== "BASIC") {
    return parameterError("report_type: Must be one of: BASIC.");
  }
  // The sandbox serves the campaign level only.
  if (req.query.get("data_level") !== "AUCTION_CAMPAIGN") {
    return parameterError("data_level: Must be one of: AUCTION_CAMPAIGN.");
  }
  const dimensions = requiredList(req, "dimensions");
  if (!Array.isArray(dimensions)) {
    return dimensions;
  }
  if ([...dimensions].sort().join() !== "campaign_id,stat_time_day") {
    return parameterError(
      `dimensions: Invalid dimensions ${JSON.stringify(dimensions)}: use ["campaign_id","stat_time_day"].`,
    );
  }
  const metrics = requiredList(req, "metrics");
  if (!Array.isArray(metrics)) {
    return metrics;
  }
  const invalid = metrics.filter((name) => !KNOWN_METRICS.has(name));
  if (invalid.length > 0) {
    return parameterError(
      `Please correct the information in invalid metric fields and try again. Invalid metric fields: [${invalid.map((name) => `'${name}'`).join(", ")}]. `,
    );
  }
  const start = req.query.get("start_date");
  const end = req.query.get("end_date");
  if (!isDay(start) || !isDay(end)) {
    return parameterError("start_date and end_date are required in the format YYYY-MM-DD.");
  }
  if (end < start) {
    return parameterError("end_date must be later than or equal to start_date.");
  }
  const days = daysBetween(start, end);
  if (days.length > MAX_DAYS) {
    return parameterError(
      `The time span between start_date and end_date cannot exceed ${MAX_DAYS} days when stat_time_day is used as a dimension.`,
    );
  }
  const page = positiveInteger(req, "page", 1);
  if (page === undefined) {
    return parameterError("page: Must be greater than or equal to 1.");
  }
  const pageSize = positiveInteger(req, "page_size", DEFAULT_PAGE_SIZE);
  if (pageSize === undefined || pageSize > MAX_PAGE_SIZE) {
    return parameterError(
      `page_size: Must be greater than or equal to 1 and less than or equal to ${MAX_PAGE_SIZE}.`,
    );
  }
  return { advertiserId, metrics, days, page, pageSize };
}

function report(req: SandboxRequest, world: SandboxWorld): SandboxReply {
  const query = reportQuery(req);
  if (isReply(query)) {
    return query;
  }
  const account = advertiserAccess(world, query.advertiserId);
  if (isReply(account)) {
    return account;
  }
  const campaigns = world.campaigns(account);
  const range = { since: query.days[0] ?? "", until: query.days.at(-1) ?? "" };
  if (world.queryTooLarge("tiktok", account.id, range, query.days.length * campaigns.length)) {
    return envelope(
      QUERY_TOO_LARGE_CODE,
      "The report covers too much data. Please narrow the date range and try again.",
    );
  }
  // A day that has not started for the advertiser has no data yet.
  const rows = query.days
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
  const { page, pageSize } = query;
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

export const tiktokSandbox: PlatformSandbox = {
  provider: "tiktok",
  isReportingRequest: (req) => req.path === REPORT_PATH,
  handle(req, world) {
    const route =
      req.path === REPORT_PATH ? report : req.path === ADVERTISER_INFO_PATH ? advertiserInfo : null;
    if (!route) {
      // Wrong path, including a missing trailing slash.
      return { status: 404, headers: { "content-type": "text/plain" }, body: "404 page not found" };
    }
    if (req.method !== "GET") {
      return {
        status: 405,
        headers: { "content-type": "text/plain" },
        body: "405 method not allowed",
      };
    }
    return checkToken(req, world) ?? route(req, world);
  },
  // TikTok's rate-limit signal is HTTP 200 with code 40100 and carries no wait at all, so
  // `retryAfterSeconds` cannot be expressed in it.
  rateLimited: () =>
    envelope(
      40100,
      "Due to too many requests, requests from App 7000000000000000000 are temporarily restricted.",
    ),
  subjectOf(req) {
    // The report names one advertiser; advertiser info a list, of one in our requests.
    const infoIds = jsonList(req, "advertiser_ids");
    const accountId =
      req.query.get("advertiser_id") ??
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
