/**
 * What one Google Ads call asks for: the GAQL query, the date slices, the customer ids, the
 * headers.
 */
import { ProviderError } from "../errors";
import { canonicalAccountId } from "../ids";
import type { SettingsOf } from "../settings";
import type { DateRange } from "../types";

/**
 * Longest range one searchStream query covers. SearchStream has no paging and cannot resume:
 * a timeout, 5xx or cut-off body re-pulls the whole query (provider-apis notes §1.4). A slice of
 * 90 days bounds that rework and the response size (campaigns × 90 rows), while the daily
 * trailing window — at most 90 days, the longest conversion window — stays one query, i.e. one
 * operation of the daily quota (2,880 on Explorer access). Only backfills are split.
 */
export const MAX_SLICE_DAYS = 90;

/**
 * Daily metrics per campaign. Currency and time zone come with every row, so each row says
 * which day (in the account's zone) and which money it is. Campaigns of any status are kept:
 * a campaign removed since still spent on the days it ran.
 */
export function campaignDailyQuery(range: DateRange): string {
  return [
    "SELECT campaign.id, campaign.name, segments.date,",
    "customer.currency_code, customer.time_zone,",
    "metrics.impressions, metrics.clicks, metrics.cost_micros,",
    "metrics.conversions, metrics.conversions_value",
    "FROM campaign",
    `WHERE segments.date BETWEEN '${range.since}' AND '${range.until}'`,
  ].join(" ");
}

/**
 * The customer's time zone, which decides its report days. Asked only when no earlier sync
 * recorded it (Google does not let a customer's zone change after creation), since each query
 * is one operation of the daily quota.
 */
export const CUSTOMER_ZONE_QUERY = "SELECT customer.time_zone FROM customer";

/**
 * One step of the account-hierarchy walk (https://developers.google.com/google-ads/api/docs/account-management/get-account-hierarchy):
 * `customer_client` holds the queried customer itself at level 0 and every client below it at
 * its distance, so `level <= 1` is the customer and its direct children; sub-managers are
 * walked in turn, which is what tells each client's path. A client (non-manager) customer
 * answers its own level-0 row, with its name, currency, zone and status.
 * https://developers.google.com/google-ads/api/fields/v25/customer_client
 */
export const CUSTOMER_CLIENT_QUERY = [
  "SELECT customer_client.client_customer, customer_client.level, customer_client.manager,",
  "customer_client.status, customer_client.descriptive_name, customer_client.currency_code,",
  "customer_client.time_zone",
  "FROM customer_client WHERE customer_client.level <= 1",
].join(" ");

/**
 * The headers of every Google Ads call. Developer tokens were sunset on 2026-09-09: still
 * accepted (and ignored) when sent, and a future version may reject them, so the header goes
 * out only when one is configured. Access through a manager account needs its id as
 * `login-customer-id`, or Google answers USER_PERMISSION_DENIED
 * (https://developers.google.com/google-ads/api/docs/concepts/call-structure#cid).
 */
export function adsHeaders(
  settings: SettingsOf<"google">,
  accessToken: string,
  loginCustomerId?: string,
): Record<string, string> {
  return {
    Authorization: `Bearer ${accessToken}`,
    ...(settings.developerToken ? { "developer-token": settings.developerToken } : {}),
    ...(loginCustomerId ? { "login-customer-id": loginCustomerId } : {}),
  };
}

/** `googleAds:searchStream` of one customer. */
export const searchStreamUrl = (settings: SettingsOf<"google">, customer: string): string =>
  `${settings.baseUrl}/${settings.apiVersion}/customers/${customer}/googleAds:searchStream`;

/**
 * Customer ids are 10 digits without dashes in the API; users copy them from the Google Ads UI
 * as "123-456-7890", so that spelling is accepted (`ids.ts`). Anything else is refused before a
 * request spends quota on an `INVALID_CUSTOMER_ID`.
 */
export function customerId(value: string, what: string): string {
  const digits = canonicalAccountId("google", value);
  if (!/^\d{10}$/.test(digits)) {
    throw new ProviderError(
      "google",
      "permanent",
      "invalid_customer_id",
      `${what} "${value}" is not a Google Ads customer id (10 digits, e.g. 123-456-7890)`,
    );
  }
  return digits;
}
