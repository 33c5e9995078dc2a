/**
 * LinkedIn Marketing API sandbox, under `/linkedin`:
 * - `GET /rest/adAccounts?q=search` (the accounts the member has a role on: not hidden ones),
 *   `GET /rest/adAccounts/{id}`, `GET /rest/adAccounts/{id}/adCampaigns?q=search` (both finders
 *   in cursor pages: `pageSize`, `pageToken`, `metadata.nextPageToken`) and
 *   `GET /rest/adAnalytics?q=analytics&pivot=CAMPAIGN&timeGranularity=DAILY`, which has no paging
 *   and silently truncates at `maxElements` (LinkedIn: 15,000);
 * - `POST /oauth/v2/accessToken` (form-encoded refresh_token grant; the refresh token lives 365
 *   days from the consent, and an access token minted late in that year ends with it) and
 *   `POST /oauth/v2/introspectToken`.
 * Requests are checked as LinkedIn does — Bearer token, `LinkedIn-Version` present and active,
 * Rest.li 2.0 syntax of the structured parameters (which needs `X-Restli-Protocol-Version: 2.0.0`)
 * — and answered with LinkedIn's error bodies. Data comes from `world.metrics`, reported in UTC,
 * for the last 10 years only (`reportedSince`).
 */
import { z } from "zod";

import type { PlatformSandbox, SandboxReply, SandboxRequest } from "./platform";
import {
  daysBetween,
  decimalOf,
  type SandboxAccount,
  type SandboxWorld,
  type TokenRecord,
} from "./world";

const DAY_MS = 86_400_000;
const ACCESS_TOKEN_LIFETIME_MS = 60 * DAY_MS;
const REFRESH_TOKEN_LIFETIME_MS = 365 * DAY_MS;
const DEFAULT_PAGE_SIZE = 100;
const MAX_PAGE_SIZE = 1000;
const CAMPAIGN_STATUSES = ["ACTIVE", "PAUSED", "ARCHIVED", "COMPLETED"];
/** Without a `fields` projection adAnalytics returns only impressions and clicks. */
const DEFAULT_FIELDS = ["dateRange", "pivotValues", "impressions", "clicks"];

// ---- Rest.li 2.0 parameter syntax -------------------------------------------------------------

type Restli = string | Restli[] | { [key: string]: Restli };

/** A value that is not valid syntax: every schema refuses it, so it reads as an invalid parameter. */
const MALFORMED = Symbol("malformed");

class RestliSyntaxError extends Error {}

function decode(text: string): string | typeof MALFORMED {
  try {
    return decodeURIComponent(text);
  } catch {
    return MALFORMED;
  }
}

/**
 * Parses one Rest.li 2.0 value: `List(a,b)`, `(key:value,…)` or a URL-encoded primitive, in which
 * the structural characters must not appear bare (a bare `:` inside a URN is a syntax error).
 */
function parseRestli(text: string): Restli | typeof MALFORMED {
  let at = 0;
  const expect = (char: string) => {
    if (text[at] !== char) {
      throw new RestliSyntaxError(`expected "${char}" at ${at}`);
    }
    at += 1;
  };
  const primitive = (): string => {
    const start = at;
    while (at < text.length && !"(),:".includes(text[at] ?? "")) {
      at += 1;
    }
    const decoded = decode(text.slice(start, at));
    if (decoded === MALFORMED) {
      throw new RestliSyntaxError(`bad escape at ${start}`);
    }
    return decoded;
  };
  const items = <T>(item: () => T): T[] => {
    const out: T[] = [];
    while (text[at] !== ")") {
      if (out.length > 0) {
        expect(",");
      }
      out.push(item());
    }
    expect(")");
    return out;
  };
  const value = (): Restli => {
    if (text.startsWith("List(", at)) {
      at += "List(".length;
      return items(value);
    }
    if (text[at] === "(") {
      at += 1;
      return Object.fromEntries(
        items(() => {
          const key = primitive();
          expect(":");
          return [key, value()] as const;
        }),
      );
    }
    return primitive();
  };
  try {
    const parsed = value();
    return at === text.length ? parsed : MALFORMED;
  } catch (error) {
    if (error instanceof RestliSyntaxError) {
      return MALFORMED;
    }
    throw error;
  }
}

