/**
 * Google Ads in the sandbox: REST `POST /{version}/customers/{cid}/googleAds:searchStream`,
 * `GET /{version}/customers:listAccessibleCustomers` and the OAuth token endpoint `POST /token`
 * (refresh_token grant), answering as Google does:
 * - searchStream: a JSON array of batches of at most 10,000 rows, proto3 JSON (camelCase keys,
 *   int64 as strings, zero, empty and false values omitted), only the selected fields;
 * - manager hierarchies: the world's accounts with `parents` are reached through their managers
 *   only (`customer_client`, `login-customer-id`), the others directly; hidden accounts are not
 *   reachable, disabled ones are CANCELED;
 * - errors: `google.rpc.Status` bodies with a `GoogleAdsFailure` detail
 *   (https://developers.google.com/google-ads/api/docs/best-practices/understand-api-errors);
 * - token errors: RFC 6749 §5.2 bodies, `invalid_grant` exactly as Google words it;
 * - daily metrics only for the customer's last 37 months (`DAILY_RETENTION_MONTHS`).
 * Enough GAQL is parsed to honour the selected fields and the `segments.date` range.
 */
import { randomBytes } from "node:crypto";

import type { PlatformSandbox, SandboxReply, SandboxRequest } from "./platform";
import { type SandboxAccount, type SandboxWorld } from "./world";

/** The OAuth client the sandbox token endpoint accepts; configure the adapter with it. */
export const GOOGLE_SANDBOX_CLIENT = {
  clientId: "sandbox-client.apps.googleusercontent.com",
  clientSecret: "GOCSPX-sandbox-client-secret",
} as const;

const SEARCH_STREAM = /^\/v\d+(?:_\d+)?\/customers\/([^/]+)\/googleAds:searchStream$/;
const LIST_ACCESSIBLE = /^\/v\d+(?:_\d+)?\/customers:listAccessibleCustomers$/;
const BATCH_ROWS = 10_000;
/** Google's access tokens: `expires_in` is one second under the hour. */
const ACCESS_TOKEN_SECONDS = 3599;

/** The GAQL fields this sandbox can answer for `FROM campaign` (`customer.*` for `FROM customer`). */
const FIELDS = new Set([
  "customer.id",
  "customer.currency_code",
  "customer.time_zone",
  "campaign.id",
  "campaign.name",
  "campaign.status",
  "segments.date",
  "metrics.impressions",
  "metrics.clicks",
  "metrics.cost_micros",
  "metrics.conversions",
  "metrics.conversions_value",
]);

/** The `customer_client` fields this sandbox can answer (`FROM customer_client`). */
const CUSTOMER_CLIENT_FIELDS = new Set([
  "customer_client.client_customer",
  "customer_client.level",
  "customer_client.manager",
  "customer_client.status",
  "customer_client.descriptive_name",
  "customer_client.currency_code",
  "customer_client.time_zone",
  "customer_client.id",
]);

/**
 * "Metrics with daily, hourly, or weekly segmentation are only available for the last 37 months"
 * (https://developers.google.com/google-ads/api/reference/rpc/v26/DateRangeErrorEnum.DateRangeError),
 * and "all date ranges and time periods are evaluated relative to the serving account's time
 * zone (`customer.time_zone`)" (https://developers.google.com/google-ads/api/docs/query/date-ranges).
 */
const DAILY_RETENTION_MONTHS = 37;
/** The version that introduced REQUESTED_DATE_GRANULARITY_NOT_SUPPORTED; older ones send INVALID_DATE. */
const GRANULARITY_ERROR_SINCE = 24;

const requestId = (): string => randomBytes(16).toString("base64url").slice(0, 22);
const camel = (name: string): string =>
  name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

