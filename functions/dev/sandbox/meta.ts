/**
 * Meta Marketing API in the sandbox: the ad account node (`GET /{v}/act_{id}`), the insights
 * edge (`GET /{v}/act_{id}/insights`) and its asynchronous report runs (`POST` to the same edge,
 * `GET /{v}/{report_run_id}` and `GET /{v}/{report_run_id}/insights`), with Graph's request
 * checks and error envelope, opaque cursor paging, usage headers, the "reduce the amount of data"
 * refusal of queries that are too large, the 37-month history limit, and archived and deleted
 * campaigns left out unless `filtering` asks for them; for discovery, the user's ad accounts and
 * businesses and each business's owned and client ad accounts, and `debug_token` answered from the
 * world's tokens; all rendered as Meta documents them (provider-apis notes §2; Graph error handling:
 * https://developers.facebook.com/docs/graph-api/guides/error-handling; object status:
 * https://developers.facebook.com/docs/marketing-api/best-practices/storing_adobjects;
 * asynchronous jobs: https://developers.facebook.com/docs/marketing-api/insights/best-practices#asynchronous).
 */
import { createHmac, randomBytes } from "node:crypto";

import { z } from "zod";

import type { PlatformSandbox, SandboxReply, SandboxRequest } from "./platform";
import {
  CAMPAIGN_STATUSES,
  type CampaignStatus,
  decimalOf,
  type SandboxAccount,
  type SandboxCampaign,
  type SandboxWorld,
  type TokenRecord,
} from "./world";

/** The app the sandbox plays: its secret verifies `appsecret_proof`; both make its app token. */
export const META_SANDBOX_APP_ID = "1000000000000001";
export const META_SANDBOX_APP_SECRET = "meta-sandbox-app-secret";
const META_SANDBOX_APP_NAME = "Sandbox Reporting";
/** The scopes the sandbox's users granted: reading ads and listing their businesses. */
const GRANTED_SCOPES = ["ads_read", "business_management", "public_profile"];
/** The id `debug_token` gives the sandbox's (one) user. */
const SANDBOX_USER_ID = "10215241773831025";
/** The business whose use-case usage a throttled call reports (the key of its BUC header). */
const BUSINESS_ID = "2000000000000002";

/**
 * Campaign-days one synchronous insights query may cover; a larger one is refused with "Please
 * reduce the amount of data you're asking for". Meta's real threshold is undocumented and
 * load-dependent; a fixed one makes the adapter's range splitting testable. The
 * `maxRowsPerQuery` knob replaces it.
 */
export const META_MAX_CAMPAIGN_DAYS = 100;

/**
 * The effective statuses `filtering` may ask for, per field (the Marketing API's
 * `Campaign.EffectiveStatus` and `Ad.EffectiveStatus`). A campaign's ads inherit its archived or
 * deleted status, so both fields select the sandbox's campaigns the same way.
 */
// Written from Meta's reference, not imported from the adapter: the sandbox must be able to
// disagree with our code (the adapter's own list is `AD_EFFECTIVE_STATUSES`).
const STATUS_FILTER_VALUES: Readonly<Record<string, readonly string[]>> = {
  "campaign.effective_status": [
    "ACTIVE",
    "ARCHIVED",
    "DELETED",
    "IN_PROCESS",
    "PAUSED",
    "WITH_ISSUES",
  ],
  "ad.effective_status": [
    "ACTIVE",
    "ADSET_PAUSED",
    "ARCHIVED",
    "CAMPAIGN_PAUSED",
    "DELETED",
    "DISAPPROVED",
    "IN_PROCESS",
    "PAUSED",
    "PENDING_BILLING_INFO",
    "PENDING_REVIEW",
    "PREAPPROVED",
    "WITH_ISSUES",
  ],
};

/** What an ad account's insights return without a status filter: archived and deleted are out. */
const DEFAULT_VISIBLE: ReadonlySet<CampaignStatus> = new Set(["ACTIVE"]);

const filteringSchema = z.array(
  z.object({ field: z.string(), operator: z.string(), value: z.unknown() }),
);

/** The oldest Marketing API version not yet expired (notes §2.1: v23.0 → 2026-06-09). */
const OLDEST_MAJOR_VERSION = 23;
/** Meta's page size when `limit` is absent. */
const DEFAULT_LIMIT = 25;
const HOUR_MS = 3_600_000;

/** Insights fields the sandbox renders (Meta knows many more; asking for others is refused). */
const INSIGHTS_FIELDS = new Set([
  "account_id",
  "account_name",
  "account_currency",
  "campaign_id",
  "campaign_name",
  "date_start",
  "date_stop",
  "impressions",
  "clicks",
  "spend",
  "actions",
  "action_values",
]);
const ACCOUNT_FIELDS = new Set([
  "id",
  "account_id",
  "name",
  "currency",
  "timezone_name",
  "account_status",
]);
const LEVELS = ["ad", "adset", "campaign", "account"];

/** An ad account node or its insights edge. */
const ACCOUNT_ROUTE = /^\/(v(\d+)\.\d+)\/act_([^/]+)(\/insights)?\/?$/;
/** An Ad Report Run node (its id is a number, as Graph ids are) or its insights edge. */
const RUN_ROUTE = /^\/(v(\d+)\.\d+)\/(\d+)(\/insights)?\/?$/;
/**
 * What discovery reads: the user's listings, a business's (its id is a number), and debug_token.
 */
const DISCOVERY_ROUTE =
  /^\/(?<version>v(?<major>\d+)\.\d+)\/(?:me\/(?<user>adaccounts|businesses)|(?<business>\d+)\/(?<businessEdge>owned_ad_accounts|client_ad_accounts)|(?<debug>debug_token))\/?$/;