/** The raw query parameters; structured ones are parsed only under protocol 2.0.0. */
function queryOf(req: SandboxRequest): {
  raw: (name: string) => string | undefined;
  value: (name: string) => Restli | typeof MALFORMED | undefined;
} {
  const params = new Map<string, string>();
  for (const pair of req.rawQuery.split("&").filter(Boolean)) {
    const split = pair.indexOf("=");
    const name = decode(split < 0 ? pair : pair.slice(0, split));
    if (name !== MALFORMED) {
      params.set(name, split < 0 ? "" : pair.slice(split + 1));
    }
  }
  const restli2 = req.headers["x-restli-protocol-version"] === "2.0.0";
  return {
    raw: (name) => params.get(name),
    value: (name) => {
      const raw = params.get(name);
      if (raw === undefined) {
        return undefined;
      }
      // Protocol 1.0 has no `(…)`/`List(…)` syntax: the whole value is one string.
      return restli2 ? parseRestli(raw) : decode(raw);
    },
  };
}

// ---- LinkedIn's answers -------------------------------------------------------------------------

/** `{"status":…,"serviceErrorCode":…,"code":…,"message":…}`, the REST API's error body. */
function apiError(
  status: number,
  message: string,
  extra: { serviceErrorCode?: number; code?: string } = {},
): SandboxReply {
  return { status, body: { status, ...extra, message } };
}

/** Rest.li's parameter errors, e.g. `{"message":"Parameter 'accounts' is required","status":400}`. */
const paramError = (name: string, problem: "required" | "invalid"): SandboxReply =>
  apiError(400, `Parameter '${name}' is ${problem}`);

const oauthError = (status: number, error: string, description: string): SandboxReply => ({
  status,
  body: { error, error_description: description },
});

/** LinkedIn names versions by their first day in messages: 202401 → "20240101". */
function versionDate(version: string): string {
  const match = /^(\d{6})(?:\.(\d{2}))?$/.exec(version);
  return match ? `${match[1]}${match[2] ?? "01"}` : version;
}

/**
 * Monthly versions are served from their month for a year; the sunset dates LinkedIn publishes
 * fall mid-month a year on (202601 → 2027-01-15), approximated as the 15th.
 */
function isActiveVersion(version: string, now: number): boolean {
  const match = /^(\d{4})(\d{2})(?:\.\d{2})?$/.exec(version);
  const year = Number(match?.[1]);
  const month = Number(match?.[2]);
  if (!match || month < 1 || month > 12) {
    return false;
  }
  return Date.UTC(year, month - 1, 1) <= now && now < Date.UTC(year + 1, month - 1, 15);
}

function authenticate(req: SandboxRequest, world: SandboxWorld): SandboxReply | undefined {
  const header = req.headers.authorization;
  if (!header) {
    return apiError(401, "Empty oauth2_access_token", { serviceErrorCode: 401 });
  }
  if (!header.startsWith("Bearer ")) {
    return apiError(401, "Unknown authentication scheme", { serviceErrorCode: 401 });
  }
  switch (world.checkAccessToken("linkedin", header.slice("Bearer ".length))) {
    case "valid":
      return undefined;
    case "unknown":
      return apiError(401, "Invalid access token", {
        serviceErrorCode: 65600,
        code: "INVALID_ACCESS_TOKEN",
      });
    case "expired":
      return apiError(401, "The token used in the request has expired", {
        serviceErrorCode: 65602,
        code: "EXPIRED_ACCESS_TOKEN",
      });
    case "revoked":
      return apiError(401, "The token used in the request has been revoked by the user", {
        serviceErrorCode: 65601,
        code: "REVOKED_ACCESS_TOKEN",
      });
  }
}