function header(req: SandboxRequest, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** A `google.rpc.Status` body. */
function status(
  code: number,
  name: string,
  message: string,
  details: unknown[] = [],
): SandboxReply {
  return {
    status: code,
    body: { error: { code, message, status: name, ...(details.length > 0 ? { details } : {}) } },
  };
}

/** The `GoogleAdsFailure` detail Google Ads adds to a Status it raised itself. */
function adsFailure(
  errorCode: Record<string, string>,
  message: string,
  details?: unknown,
): unknown {
  return {
    "@type": "type.googleapis.com/google.ads.googleads.v25.errors.GoogleAdsFailure",
    errors: [{ errorCode, message, ...(details === undefined ? {} : { details }) }],
    requestId: requestId(),
  };
}

const invalidArgument = (errorCode: Record<string, string>, message: string) =>
  status(400, "INVALID_ARGUMENT", "Request contains an invalid argument.", [
    adsFailure(errorCode, message),
  ]);

const queryError = (code: string, message: string) =>
  invalidArgument({ queryError: code }, `Error in query: ${message}`);

const SEE_CONSOLE = "See https://developers.google.com/identity/sign-in/web/devconsole-project.";
const MISSING_CREDENTIALS = `Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. ${SEE_CONSOLE}`;
const INVALID_CREDENTIALS = `Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. ${SEE_CONSOLE}`;

/** What Google's front end answers before Google Ads sees the request. */
function checkToken(req: SandboxRequest, world: SandboxWorld): SandboxReply | undefined {
  const token = /^Bearer (\S+)$/.exec(header(req, "authorization") ?? "")?.[1];
  if (!token) {
    return status(401, "UNAUTHENTICATED", MISSING_CREDENTIALS);
  }
  switch (world.checkAccessToken("google", token)) {
    case "valid":
      return undefined;
    case "expired":
      // An expired token is named in a google.rpc.ErrorInfo.
      return status(401, "UNAUTHENTICATED", INVALID_CREDENTIALS, [
        {
          "@type": "type.googleapis.com/google.rpc.ErrorInfo",
          reason: "ACCESS_TOKEN_EXPIRED",
          domain: "googleapis.com",
          metadata: { service: "googleads.googleapis.com" },
        },
      ]);
    case "revoked":
    case "unknown":
      // A revoked or unknown token gets the bare Status (googleads/googleads-php-lib#671).
      return status(401, "UNAUTHENTICATED", INVALID_CREDENTIALS);
  }
}

type ParsedQuery =
  | { resource: "campaign"; fields: string[]; since: string; until: string }
  | { resource: "customer"; fields: string[] }
  /** `maxLevel`: the `customer_client.level <= n` filter, if any. */
  | { resource: "customer_client"; fields: string[]; maxLevel: number };

/** A real calendar day: JS dates roll "2026-02-30" over to March, GAQL refuses it. */
function isDay(text: string): boolean {
  const date = new Date(`${text}T00:00:00Z`);
  return (
    /^\d{4}-\d{2}-\d{2}$/.test(text) &&
    !Number.isNaN(date.getTime()) &&
    date.toISOString().slice(0, 10) === text
  );
}

/**
 * Enough GAQL for `SELECT … FROM campaign WHERE segments.date BETWEEN 'a' AND 'b'`, for
 * `SELECT customer.… FROM customer` and for `SELECT customer_client.… FROM customer_client
 * [WHERE customer_client.level <= n]`.
 */
function parseQuery(query: unknown): ParsedQuery | SandboxReply {
  const text = typeof query === "string" ? query.trim() : "";
  if (text === "") {
    return queryError("UNEXPECTED_END_OF_QUERY", "unexpected end of query.");
  }
  const select = /^SELECT\s+(.+?)(?:\s+FROM\s+(\S+)(.*))?$/is.exec(text);
  if (!select) {
    return queryError("EXPECTED_SELECT", "SELECT is missing at the beginning of query.");
  }
  const [, fieldList = "", resource, rest = ""] = select;
  if (!resource) {
    return queryError("EXPECTED_FROM", "Missing FROM clause.");
  }
  if (resource !== "campaign" && resource !== "customer" && resource !== "customer_client") {
    return queryError("BAD_RESOURCE_TYPE_IN_FROM_CLAUSE", `Invalid resource '${resource}'.`);
  }
  const fields = fieldList.split(",").map((field) => field.trim());
  const unknown = fields.find((field) =>
    resource === "customer_client"
      ? !CUSTOMER_CLIENT_FIELDS.has(field)
      : !FIELDS.has(field) || (resource === "customer" && !field.startsWith("customer.")),
  );
  if (unknown !== undefined) {
    return queryError("UNRECOGNIZED_FIELD", `Unrecognized field in the query: '${unknown}'.`);
  }
  if (resource === "customer") {
    // The customer resource is one row, the customer itself: no date filter needed.
    return { resource, fields };
  }
  if (resource === "customer_client") {
    return parseLevelFilter(fields, rest);
  }
  const between = /\bsegments\.date\s+BETWEEN\s+'([^']*)'\s+AND\s+'([^']*)'/i.exec(rest);
  if (!between) {
    return fields.includes("segments.date")
      ? queryError("EXPECTED_FILTERS_ON_DATE_RANGE", "Missing filters on date related fields.")
      : queryError("QUERY_ERROR", "the sandbox only serves date-filtered campaign reports.");
  }
  const [, since = "", until = ""] = between;
  if (!isDay(since) || !isDay(until)) {
    return queryError(
      "INVALID_VALUE_WITH_BETWEEN_OPERATOR",
      `Invalid date value in BETWEEN: '${isDay(since) ? until : since}'.`,
    );
  }
  if (since > until) {
    return queryError("DATE_RANGE_TOO_NARROW", "Start date is after end date.");
  }
  return { resource, fields, since, until };
}

/** `WHERE customer_client.level <= n`, or no filter: every level. */
function parseLevelFilter(fields: string[], rest: string): ParsedQuery | SandboxReply {
  const where = rest.trim();
  const filter = /^WHERE\s+customer_client\.level\s*<=\s*(\d+)$/i.exec(where);
  if (where !== "" && !filter) {
    return queryError("QUERY_ERROR", "the sandbox only filters customer_client on level <= n.");
  }
  return { resource: "customer_client", fields, maxLevel: filter ? Number(filter[1]) : Infinity };
}

/**
 * The same calendar day `months` months before `day`, or that month's last day when it is
 * shorter (37 months before 2026-03-31 is 2023-02-28). Google does not say where in the first
 * month its window starts; the sandbox serves that whole day and no earlier one.
 */
function monthsBefore(day: string, months: number): string {
  const [year = 0, month = 1, date = 1] = day.split("-").map(Number);
  // Day 0 of the next month is the last day of the month the window starts in.
  const start = new Date(Date.UTC(year, month - months, 0));
  start.setUTCDate(Math.min(date, start.getUTCDate()));
  return start.toISOString().slice(0, 10);
}

/**
 * Google's answer to a query reaching before the customer's last 37 months: the whole query
 * fails, in v24 and later with `REQUESTED_DATE_GRANULARITY_NOT_SUPPORTED`, before with
 * `INVALID_DATE` (https://developers.google.com/google-ads/api/docs/reporting/segmentation).
 * Every campaign report this sandbox serves is daily, so the rule covers all of them.
 */
function beyondRetention(
  req: SandboxRequest,
  account: SandboxAccount,
  since: string,
  world: SandboxWorld,
): SandboxReply | undefined {
  if (since >= monthsBefore(world.today(account), DAILY_RETENTION_MONTHS)) {
    return undefined;
  }
  const version = Number(/^\/v(\d+)/.exec(req.path)?.[1]);
  return version >= GRANULARITY_ERROR_SINCE
    ? invalidArgument(
        { dateRangeError: "REQUESTED_DATE_GRANULARITY_NOT_SUPPORTED" },
        "The requested time granularity is not supported for the date range in the query. Metrics with daily, hourly, or weekly segmentation are only available for the last 37 months.",
      )
    : invalidArgument({ dateRangeError: "INVALID_DATE" }, "Invalid date.");
}

type RestRow = Record<string, Record<string, unknown>>;

/**
 * A row in REST form restricted to the selected fields (plus resource names); proto3 JSON
 * leaves fields at their default value (0, "", false) out.
 */
function project(full: RestRow, fields: readonly string[]): RestRow {
  const row: RestRow = {};
  for (const field of fields) {
    const [resource = "", name = ""] = field.split(".").map(camel);
    const value = full[resource]?.[name];
    const target = (row[resource] ??= {});
    const resourceName = full[resource]?.resourceName;
    if (resourceName !== undefined) {
      target.resourceName = resourceName;
    }
    if (value !== 0 && value !== "0" && value !== "" && value !== false) {
      target[name] = value;
    }
  }
  return row;
}

/** One campaign-day in REST form, restricted to the selected fields. */
function renderRow(
  account: SandboxAccount,
  campaign: { id: string; name: string },
  date: string,
  fields: readonly string[],
  world: SandboxWorld,
): RestRow {
  const metrics = world.metrics(account, campaign.id, date);
  const full: RestRow = {
    customer: {
      resourceName: `customers/${account.id}`,
      id: account.id,
      currencyCode: account.currency,
      timeZone: account.timeZone,
    },
    campaign: {
      resourceName: `customers/${account.id}/campaigns/${campaign.id}`,
      id: campaign.id,
      name: campaign.name,
      status: "ENABLED",
    },
    segments: { date },
    metrics: {
      impressions: String(metrics.impressions),
      clicks: String(metrics.clicks),
      costMicros: String(metrics.spendMicros),
      conversions: metrics.conversions,
      // A double in currency units, as Google sends it.
      conversionsValue: Number(metrics.conversionValueMicros) / 1_000_000,
    },
  };
  return project(full, fields);
}

/** Neither the account nor a manager above it is hidden from the login (`world.reveal`). */
function visible(account: SandboxAccount, world: SandboxWorld): boolean {
  return (
    !account.hidden &&
    (account.parents ?? []).every((parent) => world.account("google", parent)?.hidden !== true)
  );
}

/**
 * `FROM customer_client` on `account`: "a link between the given customer and a client
 * customer … All direct and indirect client customers are included, as well as the manager
 * itself", `level` being the "distance between given customer and client. For self link, the
 * level value will be 0" (https://developers.google.com/google-ads/api/reference/rpc/v25/CustomerClient).
 * A client account answers its own level-0 row.
 */
function customerClientRows(
  account: SandboxAccount,
  query: Extract<ParsedQuery, { resource: "customer_client" }>,
  world: SandboxWorld,
): RestRow[] {
  const below = account.manager
    ? world.accounts.flatMap((client) => {
        const at = client.provider === "google" ? (client.parents ?? []).indexOf(account.id) : -1;
        return at >= 0 && visible(client, world)
          ? [{ client, level: (client.parents?.length ?? 0) - at }]
          : [];
      })
    : [];
  return [{ client: account, level: 0 }, ...below]
    .filter(({ level }) => level <= query.maxLevel)
    .map(({ client, level }) =>
      project(
        {
          customerClient: {
            resourceName: `customers/${account.id}/customerClients/${client.id}`,
            clientCustomer: `customers/${client.id}`,
            level: String(level),
            manager: client.manager === true,
            // The world's disabled accounts were canceled (an admin can reactivate them).
            status: client.disabled ? "CANCELED" : "ENABLED",
            descriptiveName: client.name,
            currencyCode: client.currency,
            timeZone: client.timeZone,
            id: client.id,
          },
        },
        query.fields,
      ),
    );
}

/**
 * The answer to a login that reaches `account` no way it asked for, in Google's own words
 * (https://developers.google.com/google-ads/api/reference/rpc/v25/AuthorizationErrorEnum.AuthorizationError).
 */
const userPermissionDenied = (): SandboxReply =>
  status(403, "PERMISSION_DENIED", "The caller does not have permission", [
    adsFailure(
      { authorizationError: "USER_PERMISSION_DENIED" },
      "User doesn't have permission to access customer. Note: If you're accessing a client customer, the manager's customer id must be set in the 'login-customer-id' header. See https://developers.google.com/google-ads/api/docs/concepts/call-structure#cid",
    ),
  ]);

/**
 * Whether the login reaches `account` as the request says: a hidden account not at all; one
 * below managers (`parents`) only with one of them as `login-customer-id` ("If you're accessing
 * a client customer, the manager's customer id must be set in the 'login-customer-id' header");
 * one granted directly whatever the header says, as before hierarchies existed.
 */
function reaches(account: SandboxAccount, login: string | undefined, world: SandboxWorld): boolean {
  if (!visible(account, world)) {
    return false;
  }
  const parents = account.parents ?? [];
  return parents.length === 0 || (login !== undefined && parents.includes(login));
}

/** A canceled, suspended or closed customer, as Google refuses it to every query. */
const customerNotEnabled = (): SandboxReply =>
  status(403, "PERMISSION_DENIED", "The caller does not have permission", [
    adsFailure(
      { authorizationError: "CUSTOMER_NOT_ENABLED" },
      "The customer can't be used because it isn't enabled.",
    ),
  ]);

/** A searchStream answer: `rows` in batches of at most 10,000, one batch when there are none. */
function stream(rows: readonly RestRow[], fields: readonly string[]): SandboxReply {
  const id = requestId();
  const fieldMask = fields.map((field) => field.split(".").map(camel).join(".")).join(",");
  const batches = [];
  for (let start = 0; start === 0 || start < rows.length; start += BATCH_ROWS) {
    const results = rows.slice(start, start + BATCH_ROWS);
    batches.push({ ...(results.length > 0 ? { results } : {}), fieldMask, requestId: id });
  }
  return { status: 200, body: batches };
}

/**
 * `GET /{version}/customers:listAccessibleCustomers`: "Resource name of customers directly
 * accessible by the user authenticating the call"
 * (https://developers.google.com/google-ads/api/reference/rpc/v25/ListAccessibleCustomersResponse):
 * top managers and directly granted clients, canceled ones included; an empty list is left out.
 */
function listAccessibleCustomers(req: SandboxRequest, world: SandboxWorld): SandboxReply {
  const unauthenticated = checkToken(req, world);
  if (unauthenticated) {
    return unauthenticated;
  }
  const resourceNames = world
    .reachable("google")
    .filter((account) => (account.parents ?? []).length === 0)
    .map((account) => `customers/${account.id}`);
  return { status: 200, body: resourceNames.length > 0 ? { resourceNames } : {} };
}

function searchStream(req: SandboxRequest, world: SandboxWorld): SandboxReply {
  const unauthenticated = checkToken(req, world);
  if (unauthenticated) {
    return unauthenticated;
  }
  const [, cid = ""] = SEARCH_STREAM.exec(req.path) ?? [];
  if (!/^\d{10}$/.test(cid)) {
    return invalidArgument(
      { requestError: "INVALID_CUSTOMER_ID" },
      `Invalid customer ID '${cid}'.`,
    );
  }
  const login = header(req, "login-customer-id");
  if (login !== undefined && !/^\d{10}$/.test(login)) {
    return invalidArgument(
      { headerError: "INVALID_LOGIN_CUSTOMER_ID" },
      "The login customer ID could not be validated.",
    );
  }
  if (typeof req.body !== "object" || req.body === null) {
    // Google's front end rejects a body that is not JSON before Google Ads sees it.
    return status(400, "INVALID_ARGUMENT", "Invalid JSON payload received. Unexpected token.");
  }
  const parsed = parseQuery((req.body as { query?: unknown }).query);
  if ("status" in parsed) {
    return parsed;
  }
  const account = world.account("google", cid);
  if (!account) {
    // AuthenticationError codes travel as UNAUTHENTICATED, though this one is about the account.
    return status(401, "UNAUTHENTICATED", INVALID_CREDENTIALS, [
      adsFailure(
        { authenticationError: "CUSTOMER_NOT_FOUND" },
        "No customer found for the provided customer ID.",
      ),
    ]);
  }
  if (!reaches(account, login, world) || world.faults("google").forbiddenAccounts?.includes(cid)) {
    return userPermissionDenied();
  }
  if (account.disabled) {
    return customerNotEnabled();
  }
  if (parsed.resource === "customer") {
    return stream(
      [renderRow(account, { id: "", name: "" }, "", parsed.fields, world)],
      parsed.fields,
    );
  }
  if (parsed.resource === "customer_client") {
    return stream(customerClientRows(account, parsed, world), parsed.fields);
  }
  if (account.manager && parsed.fields.some((field) => field.startsWith("metrics."))) {
    // https://developers.google.com/google-ads/api/reference/rpc/v25/QueryErrorEnum.QueryError
    return invalidArgument(
      { queryError: "REQUESTED_METRICS_FOR_MANAGER" },
      "Metrics cannot be requested for a manager account. To retrieve metrics, issue separate requests against each client account under the manager account.",
    );
  }
  const tooOld = beyondRetention(req, account, parsed.since, world);
  if (tooOld) {
    return tooOld;
  }
  // A day that has not started for the customer has no data yet.
  const days = world.reportedDays(account, parsed.since, parsed.until);
  const campaigns = world.campaigns(account);
  world.queryTooLarge("google", account.id, parsed, days.length * campaigns.length);
  const rows = days.flatMap((date) =>
    campaigns.map((campaign) => renderRow(account, campaign, date, parsed.fields, world)),
  );
  return stream(rows, parsed.fields);
}

const oauthError = (httpStatus: number, error: string, description: string): SandboxReply => ({
  status: httpStatus,
  body: { error, error_description: description },
});

/** The refresh_token grant of https://oauth2.googleapis.com/token (form-encoded). */
function token(req: SandboxRequest, world: SandboxWorld): SandboxReply {
  const form = (req.body ?? {}) as Record<string, string | undefined>;
  if (!header(req, "content-type")?.includes("application/x-www-form-urlencoded")) {
    return oauthError(400, "invalid_request", "Invalid content type.");
  }
  if (form.grant_type !== "refresh_token") {
    return oauthError(
      400,
      "unsupported_grant_type",
      `Invalid grant_type: ${form.grant_type ?? ""}`,
    );
  }
  if (!form.client_id) {
    return oauthError(400, "invalid_request", "Could not determine client ID from request.");
  }
  if (form.client_id !== GOOGLE_SANDBOX_CLIENT.clientId) {
    return oauthError(401, "invalid_client", "The OAuth client was not found.");
  }
  if (!form.client_secret) {
    return oauthError(400, "invalid_request", "client_secret is missing.");
  }
  if (form.client_secret !== GOOGLE_SANDBOX_CLIENT.clientSecret) {
    return oauthError(401, "invalid_client", "Unauthorized");
  }
  if (!form.refresh_token) {
    return oauthError(400, "invalid_request", "Missing required parameter: refresh_token");
  }
  const issued = world.refresh("google", form.refresh_token, ACCESS_TOKEN_SECONDS * 1000);
  if (issued === "revoked") {
    return oauthError(400, "invalid_grant", "Token has been expired or revoked.");
  }
  if (issued === "unknown") {
    return oauthError(400, "invalid_grant", "Bad Request");
  }
  return {
    status: 200,
    body: {
      access_token: issued.accessToken,
      expires_in: ACCESS_TOKEN_SECONDS,
      scope: "https://www.googleapis.com/auth/adwords",
      token_type: "Bearer",
    },
  };
}

/**
 * RESOURCE_EXHAUSTED as Google answers a spent quota, the one named by `rateScope` and
 * `rateName`: the real body of PipedreamHQ/pipedream#21554 for the project's (DEVELOPER) quota;
 * Google sends no Retry-After header. Duration JSON has 0, 3, 6 or 9 fractional digits.
 * https://developers.google.com/google-ads/api/reference/rpc/v26/QuotaErrorDetails
 */
function quotaExhausted(
  retryAfterSeconds: number,
  rateScope: "ACCOUNT" | "DEVELOPER",
  rateName: string,
): SandboxReply {
  const delay = Number.isInteger(retryAfterSeconds)
    ? `${retryAfterSeconds}s`
    : `${retryAfterSeconds.toFixed(3)}s`;
  return status(429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).", [
    adsFailure(
      { quotaError: "RESOURCE_EXHAUSTED" },
      `Too many requests. Retry in ${retryAfterSeconds} seconds.`,
      { quotaErrorDetails: { rateScope, rateName, retryDelay: delay } },
    ),
  ]);
}