interface GraphErrorFields {
  message: string;
  code: number;
  type?: string;
  error_subcode?: number;
  is_transient?: boolean;
}

function graphError(
  status: number,
  error: GraphErrorFields,
  headers?: Record<string, string>,
): SandboxReply {
  return {
    status,
    ...(headers ? { headers } : {}),
    body: {
      error: {
        ...error,
        type: error.type ?? "OAuthException",
        fbtrace_id: randomBytes(9).toString("base64url"),
      },
    },
  };
}

const invalidParameter = (message: string): SandboxReply =>
  graphError(400, { message: `(#100) ${message}`, code: 100 });

function unsupportedRequest(method: string, objectId: string): SandboxReply {
  return graphError(400, {
    message: `Unsupported ${method.toLowerCase()} request. Object with ID '${objectId}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api`,
    type: "GraphMethodException",
    code: 100,
    error_subcode: 33,
  });
}

/** Meta's cursors are base64 with `=` written as "ZD" ("MjQZD" is row 24). */
function cursorOf(index: number): string {
  return Buffer.from(String(index)).toString("base64").replace(/=/g, "ZD");
}

function indexOfCursor(cursor: string): number | undefined {
  const text = Buffer.from(cursor.replace(/ZD/g, "="), "base64").toString("utf8");
  const index = /^\d+$/.test(text) ? Number(text) : undefined;
  return index !== undefined && cursorOf(index) === cursor ? index : undefined;
}

/** Integer micros → Meta's decimal string, trailing zeros dropped ("12.3", "7"). */

function pick<T>(values: Record<string, T>, fields: readonly string[]): Record<string, T> {
  return Object.fromEntries(
    fields.flatMap((field) => {
      const value = values[field];
      return value === undefined ? [] : [[field, value] as const];
    }),
  );
}

function tokenOf(req: SandboxRequest): string | undefined {
  const header = req.headers.authorization;
  const bearer = header ? /^(?:Bearer|OAuth)\s+(\S+)$/i.exec(header)?.[1] : undefined;
  return bearer ?? req.query.get("access_token") ?? undefined;
}

/** The token checks Graph runs before anything else, with its code-190 answers. */
function rejectToken(req: SandboxRequest, world: SandboxWorld): SandboxReply | undefined {
  const token = tokenOf(req);
  if (!token) {
    return graphError(400, {
      message: "An access token is required to request this resource.",
      code: 104,
    });
  }
  switch (world.checkAccessToken("meta", token)) {
    case "valid":
      break;
    case "unknown":
      return graphError(400, {
        message: "Invalid OAuth access token - Cannot parse access token",
        code: 190,
      });
    case "expired":
      return graphError(400, {
        message: `Error validating access token: Session has expired. The current time is ${new Date().toUTCString()}.`,
        code: 190,
        error_subcode: 463,
      });
    case "revoked":
      return graphError(400, {
        message: `Error validating access token: The user has not authorized application ${META_SANDBOX_APP_ID}.`,
        code: 190,
        error_subcode: 458,
      });
  }
  return rejectProof(req, token);
}

/** An `appsecret_proof` that is not the HMAC-SHA256 of the request's token with the app secret. */
function rejectProof(req: SandboxRequest, token: string): SandboxReply | undefined {
  const proof = req.query.get("appsecret_proof");
  const expected = createHmac("sha256", META_SANDBOX_APP_SECRET).update(token).digest("hex");
  if (proof !== null && proof !== expected) {
    return graphError(400, {
      message: "Invalid appsecret_proof provided in the API argument",
      type: "GraphMethodException",
      code: 100,
    });
  }
  return undefined;
}

/**
 * Usage headers computed from the account's calls in the rolling hour against the Limited-tier
 * ads_insights budget (600 + 400 × active ads; one ad per campaign here), as Meta sends them on
 * successful calls. A report run's status checks and result pages count for its ad account:
 * "Insights calls are also subject to the default ad account limits"
 * (https://developers.facebook.com/docs/marketing-api/insights/best-practices#insightscallload).
 */
function usageHeaders(world: SandboxWorld, account: SandboxAccount): Record<string, string> {
  const now = Date.now();
  const calls = world.requestLog.filter(
    (entry) =>
      entry.provider === "meta" && entry.at > now - HOUR_MS && entry.accountId === account.id,
  );
  const percent = Math.min(100, Math.round((calls.length / (600 + 400 * account.campaigns)) * 100));
  const oldest = calls[0]?.at ?? now;
  return {
    "x-business-use-case-usage": JSON.stringify({
      [account.id]: [
        {
          type: "ads_insights",
          call_count: percent,
          total_cputime: percent,
          total_time: percent,
          estimated_time_to_regain_access: 0,
          ads_api_access_tier: "standard_access",
        },
      ],
    }),
    "x-ad-account-usage": JSON.stringify({
      acc_id_util_pct: percent,
      reset_time_duration: Math.ceil((oldest + HOUR_MS - now) / 1000),
      ads_api_access_tier: "standard_access",
    }),
    "x-fb-ads-insights-throttle": JSON.stringify({ app_id_util_pct: 0, acc_id_util_pct: percent }),
  };
}

/**
 * The fields a request asks of a node type (`defaults` when it names none), or Graph's refusal of
 * one the type does not have.
 */
