/**
 * TikTok API for Business v1.3 responses, shaped as documented: every answer is the envelope
 * `{code, message, request_id, data}` (usually HTTP 200, success only when `code` is 0), ids and
 * metrics are strings, and `"-"` stands for "no data" in a metric.
 * Envelope and return codes: https://business-api.tiktok.com/portal/docs?id=1737172488964097
 */
import { z } from "zod";

/** The fields every answer carries, success or error; used to read error codes. */
export const envelopeSchema = z.object({
  code: z.number().int(),
  message: z.string().optional(),
  request_id: z.string().optional(),
});

/** A metric as TikTok sends it: a decimal string, or `"-"` when there is no data. */
const metricValue = z.string().regex(/^(-|-?\d+(\.\d+)?)$/, 'not a decimal string or "-"');

function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/**
 * `GET /advertiser/info/` (https://business-api.tiktok.com/portal/docs?id=1739593083610113):
 * `data.list[]` of the requested advertisers with the requested `fields`.
 */
export const advertiserInfoResponseSchema = z.object({
  code: z.literal(0),
  data: z.object({
    list: z.array(
      z.object({
        advertiser_id: z.string().min(1),
        currency: z.string().regex(/^[A-Z]{3}$/, "not an ISO 4217 code"),
        timezone: z.string().refine(isTimeZone, "not a time zone name"),
      }),
    ),
  }),
});

export type AdvertiserInfo = z.infer<typeof advertiserInfoResponseSchema>["data"]["list"][number];

/**
 * One campaign-day of `GET /report/integrated/get/` with dimensions `campaign_id` and
 * `stat_time_day` (https://business-api.tiktok.com/portal/docs?id=1740302848100353).
 */
export const reportRowSchema = z.object({
  dimensions: z.object({
    campaign_id: z.string().min(1),
    stat_time_day: z.string().regex(/^\d{4}-\d{2}-\d{2} 00:00:00$/, "not YYYY-MM-DD 00:00:00"),
  }),
  metrics: z.object({
    campaign_name: z.string(),
    impressions: metricValue,
    clicks: metricValue,
    spend: metricValue,
    conversion: metricValue,
    total_complete_payment_rate: metricValue,
  }),
});

export type ReportRow = z.infer<typeof reportRowSchema>;

/** The `metrics` request parameter: exactly the fields the row schema reads. */
export const REPORT_METRICS = reportRowSchema.shape.metrics.keyof().options;

export const reportResponseSchema = z.object({
  code: z.literal(0),
  data: z.object({
    page_info: z.object({
      page: z.number().int().min(1),
      page_size: z.number().int().min(1),
      total_number: z.number().int().min(0),
      total_page: z.number().int().min(0),
    }),
    list: z.array(reportRowSchema),
  }),
});