export const googleSandbox: PlatformSandbox = {
  provider: "google",

  isReportingRequest: (req) => SEARCH_STREAM.test(req.path),

  subjectOf(req) {
    const customer = SEARCH_STREAM.exec(req.path)?.[1];
    const token = /^Bearer (\S+)$/.exec(header(req, "authorization") ?? "")?.[1];
    return {
      ...(customer === undefined ? {} : { accountId: customer }),
      ...(token === undefined ? {} : { accessToken: token }),
    };
  },

  handle(req, world) {
    if (req.method === "POST" && req.path === "/token") {
      return token(req, world);
    }
    if (req.method === "POST" && SEARCH_STREAM.test(req.path)) {
      return searchStream(req, world);
    }
    if (req.method === "GET" && LIST_ACCESSIBLE.test(req.path)) {
      return listAccessibleCustomers(req, world);
    }
    // Google's front end answers unknown routes with an HTML 404, not a Status.
    return { status: 404, body: "<!DOCTYPE html><title>Error 404 (Not Found)!!1</title>" };
  },

  rateLimited: (retryAfterSeconds) =>
    quotaExhausted(retryAfterSeconds, "DEVELOPER", "Number of operations for basic access"),

  throttled(scope, retryAfterSeconds) {
    switch (scope) {
      case "app":
        return googleSandbox.rateLimited(retryAfterSeconds);
      case "account":
        // "Requests per account" is Google's own example of a rate name.
        return quotaExhausted(retryAfterSeconds, "ACCOUNT", "Requests per account");
      case "member":
        // Google Ads counts no quota per user token.
        return undefined;
    }
  },

  serverError() {
    return status(500, "INTERNAL", "Internal error encountered.", [
      adsFailure({ internalError: "INTERNAL_ERROR" }, "An internal error has occurred."),
    ]);
  },
};