function checkVersion(req: SandboxRequest, now: number): SandboxReply | undefined {
  const version = req.headers["linkedin-version"];
  if (typeof version !== "string" || version === "") {
    return apiError(
      400,
      "A version must be present. Please specify a version by adding the LinkedIn-Version header.",
      { code: "VERSION_MISSING" },
    );
  }
  if (!isActiveVersion(version, now)) {
    return apiError(426, `Requested version ${versionDate(version)} is not active`, {
      code: "NONEXISTENT_VERSION",
    });
  }
  return undefined;
}

/**
 * Whether the member may read the account: it is reachable (not hidden) and not one the
 * `forbiddenAccounts` knob takes away.
 */
const memberCanRead = (world: SandboxWorld, account: SandboxAccount): boolean =>
  !account.hidden && !world.faults("linkedin").forbiddenAccounts?.includes(account.id);

/** The account, or LinkedIn's answer for one that does not exist or the user may not read. */
function readableAccount(
  world: SandboxWorld,
  id: string,
  resource: string,
  req: SandboxRequest,
): { account: SandboxAccount } | { denied: SandboxReply } {
  const account = world.account("linkedin", id);
  if (!account) {
    return {
      denied: apiError(404, `Not found: urn:li:sponsoredAccount:${id}`, { code: "NOT_FOUND" }),
    };
  }
  if (!memberCanRead(world, account)) {
    const version = versionDate(String(req.headers["linkedin-version"]));
    return {
      denied: apiError(403, `Not enough permissions to access: ${resource}.${version}`, {
        serviceErrorCode: 100,
        code: "ACCESS_DENIED",
      }),
    };
  }
  return { account };
}

// ---- Resources ----------------------------------------------------------------------------------

/**
 * An ad account as LinkedIn renders it: a disabled one is CANCELED ("permanently canceled") and
 * no longer servable
 * (https://learn.microsoft.com/en-us/linkedin/marketing/integrations/ads/account-structure/create-and-manage-accounts).
 */
function renderAccount(account: SandboxAccount): Record<string, unknown> {
  return {
    currency: account.currency,
    id: Number(account.id),
    name: account.name,
    reference: "urn:li:organization:2414183",
    servingStatuses: account.disabled ? ["STOPPED"] : ["RUNNABLE"],
    status: account.disabled ? "CANCELED" : "ACTIVE",
    test: false,
    type: "BUSINESS",
    version: { versionTag: "1" },
  };
}

function adAccount(req: SandboxRequest, world: SandboxWorld, id: string): SandboxReply {
  const access = readableAccount(world, id, "adAccounts.GET", req);
  if ("denied" in access) {
    return access.denied;
  }
  return { status: 200, body: renderAccount(access.account) };
}

/** Page tokens are opaque to clients; here they carry the offset of the next page. */
const pageToken = (offset: number): string =>
  Buffer.from(JSON.stringify({ offset })).toString("base64url");

function pageOffset(token: string): number | undefined {
  try {
    const decoded: unknown = JSON.parse(
      Buffer.from(decodeURIComponent(token), "base64url").toString(),
    );
    return z.object({ offset: z.number().int().min(0) }).safeParse(decoded).data?.offset;
  } catch {
    return undefined;
  }
}

/**
 * One cursor page of a search finder's results: `pageSize` (default 100, at most 1000) from
 * `pageToken` on, and `metadata.nextPageToken` while more are left
 * (https://learn.microsoft.com/en-us/linkedin/marketing/integrations/ads/cursor-based-pagination).
 */
function cursorPage(query: ReturnType<typeof queryOf>, items: readonly unknown[]): SandboxReply {
  const pageSize = Number(query.raw("pageSize") ?? DEFAULT_PAGE_SIZE);
  if (!Number.isInteger(pageSize) || pageSize < 1) {
    return paramError("pageSize", "invalid");
  }
  if (pageSize > MAX_PAGE_SIZE) {
    return apiError(400, `Specified count is larger than ${MAX_PAGE_SIZE}`);
  }
  const token = query.raw("pageToken");
  const offset = token === undefined ? 0 : pageOffset(token);
  if (offset === undefined) {
    return paramError("pageToken", "invalid");
  }
  const elements = items.slice(offset, offset + pageSize);
  const next = offset + pageSize < items.length ? offset + pageSize : undefined;
  return {
    status: 200,
    body: {
      elements,
      metadata: next === undefined ? {} : { nextPageToken: pageToken(next) },
    },
  };
}

