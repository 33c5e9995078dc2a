/**
 * Meta Graph / Marketing API response shapes, as documented:
 * - error envelope: https://developers.facebook.com/docs/graph-api/guides/error-handling
 * - ad account node: https://developers.facebook.com/docs/marketing-api/reference/ad-account
 * - insights edge: https://developers.facebook.com/docs/marketing-api/insights (cursor paging:
 *   https://developers.facebook.com/docs/graph-api/results)
 * - asynchronous report runs: https://developers.facebook.com/docs/marketing-api/insights/best-practices#asynchronous
 *   and https://developers.facebook.com/docs/marketing-api/reference/ad-report-run
 * - usage headers: https://developers.facebook.com/docs/graph-api/overview/rate-limiting
 * - discovery: the user's ad accounts (https://developers.facebook.com/docs/graph-api/reference/user/adaccounts/)
 *   and businesses (https://developers.facebook.com/docs/graph-api/reference/user/businesses/), a
 *   business's owned and client ad accounts
 *   (https://developers.facebook.com/docs/marketing-api/reference/business/owned_ad_accounts/,
 *   https://developers.facebook.com/docs/marketing-api/reference/business/client_ad_accounts/), and
 *   token debugging (https://developers.facebook.com/docs/graph-api/reference/debug_token/)
 */
import { z } from "zod";

/**
 * Meta sends every metric and action value as a string ("18342", "251.37"). A bare JSON number
 * is accepted as well: the exact parsers in `money.ts` take both, and refusing one would turn a
 * harmless encoding change into an endless transient failure.
 */
const numeric = z.union([z.string(), z.number()]);

export const graphErrorSchema = z.object({
  error: z.object({
    message: z.string(),
    type: z.string().optional(),
    code: z.number().int(),
    error_subcode: z.number().int().optional(),
    is_transient: z.boolean().optional(),
    error_user_title: z.string().optional(),
    error_user_msg: z.string().optional(),
    fbtrace_id: z.string().optional(),
  }),
});
export type GraphError = z.infer<typeof graphErrorSchema>["error"];

/** `GET /act_{id}?fields=timezone_name,currency` (the node always carries `id`). */
export const adAccountSchema = z.object({
  id: z.string(),
  /** IANA name, e.g. "America/Los_Angeles": the zone insights days are counted in. */
  timezone_name: z.string().min(1),
  currency: z.string().regex(/^[A-Z]{3}$/),
});

/** One entry of `actions` / `action_values`: `{"action_type": "omni_purchase", "value": "3"}`. */
const actionStatSchema = z.object({ action_type: z.string(), value: numeric });
export type ActionStat = z.infer<typeof actionStatSchema>;

/**
 * One insights row at `level=campaign&time_increment=1`. Meta leaves out a metric it has nothing
 * for (no `actions` on a day without any action), so the metrics are optional.
 */
export const insightsRowSchema = z
  .object({
    campaign_id: z.string().regex(/^\d+$/),
    campaign_name: z.string(),
    date_start: z.iso.date(),
    date_stop: z.iso.date(),
    impressions: numeric.optional(),
    clicks: numeric.optional(),
    spend: numeric.optional(),
    actions: z.array(actionStatSchema).optional(),
    action_values: z.array(actionStatSchema).optional(),
  })
  .refine((row) => row.date_start === row.date_stop, {
    error: "a row must cover exactly one day (time_increment=1)",
  });
export type InsightsRow = z.infer<typeof insightsRowSchema>;

/** Graph's cursor paging: `next` is absent on the last page; an empty result may carry none. */
const pagingSchema = z
  .object({
    cursors: z.object({ before: z.string(), after: z.string() }).partial().optional(),
    next: z.string().optional(),
    previous: z.string().optional(),
  })
  .optional();

/** One page of a cursor-paged edge (insights, a report run's results, the account listings). */
export interface GraphPage<Item> {
  data: Item[];
  paging?: z.infer<typeof pagingSchema>;
}

function graphPage<Item>(item: z.ZodType<Item>): z.ZodType<GraphPage<Item>> {
  return z.object({ data: z.array(item), paging: pagingSchema });
}

export const insightsPageSchema = graphPage(insightsRowSchema);

/**
 * `POST /act_{id}/insights` → `{"report_run_id": "6023920149050"}`. Graph sends ids as strings;
 * Meta's guide shows this one as a JSON number, which is accepted only while it is exact (a
 * longer id parsed as a double would name another run).
 */
export const reportRunCreatedSchema = z.object({
  report_run_id: z.union([
    z.string().regex(/^\d+$/),
    z.number().int().positive().refine(Number.isSafeInteger).transform(String),
  ]),
});

