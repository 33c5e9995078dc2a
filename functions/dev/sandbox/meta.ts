/**
 * Meta Marketing API in the sandbox: the ad account node (`GET /{v}/act_{id}`) and the insights
 * edge (`GET /{v}/act_{id}/insights`), with Graph's request checks and error envelope, opaque
 * cursor paging, usage headers, the "reduce the amount of data" refusal of queries that are too
 * large, and archived and deleted campaigns left out unless `filtering` asks for them, all
 * rendered as Meta documents them (provider-apis notes §2; Graph error handling:
 * https://developers.facebook.com/docs/graph-api/guides/error-handling; object status:
 * https://developers.facebook.com/docs/marketing-api/best-practices/storing_adobjects).
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
} from "./world";

/** The app the sandbox plays: its secret verifies `appsecret_proof`. */
const META_SANDBOX_APP_ID = "1000000000000001";
export const META_SANDBOX_APP_SECRET = "meta-sandbox-app-secret";
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
const ACCOUNT_FIELDS = new Set(["id", "account_id", "name", "currency", "timezone_name"]);
const LEVELS = ["ad", "adset", "campaign", "account"];

const ROUTE = /^\/(v(\d+)\.\d+)\/act_([^/]+)(\/insights)?\/?$/;

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
 * successful calls.
 */
function usageHeaders(world: SandboxWorld, account: SandboxAccount): Record<string, string> {
  const now = Date.now();
  const calls = world.requestLog.filter(
    (entry) =>
      entry.provider === "meta" &&
      entry.at > now - HOUR_MS &&
      entry.path.split("/")[2] === `act_${account.id}`,
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

function accountNode(req: SandboxRequest, account: SandboxAccount): SandboxReply {
  const fields = (req.query.get("fields") ?? "id").split(",").filter(Boolean);
  const unknown = fields.find((field) => !ACCOUNT_FIELDS.has(field));
  if (unknown) {
    return invalidParameter(
      `Tried accessing nonexisting field (${unknown}) on node type (AdAccount)`,
    );
  }
  const all: Record<string, string> = {
    account_id: account.id,
    name: account.name,
    currency: account.currency,
    timezone_name: account.timeZone,
  };
  return { status: 200, body: { ...pick(all, fields), id: `act_${account.id}` } };
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

function insights(req: SandboxRequest, world: SandboxWorld, account: SandboxAccount): SandboxReply {
  const { query } = req;
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

  const statuses = visibleStatuses(query.get("filtering"));
  if ("status" in statuses) {
    return statuses;
  }

  // A day that has not started for the ad account has no data yet.
  const days = world.reportedDays(account, range.since, range.until);
  const campaigns = world.campaigns(account).filter((campaign) => statuses.has(campaign.status));
  const rowCount = days.length * campaigns.length;
  if (world.queryTooLarge("meta", account.id, range, rowCount, META_MAX_CAMPAIGN_DAYS)) {
    // Sent without an error_subcode, as Meta does (airbytehq/airbyte#49977).
    return graphError(500, {
      message: "Please reduce the amount of data you're asking for, then retry your request",
      code: 1,
    });
  }
  const rows = days.flatMap((day) =>
    campaigns.map((campaign) => insightsRow(world, account, campaign, day, fields)),
  );
  const start = after + 1;
  const data = rows.slice(start, start + limit);
  const last = cursorOf(start + data.length - 1);
  // `next` repeats the query (and an access_token sent as a parameter, as Meta does) with the
  // after cursor; it is absent on the last page.
  const next = new URLSearchParams(query);
  next.set("after", last);
  const paging = {
    // Meta may leave the cursors out and send `next` alone (the pagingWithoutCursors knob).
    ...(data.length === 0 || world.faults("meta").pagingWithoutCursors
      ? {}
      : { cursors: { before: cursorOf(start), after: last } }),
    ...(data.length > 0 && start + data.length < rows.length
      ? { next: `http://${req.headers.host ?? "localhost"}/meta${req.path}?${next.toString()}` }
      : {}),
  };
  return {
    status: 200,
    headers: usageHeaders(world, account),
    body: { data, ...(Object.keys(paging).length > 0 ? { paging } : {}) },
  };
}

export const metaSandbox: PlatformSandbox = {
  provider: "meta",

  isReportingRequest: (req) => req.method === "GET" && ROUTE.exec(req.path)?.[4] !== undefined,

  subjectOf(req) {
    const accountId = ROUTE.exec(req.path)?.[3];
    const token = tokenOf(req);
    return {
      ...(accountId === undefined ? {} : { accountId }),
      ...(token === undefined ? {} : { accessToken: token }),
    };
  },

  handle(req, world) {
    const route = ROUTE.exec(req.path);
    if (!route) {
      return graphError(400, { message: `Unknown path components: ${req.path}`, code: 2500 });
    }
    const [, version = "", major = "0", accountId = "", edge] = route;
    if (Number(major) < OLDEST_MAJOR_VERSION) {
      return graphError(400, {
        message: `(#2635) You are calling a deprecated version of the Ads API (${version}). Please update to the latest version.`,
        code: 2635,
      });
    }
    const rejected = rejectToken(req, world);
    if (rejected) {
      return rejected;
    }
    const account = /^\d+$/.test(accountId) ? world.account("meta", accountId) : undefined;
    if (!account || req.method !== "GET") {
      return unsupportedRequest(req.method, `act_${accountId}`);
    }
    if (world.faults("meta").forbiddenAccounts?.includes(account.id)) {
      return graphError(403, {
        message: "(#200) Ad account owner has NOT grant ads_management or ads_read permission",
        code: 200,
      });
    }
    if (!edge) {
      return { ...accountNode(req, account), headers: usageHeaders(world, account) };
    }
    return insights(req, world, account);
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