function askedFields(
  req: SandboxRequest,
  known: ReadonlySet<string>,
  nodeType: string,
  defaults: readonly string[],
): readonly string[] | SandboxReply {
  const asked = req.query.get("fields")?.split(",").filter(Boolean);
  const unknown = asked?.find((field) => !known.has(field));
  if (unknown) {
    return invalidParameter(
      `Tried accessing nonexisting field (${unknown}) on node type (${nodeType})`,
    );
  }
  return asked ?? defaults;
}

/**
 * An ad account's `account_status`: 1 ACTIVE, or 2 DISABLED for one the world has disabled (the
 * ad account reference, https://developers.facebook.com/docs/marketing-api/reference/ad-account/).
 */
const accountStatus = (account: SandboxAccount): number => (account.disabled ? 2 : 1);

/** An ad account node's requested fields; `id` (`act_…`) always comes with them. */
function adAccountFields(account: SandboxAccount, fields: readonly string[]) {
  const all: Record<string, string | number> = {
    account_id: account.id,
    name: account.name,
    currency: account.currency,
    timezone_name: account.timeZone,
    account_status: accountStatus(account),
  };
  return { ...pick(all, fields), id: `act_${account.id}` };
}

function accountNode(req: SandboxRequest, account: SandboxAccount): SandboxReply {
  const fields = askedFields(req, ACCOUNT_FIELDS, "AdAccount", ["id"]);
  return "status" in fields ? fields : { status: 200, body: adAccountFields(account, fields) };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * The campaign statuses a query's `filtering` selects: filters combine as AND, and without a
 * status filter Meta leaves archived and deleted objects out. A reply when the filtering is not
 * valid, or not one the sandbox renders.
 */
function visibleStatuses(text: string | null): ReadonlySet<CampaignStatus> | SandboxReply {
  if (text === null) {
    return DEFAULT_VISIBLE;
  }
  const parsed = filteringSchema.safeParse(parseJson(text));
  if (!parsed.success) {
    return invalidParameter(
      "param filtering must be an array of objects with field, operator and value.",
    );
  }
  let visible: ReadonlySet<CampaignStatus> | undefined;
  for (const { field, operator, value } of parsed.data) {
    const allowed = STATUS_FILTER_VALUES[field];
    if (!allowed || operator !== "IN") {
      // Meta filters on many more fields and operators; the sandbox renders status IN only.
      return invalidParameter(
        `the sandbox renders filtering on ${Object.keys(STATUS_FILTER_VALUES).join(" and ")} with operator IN only`,
      );
    }
    const values = z.array(z.string()).safeParse(value);
    const unknown = values.data?.find((status) => !allowed.includes(status));
    if (!values.success || unknown !== undefined) {
      return invalidParameter(
        `Filtering field '${field}' with operation 'in' and value '${unknown ?? JSON.stringify(value)}' is not supported`,
      );
    }
    const selected = new Set<string>(values.data);
    const before = visible;
    visible = new Set(
      CAMPAIGN_STATUSES.filter((status) => selected.has(status) && (before?.has(status) ?? true)),
    );
  }
  return visible ?? DEFAULT_VISIBLE;
}

function parseTimeRange(text: string | null): { since: string; until: string } | undefined {
  if (!text) {
    return undefined;
  }
  try {
    const value = JSON.parse(text) as { since?: unknown; until?: unknown };
    const { since, until } = value;
    const isDay = (day: unknown): day is string =>
      typeof day === "string" && /^\d{4}-\d{2}-\d{2}$/.test(day) && !Number.isNaN(Date.parse(day));
    return isDay(since) && isDay(until) && since <= until ? { since, until } : undefined;
  } catch {
    return undefined;
  }
}

function insightsRow(
  world: SandboxWorld,
  account: SandboxAccount,
  campaign: SandboxCampaign,
  day: string,
  fields: readonly string[],
): Record<string, unknown> {
  const metrics = world.metrics(account, campaign.id, day);
  // Meta reports overlapping purchase types side by side (omni_purchase covers the pixel one);
  // an adapter that sums them double-counts. A day without any action has no `actions` at all.
  const purchases = metrics.conversions > 0 ? String(metrics.conversions) : undefined;
  const value = decimalOf(metrics.conversionValueMicros);
  const actions = [
    ...(metrics.clicks > 0 ? [{ action_type: "link_click", value: String(metrics.clicks) }] : []),
    ...(purchases
      ? [
          { action_type: "offsite_conversion.fb_pixel_purchase", value: purchases },
          { action_type: "omni_purchase", value: purchases },
        ]
      : []),
  ];
  const all: Record<string, unknown> = {
    account_id: account.id,
    account_name: account.name,
    account_currency: account.currency,
    campaign_id: campaign.id,
    campaign_name: campaign.name,
    impressions: String(metrics.impressions),
    clicks: String(metrics.clicks),
    spend: decimalOf(metrics.spendMicros),
    ...(actions.length > 0 ? { actions } : {}),
    ...(purchases
      ? {
          action_values: [
            { action_type: "offsite_conversion.fb_pixel_purchase", value },
            { action_type: "omni_purchase", value },
          ],
        }
      : {}),
  };
  // Graph answers with the requested fields only; insights rows always carry their days.
  return { ...pick(all, fields), date_start: day, date_stop: day };
}

/** What an insights query (synchronous, or the POST creating a report run) asks for. */
interface InsightsQuery {
  range: { since: string; until: string };
  fields: readonly string[];
  statuses: ReadonlySet<CampaignStatus>;
}

/**
 * Meta keeps insights for 37 months: a `time_range` starting earlier is refused with code 3018,
 * "The start date of the time range cannot be beyond 37 months from the current date", listed in
 * the error codes of the Marketing API reference's insights-bearing edges (e.g.
 * https://developers.facebook.com/docs/marketing-api/reference/ad-account/campaigns/) and sent as
 * below (HTTP 400, no subcode: airbytehq/airbyte's source-facebook-marketing
 * unit_tests/test_errors.py, `error_400_start_date_not_within_three_years`).
 */
const RETENTION_MONTHS = 37;

const beyondRetention = (): SandboxReply =>
  graphError(400, {
    message: `(#3018) The start date of the time range cannot be beyond ${RETENTION_MONTHS} months from the current date`,
    code: 3018,
  });

/**
 * The first day Meta still serves for an account whose current day is `today`: the same day of
 * the month `RETENTION_MONTHS` earlier, or that month's last day when it is shorter.
 */
function oldestServedDay(today: string): string {
  const [year = 0, month = 1, day = 1] = today.split("-").map(Number);
  const index = year * 12 + (month - 1) - RETENTION_MONTHS;
  const targetYear = Math.floor(index / 12);
  const targetMonth = index - targetYear * 12;
  const monthDays = new Date(Date.UTC(targetYear, targetMonth + 1, 0)).getUTCDate();
  const pad = (value: number) => String(value).padStart(2, "0");
  return `${targetYear}-${pad(targetMonth + 1)}-${pad(Math.min(day, monthDays))}`;
}

/** The checks Meta runs on an insights query's parameters, in the order it reports them. */
function parseInsightsQuery(
  query: URLSearchParams,
  world: SandboxWorld,
  account: SandboxAccount,
): InsightsQuery | SandboxReply {
  const level = query.get("level");
  if (!level || !LEVELS.includes(level)) {
    return invalidParameter(`level must be one of the following values: ${LEVELS.join(", ")}`);
  }
  if (level !== "campaign" || query.get("time_increment") !== "1") {
    // Meta also accepts other levels and increments (1–90, monthly, all_days); the sandbox
    // renders daily campaign rows only, which is all the adapter asks for.
    return invalidParameter(
      "the sandbox renders level=campaign with time_increment=1 only (time_increment is required)",
    );
  }
  const fields = (query.get("fields") ?? "").split(",").filter(Boolean);
  if (fields.length === 0) {
    return invalidParameter("param fields must be non-empty.");
  }
  const unknownField = fields.find((field) => !INSIGHTS_FIELDS.has(field));
  if (unknownField) {
    return invalidParameter(
      `${unknownField} is not valid for fields param. please check https://developers.facebook.com/docs/marketing-api/reference/ads-insights/ for all valid values`,
    );
  }
  const range = parseTimeRange(query.get("time_range"));
  if (!range) {
    return invalidParameter(
      'param time_range must be non-empty. It takes a JSON object {"since":"YYYY-MM-DD","until":"YYYY-MM-DD"} with since not after until.',
    );
  }
  // "The current date" is the ad account's, whose zone insights days are counted in.
  if (range.since < oldestServedDay(world.today(account))) {
    return beyondRetention();
  }
  const statuses = visibleStatuses(query.get("filtering"));
  return "status" in statuses ? statuses : { range, fields, statuses };
}

interface Paging {
  limit: number;
  /** Index of the last row of the previous page; -1 for the first page. */
  after: number;
}

function parsePaging(query: URLSearchParams): Paging | SandboxReply {
  const limitText = query.get("limit");
  const limit = limitText === null ? DEFAULT_LIMIT : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1) {
    return invalidParameter("param limit must be a positive integer.");
  }
  const afterCursor = query.get("after");
  const after = afterCursor === null ? -1 : indexOfCursor(afterCursor);
  if (after === undefined) {
    return graphError(400, { message: "Invalid parameter", code: 100 });
  }
  return { limit, after };
}