/** Every `async_status` Meta documents for an Ad Report Run, in the order a run goes through. */
const REPORT_RUN_STATUSES = [
  "Job Not Started",
  "Job Started",
  "Job Running",
  "Job Completed",
  "Job Failed",
  "Job Skipped",
] as const;

/**
 * `GET /{report_run_id}` (default fields). From v25.0 a failed run carries `error_code`,
 * `error_subcode`, `error_message`, `error_user_title` and `error_user_msg` by default
 * (https://developers.facebook.com/blog/post/2026/01/08/enhanced-error-messaging-for-ads-insights-async-api/).
 */
export const adReportRunSchema = z.object({
  id: z.string(),
  async_status: z.enum(REPORT_RUN_STATUSES),
  async_percent_completion: z.number().min(0).max(100),
  error_code: z.number().int().optional(),
  error_subcode: z.number().int().optional(),
  error_message: z.string().optional(),
  error_user_title: z.string().optional(),
  error_user_msg: z.string().optional(),
});
export type AdReportRun = z.infer<typeof adReportRunSchema>;

/**
 * Usage headers: JSON objects in header values, percentages 0–100 (throttled at 100).
 * `X-Business-Use-Case-Usage`: `{"<business object id>": [{type, call_count, total_cputime,
 * total_time, estimated_time_to_regain_access (minutes)}]}`.
 */
export const businessUseCaseUsageSchema = z.record(
  z.string(),
  z.array(
    z.object({
      type: z.string().optional(),
      call_count: z.number().optional(),
      total_cputime: z.number().optional(),
      total_time: z.number().optional(),
      estimated_time_to_regain_access: z.number().min(0).optional(),
    }),
  ),
);

/** `X-App-Usage`: the app's platform limit. */
export const appUsageSchema = z.object({
  call_count: z.number().optional(),
  total_time: z.number().optional(),
  total_cputime: z.number().optional(),
});

/** `X-Ad-Account-Usage`: `reset_time_duration` is seconds until the account's usage is back to 0. */
export const adAccountUsageSchema = z.object({
  acc_id_util_pct: z.number().optional(),
  reset_time_duration: z.number().min(0).optional(),
});

/** `X-FB-Ads-Insights-Throttle`: insights-specific app and account utilisation. */
export const insightsThrottleSchema = z.object({
  app_id_util_pct: z.number().optional(),
  acc_id_util_pct: z.number().optional(),
});

/**
 * One ad account of `/me/adaccounts`, `/{business_id}/owned_ad_accounts` or
 * `/{business_id}/client_ad_accounts` as discovery asks for it. `account_status` is Meta's number
 * (1 ACTIVE, 2 DISABLED, 3 UNSETTLED, 7 PENDING_RISK_REVIEW, 8 PENDING_SETTLEMENT,
 * 9 IN_GRACE_PERIOD, 100 PENDING_CLOSURE, 101 CLOSED: the ad account reference,
 * https://developers.facebook.com/docs/marketing-api/reference/ad-account/), kept open so that a
 * status Meta adds later is listed rather than failing discovery. Graph leaves out a field it has
 * no value for, so currency and zone may be missing.
 */
const listedAdAccountSchema = z.object({
  account_id: z.string().regex(/^\d+$/),
  name: z.string(),
  currency: z
    .string()
    .regex(/^[A-Z]{3}$/)
    .optional(),
  timezone_name: z.string().min(1).optional(),
  account_status: z.number().int(),
});
export type ListedAdAccount = z.infer<typeof listedAdAccountSchema>;

/** The `fields` discovery asks the account listings for: exactly those its schema reads. */
export const LISTED_AD_ACCOUNT_FIELDS = listedAdAccountSchema.keyof().options.join(",");

export const adAccountListingPageSchema = graphPage(listedAdAccountSchema);

/** One business of `/me/businesses`; its id goes into a URL path, so it must be a Graph id. */
export const businessPageSchema = graphPage(z.object({ id: z.string().regex(/^\d+$/) }));

/**
 * `GET /debug_token?input_token=…` with the app's token: `data` describes the input token. A token
 * that no longer works is still answered with HTTP 200, `is_valid: false` and the reason in
 * `data.error` (code 190 with the subcode its calls would get: 463 expired, 458 app removed, …);
 * `expires_at` and `data_access_expires_at` are seconds since the epoch, `expires_at` 0 for a token
 * that never expires (https://developers.facebook.com/docs/facebook-login/guides/access-tokens/debugging).
 * A token Meta cannot parse has neither time.
 */
export const debugTokenSchema = z.object({
  data: z.object({
    is_valid: z.boolean(),
    expires_at: z.number().int().min(0).optional(),
    data_access_expires_at: z.number().int().min(0).optional(),
  }),
});
