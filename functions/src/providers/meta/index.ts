/**
 * Meta Ads (Marketing API, Ads Insights): https://developers.facebook.com/docs/marketing-api/insights
 *
 * Per ad account: `GET /{v}/act_{id}?fields=timezone_name,currency` (the zone insights days are
 * counted in and the money's currency, neither of which insights rows carry), then
 * `GET /{v}/act_{id}/insights?level=campaign&time_increment=1&time_range=…` paged by cursor.
 *
 * Tokens are long-lived and cannot be refreshed (no refresh token exists), so `tokens` is absent:
 * code 190 is `auth` and the user reconnects.
 */
import { createHmac } from "node:crypto";

import type { AdapterContext, ProviderAdapter } from "../adapter";
import { ProviderError } from "../errors";
import type { Credentials, DateRange, MetricRow } from "../types";
import { classifyMeta, TOO_MUCH_DATA } from "./classify";
import { type AccountInfo, DEFAULT_CONVERSION_ACTION_TYPES, toMetricRow } from "./map";
import { adAccountSchema, insightsPageSchema, type InsightsRow } from "./schema";

export interface MetaAdapterOptions {
  /** Rows per insights page (`limit`). */
  pageSize: number;
  /** Action types counted as conversions, most preferred first (see `map.ts`). */
  conversionActionTypes: readonly string[];
}

const DEFAULT_META_OPTIONS: MetaAdapterOptions = {
  pageSize: 500,
  conversionActionTypes: DEFAULT_CONVERSION_ACTION_TYPES,
};

/**
 * campaign_id/campaign_name identify the row; date_start/date_stop come with every insights row.
 * Currency is not asked per row (`account_currency`): the account node gives it once, with the
 * time zone that insights do not report at all.
 */
const INSIGHTS_FIELDS = "campaign_id,campaign_name,impressions,clicks,spend,actions,action_values";

const DAY_MS = 86_400_000;

function addDays(day: string, days: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

/** Two halves of a range (the first one the longer), or `undefined` for a single day. */
export function splitRange(range: DateRange): [DateRange, DateRange] | undefined {
  const days = (Date.parse(range.until) - Date.parse(range.since)) / DAY_MS + 1;
  if (days < 2) {
    return undefined;
  }
  const firstUntil = addDays(range.since, Math.ceil(days / 2) - 1);
  return [
    { since: range.since, until: firstUntil },
    { since: addDays(firstUntil, 1), until: range.until },
  ];
}

/** "act_123" or "123" → "123"; anything else never reaches a URL path. */
function adAccountNumber(accountId: string): string {
  const match = /^(?:act_)?(\d+)$/.exec(accountId);
  if (!match?.[1]) {
    throw new ProviderError(
      "meta",
      "permanent",
      "invalid_account_id",
      `"${accountId}" is not a Meta ad account id (digits, optionally prefixed with act_)`,
    );
  }
  return match[1];
}

/**
 * The token travels in the `Authorization` header, never in the query string, so it cannot end
 * up in a URL that an error, a log line or Meta's own `paging.next` repeats. `appsecret_proof`
 * (HMAC-SHA256 of the token keyed with the app secret) is sent whenever the app secret is
 * configured: https://developers.facebook.com/docs/graph-api/securing-requests
 */
function authOf(
  ctx: AdapterContext<"meta">,
  credentials: Credentials,
): { headers: Record<string, string>; params: Record<string, string> } {
  const { appSecret } = ctx.settings;
  return {
    headers: { Authorization: `Bearer ${credentials.accessToken}` },
    params: appSecret
      ? {
          appsecret_proof: createHmac("sha256", appSecret)
            .update(credentials.accessToken)
            .digest("hex"),
        }
      : {},
  };
}

export function createMetaAdapter(
  overrides: Partial<MetaAdapterOptions> = {},
): ProviderAdapter<"meta"> {
  const options = { ...DEFAULT_META_OPTIONS, ...overrides };

  return {
    id: "meta",
    classify: classifyMeta,
    async fetchAccount(ctx, credentials, { accountId, range }) {
      const number = adAccountNumber(accountId);
      const auth = authOf(ctx, credentials);
      const nodeUrl = `${ctx.settings.baseUrl}/${ctx.settings.apiVersion}/act_${number}`;

      const account = await ctx.http.request({
        method: "GET",
        url: nodeUrl,
        params: { fields: "timezone_name,currency", ...auth.params },
        headers: auth.headers,
        schema: adAccountSchema,
        label: `account act_${number}`,
      });
      const info: AccountInfo = {
        accountId,
        timeZone: account.timezone_name,
        currency: account.currency,
      };

      /** Every page of one range; rows of a range that fails midway are dropped with it. */
      const fetchRange = async (slice: DateRange): Promise<InsightsRow[]> => {
        const rows: InsightsRow[] = [];
        let after: string | undefined;
        for (let page = 1; ; page += 1) {
          const label = `insights act_${number} ${slice.since}..${slice.until} page ${page}`;
          const body = await ctx.http.request({
            method: "GET",
            url: `${nodeUrl}/insights`,
            params: {
              level: "campaign",
              time_increment: "1",
              time_range: JSON.stringify({ since: slice.since, until: slice.until }),
              fields: INSIGHTS_FIELDS,
              limit: String(options.pageSize),
              ...(after === undefined ? {} : { after }),
              ...auth.params,
            },
            headers: auth.headers,
            schema: insightsPageSchema,
            label,
          });
          rows.push(...body.data);
          // `next` is absent on the last page. It is not followed verbatim: the cursor is sent
          // to our configured base URL, so a URL from a response body never receives the token.
          if (body.paging?.next === undefined) {
            return rows;
          }
          const next = body.paging.cursors?.after;
          if (next === undefined || next === after) {
            throw new ProviderError(
              "meta",
              "transient",
              "malformed_response",
              `${label}: a next page without a new after cursor`,
            );
          }
          after = next;
        }
      };

      const rows: MetricRow[] = [];
      // Ranges still to fetch, in date order. Meta answers a query too large for a synchronous
      // call with "Please reduce the amount of data…" or a sync timeout, whose documented remedy
      // is a smaller date range (https://developers.facebook.com/docs/marketing-api/insights/error-codes):
      // such a range is replaced by its two halves, down to single days.
      const pending: DateRange[] = [range];
      for (let slice = pending.shift(); slice; slice = pending.shift()) {
        try {
          const sliceRows = await fetchRange(slice);
          rows.push(
            ...sliceRows.map((row) => toMetricRow(row, info, options.conversionActionTypes)),
          );
        } catch (error) {
          if (!(error instanceof ProviderError) || error.reason !== TOO_MUCH_DATA) {
            throw error;
          }
          const halves = splitRange(slice);
          if (!halves) {
            // Even one day is refused: Meta is under load or the account is huge. Retrying later
            // is the only remedy left without async report jobs.
            throw new ProviderError(
              "meta",
              "transient",
              TOO_MUCH_DATA,
              `insights act_${number} ${slice.since}: too much data even for a single day (${error.message})`,
            );
          }
          pending.unshift(...halves);
        }
      }
      return rows;
    },
  };
}

/** The adapter with the default page size and purchase-type conversions. */
export const metaAdapter = createMetaAdapter();