/** The campaign-days an insights query covers: a day that has not started has no data yet. */
function queriedCells(world: SandboxWorld, account: SandboxAccount, query: InsightsQuery) {
  return {
    days: world.reportedDays(account, query.range.since, query.range.until),
    campaigns: world.campaigns(account).filter((campaign) => query.statuses.has(campaign.status)),
  };
}

/** Sent without an error_subcode, as Meta does (airbytehq/airbyte#49977). */
const reduceTheData = (): SandboxReply =>
  graphError(500, {
    message: "Please reduce the amount of data you're asking for, then retry your request",
    code: 1,
  });

/**
 * One page of an insights query's rows, cursor-paged as Graph pages every edge (the synchronous
 * edge and a report run's results alike).
 */
function insightsPage(
  req: SandboxRequest,
  world: SandboxWorld,
  account: SandboxAccount,
  query: InsightsQuery,
  paging: Paging,
): SandboxReply {
  const { days, campaigns } = queriedCells(world, account, query);
  const rows = days.flatMap((day) =>
    campaigns.map((campaign) => insightsRow(world, account, campaign, day, query.fields)),
  );
  return {
    status: 200,
    headers: usageHeaders(world, account),
    // Meta may leave the cursors out and send `next` alone (the pagingWithoutCursors knob).
    body: cursorPage(req, rows, paging, !world.faults("meta").pagingWithoutCursors),
  };
}

/**
 * One page of an edge's items as Graph pages every edge: `cursors` around the page (unless
 * `withCursors` is false), and a `next` that repeats the request (an access_token sent as a
 * parameter included, as Meta does) with the after cursor, absent on the last page.
 */