/** `search=(status:(values:List(…)))`: a finder's status criterion. */
const statusCriterion = z.object({ values: z.array(z.string()) }).optional();

/**
 * The ad accounts the member has a role on (managers and hidden accounts are not), filtered by
 * the `status` criterion when there is one. Other criteria LinkedIn documents (id, name,
 * reference, type, test) are not rendered: refused as invalid rather than silently ignored.
 */
function adAccountsSearch(req: SandboxRequest, world: SandboxWorld): SandboxReply {
  const query = queryOf(req);
  if (query.raw("q") !== "search") {
    return paramError("q", query.raw("q") === undefined ? "required" : "invalid");
  }
  const search = z
    .strictObject({ status: statusCriterion })
    .optional()
    .safeParse(query.value("search"));
  if (!search.success) {
    return paramError("search", "invalid");
  }
  const statuses = search.data?.status?.values;
  const accounts = world
    .reachable("linkedin")
    .filter((account) => !account.manager)
    .map(renderAccount)
    .filter((account) => statuses === undefined || statuses.includes(String(account.status)));
  return cursorPage(query, accounts);
}

function adCampaigns(req: SandboxRequest, world: SandboxWorld, id: string): SandboxReply {
  const access = readableAccount(world, id, "adCampaigns.FINDER-search", req);
  if ("denied" in access) {
    return access.denied;
  }
  const { account } = access;
  const query = queryOf(req);
  if (query.raw("q") !== "search") {
    return paramError("q", query.raw("q") === undefined ? "required" : "invalid");
  }
  const search = z.object({ status: statusCriterion }).optional().safeParse(query.value("search"));
  if (!search.success) {
    return paramError("search", "invalid");
  }
  const statuses = search.data?.status?.values;
  const campaigns = world
    .campaigns(account)
    .map((campaign, index) => ({
      account: `urn:li:sponsoredAccount:${account.id}`,
      costType: "CPM",
      id: Number(campaign.id),
      name: campaign.name,
      status: CAMPAIGN_STATUSES[index % CAMPAIGN_STATUSES.length] ?? "ACTIVE",
      type: "SPONSORED_UPDATES",
    }))
    .filter((campaign) => statuses === undefined || statuses.includes(campaign.status));
  return cursorPage(query, campaigns);
}

const calendarDaySchema = z.object({
  year: z.string().regex(/^\d{4}$/),
  month: z.string().regex(/^\d{1,2}$/),
  day: z.string().regex(/^\d{1,2}$/),
});

/** A Rest.li `(year:…,month:…,day:…)` as `YYYY-MM-DD`, or undefined when it is no real date. */
function dayOf(value: unknown): string | undefined {
  const parsed = calendarDaySchema.safeParse(value);
  if (!parsed.success) {
    return undefined;
  }
  const { year, month, day } = parsed.data;
  const date = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day)));
  const iso = date.toISOString().slice(0, 10);
  return iso === `${year}-${month.padStart(2, "0")}-${day.padStart(2, "0")}` ? iso : undefined;
}

/**
 * The oldest UTC day adAnalytics reports performance metrics for: "The retention period for data
 * depends on the type of request", 10 years for performance metrics (2 for professional
 * demographic pivots, which the sandbox does not serve). LinkedIn documents no error for older
 * days, only that "an empty response is returned if there's no activity to report", so they
 * get no elements, as days without activity do
 * (https://learn.microsoft.com/en-us/linkedin/marketing/integrations/ads-reporting/ads-reporting).
 */
function reportedSince(today: string): string {
  const tenYearsBefore = `${Number(today.slice(0, 4)) - 10}${today.slice(4)}`;
  // Ten years before a Feb 29 falls in a year without one.
  return tenYearsBefore.endsWith("-02-29") ? tenYearsBefore.replace(/29$/, "28") : tenYearsBefore;
}

/** BigDecimal text as LinkedIn prints it, sometimes with binary-float noise past the cents. */
function bigDecimal(micros: bigint, noisy: boolean): string {
  const text = decimalOf(micros, 2);
  return noisy ? `${text}00000000000000335346` : text;
}