function cursorPage(
  req: SandboxRequest,
  items: readonly unknown[],
  { limit, after }: Paging,
  withCursors = true,
): { data: unknown[]; paging?: object } {
  const start = after + 1;
  const data = items.slice(start, start + limit);
  const last = cursorOf(start + data.length - 1);
  const next = new URLSearchParams(req.query);
  next.set("after", last);
  const paging = {
    ...(data.length === 0 || !withCursors
      ? {}
      : { cursors: { before: cursorOf(start), after: last } }),
    ...(data.length > 0 && start + data.length < items.length
      ? { next: `http://${req.headers.host ?? "localhost"}/meta${req.path}?${next.toString()}` }
      : {}),
  };
  return { data, ...(Object.keys(paging).length > 0 ? { paging } : {}) };
}

function insights(req: SandboxRequest, world: SandboxWorld, account: SandboxAccount): SandboxReply {
  const query = parseInsightsQuery(req.query, world, account);
  if ("status" in query) {
    return query;
  }
  const paging = parsePaging(req.query);
  if ("status" in paging) {
    return paging;
  }
  const { days, campaigns } = queriedCells(world, account, query);
  const cells = days.length * campaigns.length;
  if (world.queryTooLarge("meta", account.id, query.range, cells, META_MAX_CAMPAIGN_DAYS)) {
    return reduceTheData();
  }
  return insightsPage(req, world, account, query, paging);
}

/**
 * An Ad Report Run (https://developers.facebook.com/docs/marketing-api/reference/ad-report-run):
 * the query it was created with and how it will end, fixed by the `asyncReports` knobs when it
 * was created.
 */
interface ReportRun {
  id: string;
  accountId: string;
  query: InsightsQuery;
  /** Status checks answered so far. */
  checks: number;
  /** Status checks answered "not yet" before the run ends. */
  checksBeforeDone: number;
  outcome: "completed" | "failed" | "stuck";
  /** When it was created and completed, in seconds since the epoch (Graph's `time_ref`). */
  timeRef: number;
  timeCompleted?: number;
}

/**
 * Every report run created, by id. Ids are unique within the process (whatever the world), so the
 * platform's `subjectOf`, which sees no world, can still name a run's ad account.
 */
const reportRuns = new Map<string, ReportRun>();
/** Report run ids are Graph ids: numbers, counted from the one Meta's guide shows. */
let lastReportRunId = 6_023_920_149_050;

/**
 * `POST /act_{id}/insights` with the parameters of the synchronous edge: Meta checks them alike
 * (a query too old or too large is refused at once) and answers `{"report_run_id": "…"}`
 * (the guide's example shows the id as a number; Graph sends it as a string, as every id).
 */
function createReportRun(
  req: SandboxRequest,
  world: SandboxWorld,
  account: SandboxAccount,
): SandboxReply {
  const query = parseInsightsQuery(req.query, world, account);
  if ("status" in query) {
    return query;
  }
  const { days, campaigns } = queriedCells(world, account, query);
  const cells = days.length * campaigns.length;
  // Meta's data-per-call limits hold for asynchronous queries too, at no published threshold:
  // only the maxRowsPerQuery knob sets one here. Asynchronous reports exist for large queries.
  if (world.queryTooLarge("meta", account.id, query.range, cells)) {
    return reduceTheData();
  }
  const knobs = world.faults("meta");
  const { checksBeforeDone = 1, failReports = 0, stuckAboveRows } = knobs.asyncReports ?? {};
  if (failReports > 0) {
    knobs.asyncReports = { ...knobs.asyncReports, failReports: failReports - 1 };
  }
  lastReportRunId += 1;
  const run: ReportRun = {
    id: String(lastReportRunId),
    accountId: account.id,
    query,
    checks: 0,
    checksBeforeDone,
    outcome:
      failReports > 0
        ? "failed"
        : stuckAboveRows !== undefined && cells > stuckAboveRows
          ? "stuck"
          : "completed",
    timeRef: Math.floor(Date.now() / 1000),
  };
  reportRuns.set(run.id, run);
  return { status: 200, headers: usageHeaders(world, account), body: { report_run_id: run.id } };
}

/**
 * A report run's node fields. Before it ends a run goes `Job Not Started` → `Job Started` →
 * `Job Running`; it ends `Job Completed` (at 100 %) or `Job Failed` ("Review your query and try
 * again"; `Job Skipped`, an expired run, is not produced). Since v25.0 a failed run carries
 * `error_code` … `error_user_msg` by default
 * (https://developers.facebook.com/blog/post/2026/01/08/enhanced-error-messaging-for-ads-insights-async-api/),
 * here the one asynchronous failure the insights error codes list: -2/2490547 "Report Failed"
 * (https://developers.facebook.com/docs/marketing-api/insights/error-codes).
 */
function reportRunFields(run: ReportRun, major: number): Record<string, unknown> {
  const ended = run.outcome !== "stuck" && run.checks > run.checksBeforeDone;
  const progress = Math.min(
    99,
    Math.floor((100 * (run.checks - 1)) / Math.max(1, run.checksBeforeDone)),
  );
  const status = ended
    ? run.outcome === "completed"
      ? "Job Completed"
      : "Job Failed"
    : run.checks <= 1
      ? "Job Not Started"
      : run.checks === 2
        ? "Job Started"
        : "Job Running";
  const failed = ended && run.outcome === "failed";
  return {
    id: run.id,
    account_id: run.accountId,
    time_ref: run.timeRef,
    ...(run.timeCompleted === undefined ? {} : { time_completed: run.timeCompleted }),
    async_status: status,
    async_percent_completion: status === "Job Completed" ? 100 : Math.max(0, progress),
    date_start: run.query.range.since,
    date_stop: run.query.range.until,
    ...(failed && major >= 25
      ? {
          error_code: -2,
          error_subcode: 2490547,
          error_message: "Generating the report failed. Try again later.",
          error_user_title: "Report Failed",
          error_user_msg: "Generating the report failed. Try again later.",
        }
      : {}),
  };
}

/** Fields every report run renders; asking for another is refused as on any node. */
const REPORT_RUN_FIELDS = new Set([
  "id",
  "account_id",
  "time_ref",
  "time_completed",
  "async_status",
  "async_percent_completion",
  "date_start",
  "date_stop",
  "error_code",
  "error_subcode",
  "error_message",
  "error_user_title",
  "error_user_msg",
]);

/** `GET /{report_run_id}`: each call is one status check, which moves the run on. */
function reportRunNode(req: SandboxRequest, run: ReportRun, major: number): SandboxReply {
  const fields = askedFields(req, REPORT_RUN_FIELDS, "AdReportRun", [...REPORT_RUN_FIELDS]);
  if ("status" in fields) {
    return fields;
  }
  run.checks += 1;
  if (run.outcome === "completed" && run.checks > run.checksBeforeDone) {
    run.timeCompleted ??= Math.floor(Date.now() / 1000);
  }
  return { status: 200, body: { ...pick(reportRunFields(run, major), fields), id: run.id } };
}

/**
 * `GET /{report_run_id}/insights`: the rows of a completed run, paged as the synchronous edge.
 * Meta documents no answer for a run that has not completed; the sandbox refuses it as an invalid
 * request, so an adapter that reads too early fails instead of reading nothing.
 */
function reportRunInsights(
  req: SandboxRequest,
  world: SandboxWorld,
  account: SandboxAccount,
  run: ReportRun,
): SandboxReply {
  if (run.outcome !== "completed" || run.checks <= run.checksBeforeDone) {
    return invalidParameter(
      `report run ${run.id} has no results: its async_status is not Job Completed`,
    );
  }
  const paging = parsePaging(req.query);
  return "status" in paging ? paging : insightsPage(req, world, account, run.query, paging);
}

/** Whom a request is for and what it asks: an ad account's node or edge, or a report run's. */
function routeOf(path: string) {
  const account = ACCOUNT_ROUTE.exec(path);
  if (account) {
    const [, version = "", major = "0", id = "", edge] = account;
    return { version, major: Number(major), accountId: id, edge: edge !== undefined } as const;
  }
  const run = RUN_ROUTE.exec(path);
  if (run) {
    const [, version = "", major = "0", id = "", edge] = run;
    const report = reportRuns.get(id);
    return {
      version,
      major: Number(major),
      runId: id,
      ...(report ? { accountId: report.accountId, report } : {}),
      edge: edge !== undefined,
    } as const;
  }
  return undefined;
}

/**
 * Graph takes a POST's parameters from the query string or the (form or JSON) body alike; the
 * body's win, as the SDKs send them there.
 */
function withBodyParameters(req: SandboxRequest): SandboxRequest {
  if (req.method !== "POST" || typeof req.body !== "object" || req.body === null) {
    return req;
  }
  const query = new URLSearchParams(req.query);
  for (const [name, value] of Object.entries(req.body as Record<string, unknown>)) {
    if (typeof value === "string") {
      query.set(name, value);
    }
  }
  return { ...req, query };
}

// ---- Discovery: the user's ad accounts and businesses, and each business's ad accounts ----------

/**
 * How the world's Meta accounts sit in businesses. `parents[0]` is the business the user reaches an
 * account through, one of the user's businesses; a second parent is the business that owns it,
 * when another: the account is that client's, shared with the user's business (in its
 * `client_ad_accounts`, and in the owner's `owned_ad_accounts` should the user be in the owner
 * too). Otherwise `parents[0]` owns it. An account without parents is the user's own. Hidden
 * accounts are not reachable, and managers (a Google notion) are no ad accounts.
 */
function listedAccounts(world: SandboxWorld): SandboxAccount[] {
  return world.reachable("meta").filter((account) => !account.manager);
}

const ownerOf = ({ parents = [] }: SandboxAccount): string | undefined => parents[1] ?? parents[0];

const isClientAccount = (account: SandboxAccount): boolean =>
  ownerOf(account) !== account.parents?.[0];

/** The user's businesses: every business an account is reached through, in the world's order. */
const businessesOf = (world: SandboxWorld): string[] => [
  ...new Set(listedAccounts(world).flatMap(({ parents = [] }) => parents.slice(0, 1))),
];

const BUSINESS_FIELDS = new Set(["id", "name"]);
const businessName = (id: string): string => `Business ${id.slice(-4)}`;

/**
 * `GET /me/adaccounts`, "the advertising accounts to which this person has access"
 * (https://developers.facebook.com/docs/graph-api/reference/user/adaccounts/): the user's own and
 * those of the user's businesses, whose accounts members are assigned to; a client's account
 * shared with the business is reached through the business alone. `GET /me/businesses`
 * (https://developers.facebook.com/docs/graph-api/reference/user/businesses/), and a business's
 * `owned_ad_accounts` and `client_ad_accounts`
 * (https://developers.facebook.com/docs/marketing-api/reference/business/owned_ad_accounts/,
 * https://developers.facebook.com/docs/marketing-api/reference/business/client_ad_accounts/).
 * All cursor-paged; a business the user is not in is an object Graph cannot load.
 */