function adAnalytics(req: SandboxRequest, world: SandboxWorld, maxElements: number): SandboxReply {
  const query = queryOf(req);
  const fixed = { q: "analytics", pivot: "CAMPAIGN", timeGranularity: "DAILY" };
  for (const [name, expected] of Object.entries(fixed)) {
    const raw = query.raw(name);
    if (raw !== expected) {
      return paramError(name, raw === undefined ? "required" : "invalid");
    }
  }
  const dateRange = z
    .object({ start: z.unknown(), end: z.unknown().optional() })
    .safeParse(query.value("dateRange"));
  const since = dayOf(dateRange.data?.start);
  // LinkedIn's end defaults to today.
  const until =
    dateRange.data?.end === undefined
      ? new Date().toISOString().slice(0, 10)
      : dayOf(dateRange.data.end);
  if (!since || !until || since > until) {
    return paramError("dateRange", query.raw("dateRange") === undefined ? "required" : "invalid");
  }
  const accounts = z
    .array(z.string().regex(/^urn:li:sponsoredAccount:\d+$/))
    .min(1)
    .safeParse(query.value("accounts"));
  if (!accounts.success) {
    return paramError("accounts", query.raw("accounts") === undefined ? "required" : "invalid");
  }
  const fields = query.raw("fields")?.split(",") ?? DEFAULT_FIELDS;

  const elements: Array<Record<string, unknown>> = [];
  const days = daysBetween(since, until);
  for (const urn of accounts.data) {
    const account = world.account("linkedin", urn.slice("urn:li:sponsoredAccount:".length));
    // adAnalytics answers an account the caller cannot read with no elements, not an error.
    if (!account || !memberCanRead(world, account)) {
      continue;
    }
    const campaigns = world.campaigns(account);
    world.queryTooLarge(
      "linkedin",
      account.id,
      { since, until },
      days.length * campaigns.length,
      maxElements,
    );
    // LinkedIn reports UTC days: a UTC day that has not started has no data yet, and one past
    // the retention has none any more.
    const today = world.today(account);
    const oldest = reportedSince(today);
    for (const day of days.filter((kept) => kept >= oldest && kept <= today)) {
      const [year, month, dayOfMonth] = day.split("-").map(Number);
      const date = { year, month, day: dayOfMonth };
      for (const campaign of campaigns) {
        const metrics = world.metrics(account, campaign.id, day);
        const noisy = metrics.clicks % 2 === 1;
        const element: Record<string, unknown> = {
          dateRange: { start: date, end: date },
          pivotValues: [`urn:li:sponsoredCampaign:${Number(campaign.id)}`],
          impressions: metrics.impressions,
          clicks: metrics.clicks,
          ...(world.faults("linkedin").omitLocalCost
            ? {}
            : { costInLocalCurrency: bigDecimal(metrics.spendMicros, noisy) }),
          // At a made-up rate of 1.25 for other currencies: a USD figure, never the local one.
          costInUsd: bigDecimal(
            account.currency === "USD" ? metrics.spendMicros : (metrics.spendMicros * 4n) / 5n,
            false,
          ),
          externalWebsiteConversions: metrics.conversions,
          conversionValueInLocalCurrency: bigDecimal(metrics.conversionValueMicros, noisy),
        };
        elements.push(
          Object.fromEntries(Object.entries(element).filter(([name]) => fields.includes(name))),
        );
      }
    }
  }
  return {
    status: 200,
    // No pagination: `paging` is a fixed echo and everything past the cap (or the
    // maxRowsPerQuery knob) is silently dropped.
    body: {
      paging: { start: 0, count: 10, links: [] },
      elements: elements.slice(0, world.rowLimit("linkedin", maxElements)),
    },
  };
}

// ---- OAuth: the refresh grant and introspection ------------------------------------------------

/**
 * The world's record of an access token (`tokens`) or refresh token (`refreshTokens`), and the
 * world's clock. SandboxWorld keeps both private and has no accessor for them yet, so they are
 * read through TypeScript's element access until it has one.
 */