function listing(
  req: SandboxRequest,
  world: SandboxWorld,
  { user, business, businessEdge }: Record<string, string | undefined>,
): SandboxReply {
  if (req.method !== "GET" || (business && !businessesOf(world).includes(business))) {
    return unsupportedRequest(req.method, business ?? "me");
  }
  const paging = parsePaging(req.query);
  if ("status" in paging) {
    return paging;
  }
  if (user === "businesses") {
    const fields = askedFields(req, BUSINESS_FIELDS, "Business", ["id", "name"]);
    if ("status" in fields) {
      return fields;
    }
    const businesses = businessesOf(world).map((id) =>
      pick({ id, name: businessName(id) }, fields),
    );
    return { status: 200, body: cursorPage(req, businesses, paging) };
  }
  // An edge's ad accounts carry `account_id` and `id` unless fields are asked for.
  const fields = askedFields(req, ACCOUNT_FIELDS, "AdAccount", ["account_id", "id"]);
  if ("status" in fields) {
    return fields;
  }
  const accounts = listedAccounts(world).filter((account) =>
    businessEdge === "client_ad_accounts"
      ? account.parents?.[0] === business && isClientAccount(account)
      : businessEdge === "owned_ad_accounts"
        ? ownerOf(account) === business
        : !isClientAccount(account),
  );
  return {
    status: 200,
    body: cursorPage(
      req,
      accounts.map((account) => adAccountFields(account, fields)),
      paging,
    ),
  };
}

/**
 * A discovery request: debug_token is called with the app's token, the listings with the user's.
 */
function discoveryReply(
  req: SandboxRequest,
  world: SandboxWorld,
  route: Record<string, string | undefined>,
): SandboxReply {
  if (route.debug) {
    return debugToken(req, world);
  }
  return rejectToken(req, world) ?? listing(req, world, route);
}

// ---- debug_token -------------------------------------------------------------------------------

/** The app's token: "{app-id}|{app-secret}" (https://developers.facebook.com/docs/facebook-login/guides/access-tokens#apptokens). */
const APP_TOKEN = `${META_SANDBOX_APP_ID}|${META_SANDBOX_APP_SECRET}`;

/**
 * Data access lasts 90 days from the user's last use of the app
 * (https://developers.facebook.com/docs/facebook-login/auth-vs-data/): here, from the token's issue.
 */
const DATA_ACCESS_MS = 90 * 86_400_000;
/** Meta's short-lived user tokens last about an hour or two; longer ones are long-lived. */
const SHORT_LIVED_MS = 2 * HOUR_MS;

/**
 * The world's record of an access token. SandboxWorld keeps its records private and has no accessor
 * for them yet, so it is read through TypeScript's element access until it has one.
 */
function tokenRecord(world: SandboxWorld, token: string): TokenRecord | undefined {
  const record = world["tokens"].get(token);
  return record?.provider === "meta" ? record : undefined;
}

const seconds = (ms: number): number => Math.floor(ms / 1000);

/**
 * `GET /debug_token?input_token=…` (https://developers.facebook.com/docs/graph-api/reference/debug_token/),
 * called with the app's token. A user token cannot call it: the sandbox's users are no developers
 * of the app. The input token's metadata, whether it works or not
 * (https://developers.facebook.com/docs/facebook-login/guides/access-tokens/debugging): a token
 * that no longer works is answered with `is_valid: false` and the error its calls get, one Meta
 * cannot parse with that alone; `expires_at` 0 for a token that never expires, `issued_at` for a
 * long-lived one.
 */
function debugToken(req: SandboxRequest, world: SandboxWorld): SandboxReply {
  const appToken = tokenOf(req);
  if (appToken?.startsWith(`${META_SANDBOX_APP_ID}|`) && appToken !== APP_TOKEN) {
    // The app's id with another secret.
    return graphError(400, { message: "Invalid OAuth access token signature.", code: 190 });
  }
  if (appToken !== APP_TOKEN) {
    return graphError(400, {
      message:
        "(#100) You must provide an app access token, or a user access token that is an owner or developer of the app",
      code: 100,
    });
  }
  const rejected = rejectProof(req, appToken);
  if (rejected) {
    return rejected;
  }
  const input = req.query.get("input_token");
  if (!input) {
    return invalidParameter("The parameter input_token is required");
  }
  const record = tokenRecord(world, input);
  if (!record) {
    return {
      status: 200,
      body: {
        data: {
          error: { code: 190, message: "Invalid OAuth access token - Cannot parse access token" },
          is_valid: false,
          scopes: [],
        },
      },
    };
  }
  const check = world.checkAccessToken("meta", input);
  const error =
    check === "expired"
      ? {
          code: 190,
          message: `Error validating access token: Session has expired on ${new Date(record.expiresAt ?? 0).toUTCString()}. The current time is ${new Date().toUTCString()}.`,
          subcode: 463,
        }
      : check === "revoked"
        ? {
            code: 190,
            message: `Error validating access token: The user has not authorized application ${META_SANDBOX_APP_ID}.`,
            subcode: 458,
          }
        : undefined;
  const longLived =
    record.expiresAt === undefined || record.expiresAt - record.issuedAt > SHORT_LIVED_MS;
  return {
    status: 200,
    body: {
      data: {
        app_id: META_SANDBOX_APP_ID,
        type: "USER",
        application: META_SANDBOX_APP_NAME,
        data_access_expires_at: seconds(record.issuedAt + DATA_ACCESS_MS),
        ...(error ? { error } : {}),
        expires_at: record.expiresAt === undefined ? 0 : seconds(record.expiresAt),
        is_valid: check === "valid",
        ...(longLived ? { issued_at: seconds(record.issuedAt) } : {}),
        scopes: GRANTED_SCOPES,
        user_id: SANDBOX_USER_ID,
      },
    },
  };
}