function tokenRecord(
  world: SandboxWorld,
  kind: "tokens" | "refreshTokens",
  token: string,
): TokenRecord | undefined {
  const record = world[kind].get(token);
  return record?.provider === "linkedin" ? record : undefined;
}

const worldNow = (world: SandboxWorld): number => world["now"]();

/**
 * When the member consented, by refresh token. The world restamps a token's record at every
 * refresh, so the consent is kept here from the first refresh on; until then the record's own
 * issue time is the consent.
 */
const consents = new WeakMap<SandboxWorld, Map<string, number>>();

function consentOf(world: SandboxWorld, record: TokenRecord): number {
  const kept =
    record.refreshToken === undefined ? undefined : consents.get(world)?.get(record.refreshToken);
  return kept ?? record.issuedAt;
}

function rememberConsent(world: SandboxWorld, refreshToken: string, consent: number): void {
  const kept = consents.get(world) ?? new Map<string, number>();
  kept.set(refreshToken, consent);
  consents.set(world, kept);
}

const seconds = (ms: number): number => Math.floor(ms / 1000);

/** The form of an OAuth POST with every `required` field, or LinkedIn's answer to a bad one. */
function oauthForm(
  req: SandboxRequest,
  required: readonly string[],
): { form: Record<string, string> } | { refused: SandboxReply } {
  const form = z.record(z.string(), z.string()).safeParse(req.body);
  if (req.method !== "POST" || !form.success) {
    return {
      refused: oauthError(400, "invalid_request", "The request must be a form-encoded POST"),
    };
  }
  const missing = required.find((name) => !form.data[name]);
  return missing === undefined
    ? { form: form.data }
    : {
        refused: oauthError(400, "invalid_request", `A required parameter "${missing}" is missing`),
      };
}

/**
 * The refresh grant: a new 60-day access token, the same refresh token. The refresh token's TTL
 * "remains the same as specified in the initial OAuth flow (365 days)": `refresh_token_expires_in`
 * counts down from the consent, and an access token minted less than 60 days before it ends
 * expires with it ("Day 360 … both expire in 5 days"); after it, the grant is refused
 * (https://learn.microsoft.com/en-us/linkedin/shared/authentication/programmatic-refresh-tokens).
 */
function accessToken(req: SandboxRequest, world: SandboxWorld): SandboxReply {
  const parsed = oauthForm(req, ["grant_type", "refresh_token", "client_id", "client_secret"]);
  if ("refused" in parsed) {
    return parsed.refused;
  }
  const { form } = parsed;
  if (form.grant_type !== "refresh_token") {
    return oauthError(400, "unsupported_grant_type", "The grant type is not supported");
  }
  const refused = oauthError(400, "invalid_grant", "Token has been expired or revoked.");
  const refreshToken = form.refresh_token ?? "";
  const record = tokenRecord(world, "refreshTokens", refreshToken);
  if (!record) {
    return refused;
  }
  const consent = consentOf(world, record);
  const left = consent + REFRESH_TOKEN_LIFETIME_MS - worldNow(world);
  const lifetimeMs = Math.min(ACCESS_TOKEN_LIFETIME_MS, left);
  const issued = left > 0 ? world.refresh("linkedin", refreshToken, lifetimeMs) : "expired";
  if (typeof issued === "string") {
    return refused;
  }
  rememberConsent(world, refreshToken, consent);
  return {
    status: 200,
    body: {
      access_token: issued.accessToken,
      expires_in: seconds(lifetimeMs),
      refresh_token: issued.refreshToken,
      refresh_token_expires_in: seconds(left),
    },
  };
}

/**
 * Token introspection: 200 for any token LinkedIn issued — `active` false with `status`
 * "expired" or "revoked" when it no longer works — and 400 "Invalid client id or token" for one
 * it does not know. The error body is not documented; it is rendered as the token endpoint's.
 * https://learn.microsoft.com/en-us/linkedin/shared/authentication/token-introspection
 */
function introspectToken(req: SandboxRequest, world: SandboxWorld): SandboxReply {
  const parsed = oauthForm(req, ["client_id", "client_secret", "token"]);
  if ("refused" in parsed) {
    return parsed.refused;
  }
  const { form } = parsed;
  const token = form.token ?? "";
  const record = tokenRecord(world, "tokens", token);
  const check = world.checkAccessToken("linkedin", token);
  if (!record || check === "unknown") {
    return oauthError(400, "invalid_request", "Invalid client id or token");
  }
  return {
    status: 200,
    body: {
      active: check === "valid",
      client_id: form.client_id,
      authorized_at: seconds(consentOf(world, record)),
      created_at: seconds(record.issuedAt),
      status: check === "valid" ? "active" : check,
      ...(record.expiresAt === undefined ? {} : { expires_at: seconds(record.expiresAt) }),
      scope: "r_ads,r_ads_reporting",
      auth_type: "3L",
    },
  };
}

export interface LinkedinSandboxOptions {
  /** adAnalytics' silent truncation point (LinkedIn: 15,000); smaller keeps tests fast. */
  maxElements?: number;
  /**
   * The moment (ms since the epoch) `LinkedIn-Version` sunsets are judged at; real time by
   * default. Tests pin it so that a version's sunset cannot fail them on a later calendar date.
   */
  versionsActiveAt?: () => number;
}

/**
 * LinkedIn's throttle answer: HTTP 429 without Retry-After or usage headers, whichever of its
 * daily limits — the application's or the member's — was reached; a wait is only advertised
 * when a test asks for one.
 */
const tooManyRequests = (retryAfterSeconds: number): SandboxReply => ({
  status: 429,
  ...(retryAfterSeconds > 0 ? { headers: { "retry-after": String(retryAfterSeconds) } } : {}),
  body: {
    status: 429,
    serviceErrorCode: 101,
    message: "Resource level throttle limit for calls to this resource is reached.",
  },
});

export function createLinkedinSandbox(options: LinkedinSandboxOptions = {}): PlatformSandbox {
  const maxElements = options.maxElements ?? 15_000;
  const versionsActiveAt = options.versionsActiveAt ?? Date.now;
  return {
    provider: "linkedin",
    isReportingRequest: (req) => req.path.startsWith("/rest/"),
    subjectOf(req) {
      const accountId =
        /^\/rest\/adAccounts\/(\d+)/.exec(req.path)?.[1] ??
        /sponsoredAccount%3A(\d+)/.exec(req.rawQuery)?.[1];
      const token = /^Bearer (\S+)$/.exec(req.headers.authorization ?? "")?.[1];
      return {
        ...(accountId === undefined ? {} : { accountId }),
        ...(token === undefined ? {} : { accessToken: token }),
      };
    },
    handle(req, world) {
      if (req.path === "/oauth/v2/accessToken") {
        return accessToken(req, world);
      }
      if (req.path === "/oauth/v2/introspectToken") {
        return introspectToken(req, world);
      }
      const denied = authenticate(req, world) ?? checkVersion(req, versionsActiveAt());
      if (denied) {
        return denied;
      }
      const accountPath = /^\/rest\/adAccounts\/(\d+)(\/adCampaigns)?$/.exec(req.path);
      if (req.method === "GET" && req.path === "/rest/adAnalytics") {
        return adAnalytics(req, world, maxElements);
      }
      if (req.method === "GET" && req.path === "/rest/adAccounts") {
        return adAccountsSearch(req, world);
      }
      if (req.method === "GET" && accountPath?.[1] !== undefined) {
        return accountPath[2]
          ? adCampaigns(req, world, accountPath[1])
          : adAccount(req, world, accountPath[1]);
      }
      return apiError(404, "No virtual resource found");
    },
    rateLimited: tooManyRequests,
    // LinkedIn's limits are per application and per member, never per ad account
    // (https://learn.microsoft.com/en-us/linkedin/shared/api-guide/concepts/rate-limits).
    throttled: (scope, retryAfterSeconds) =>
      scope === "account" ? undefined : tooManyRequests(retryAfterSeconds),
    serverError: () => apiError(500, "Internal Server Error"),
  };
}

export const linkedinSandbox: PlatformSandbox = createLinkedinSandbox();