/** A version Meta no longer serves is refused before anything else. */
function deprecatedVersion(version: string, major: number): SandboxReply | undefined {
  return major < OLDEST_MAJOR_VERSION
    ? graphError(400, {
        message: `(#2635) You are calling a deprecated version of the Ads API (${version}). Please update to the latest version.`,
        code: 2635,
      })
    : undefined;
}

export const metaSandbox: PlatformSandbox = {
  provider: "meta",

  // The insights edge (read or asked for a report run) and report runs: what the reporting
  // faults and throttles apply to.
  isReportingRequest: (req) => routeOf(req.path)?.edge === true || RUN_ROUTE.test(req.path),

  subjectOf(req) {
    const accountId = routeOf(req.path)?.accountId;
    const token = tokenOf(req);
    return {
      ...(accountId === undefined ? {} : { accountId }),
      ...(token === undefined ? {} : { accessToken: token }),
    };
  },

  handle(incoming, world) {
    const discovery = DISCOVERY_ROUTE.exec(incoming.path)?.groups;
    if (discovery) {
      return (
        deprecatedVersion(discovery.version ?? "", Number(discovery.major)) ??
        discoveryReply(incoming, world, discovery)
      );
    }
    const route = routeOf(incoming.path);
    if (!route) {
      return graphError(400, {
        message: `Unknown path components: ${incoming.path}`,
        code: 2500,
      });
    }
    const deprecated = deprecatedVersion(route.version, route.major);
    if (deprecated) {
      return deprecated;
    }
    const req = withBodyParameters(incoming);
    const rejected = rejectToken(req, world);
    if (rejected) {
      return rejected;
    }
    const objectId = "runId" in route ? route.runId : `act_${route.accountId}`;
    const accountId = route.accountId ?? "";
    const account = /^\d+$/.test(accountId) ? world.account("meta", accountId) : undefined;
    // A POST to the account's insights edge creates a report run; everything else is read.
    const creates = req.method === "POST" && !("runId" in route) && route.edge;
    if (!account || (req.method !== "GET" && !creates)) {
      return unsupportedRequest(req.method, objectId);
    }
    if (world.faults("meta").forbiddenAccounts?.includes(account.id)) {
      return graphError(403, {
        message: "(#200) Ad account owner has NOT grant ads_management or ads_read permission",
        code: 200,
      });
    }
    if ("runId" in route && route.report) {
      return route.edge
        ? reportRunInsights(req, world, account, route.report)
        : {
            ...reportRunNode(req, route.report, route.major),
            headers: usageHeaders(world, account),
          };
    }
    if (!route.edge) {
      return { ...accountNode(req, account), headers: usageHeaders(world, account) };
    }
    return creates ? createReportRun(req, world, account) : insights(req, world, account);
  },

  /**
   * Code 17 "User request limit reached" (subcode 2446079), the limit Marketing API insights
   * calls hit (https://developers.facebook.com/docs/marketing-api/overview/rate-limiting), with
   * the wait in the usage headers: whole minutes in X-Business-Use-Case-Usage, seconds in
   * X-Ad-Account-Usage `reset_time_duration`.
   */
  rateLimited(retryAfterSeconds) {
    return graphError(
      400,
      { message: "(#17) User request limit reached", code: 17, error_subcode: 2446079 },
      {
        "x-business-use-case-usage": JSON.stringify({
          [BUSINESS_ID]: [
            {
              type: "ads_insights",
              call_count: 100,
              total_cputime: 42,
              total_time: 57,
              estimated_time_to_regain_access: Math.floor(retryAfterSeconds / 60),
              ads_api_access_tier: "standard_access",
            },
          ],
        }),
        "x-ad-account-usage": JSON.stringify({
          acc_id_util_pct: 100,
          reset_time_duration: Math.ceil(retryAfterSeconds),
          ads_api_access_tier: "standard_access",
        }),
      },
    );
  },

  throttled(scope, retryAfterSeconds, { accountId }) {
    switch (scope) {
      case "app":
        // The app-level limit (https://developers.facebook.com/docs/marketing-api/overview/rate-limiting):
        // X-App-Usage reports percentages only, so no wait can be stated.
        return graphError(
          400,
          {
            message: "(#4) There have been too many calls from this app. Wait a bit and try again.",
            code: 4,
            error_subcode: 1504022,
          },
          { "x-app-usage": JSON.stringify({ call_count: 100, total_time: 64, total_cputime: 38 }) },
        );
      case "account":
        // The ads_insights Business Use Case throttle, as Meta sends it (airbytehq/airbyte#10655),
        // with the whole minutes to regain access under the throttled ad account's id.
        return graphError(
          400,
          {
            message:
              "(#80000) There have been too many calls from this ad-account. Wait a bit and try again. For more info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
            code: 80000,
            error_subcode: 2446079,
          },
          {
            "x-business-use-case-usage": JSON.stringify({
              [accountId ?? ""]: [
                {
                  type: "ads_insights",
                  call_count: 100,
                  total_cputime: 61,
                  total_time: 73,
                  estimated_time_to_regain_access: Math.ceil(retryAfterSeconds / 60),
                  ads_api_access_tier: "standard_access",
                },
              ],
            }),
          },
        );
      case "member":
        // Marketing API limits are counted per ad account and per app, not per user token.
        return undefined;
    }
  },

  serverError: () =>
    graphError(500, {
      message: "An unexpected error has occurred. Please retry your request later.",
      code: 2,
      is_transient: true,
    }),
};
