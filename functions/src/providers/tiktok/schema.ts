/**
 * TikTok API for Business v1.3 responses, shaped as documented: every answer is the envelope
 * `{code, message, request_id, data}` (usually HTTP 200, success only when `code` is 0), ids and
 * metrics are strings, and `"-"` stands for "no data" in a metric.
 * Envelope and return codes: https://business-api.tiktok.com/portal/docs?id=1737172488964097
 */
import { z } from "zod";

import { parseCsv } from "./csv";

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

const currencyCode = z.string().regex(/^[A-Z]{3}$/, "not an ISO 4217 code");
const timeZoneName = z.string().refine(isTimeZone, "not a time zone name");

/**
 * `GET /advertiser/info/` (https://business-api.tiktok.com/portal/docs?id=1739593083610113):
 * `data.list[]` of the requested advertisers (`advertiser_ids`, several at once), each with the
 * requested `fields`.
 */
const advertiserInfoResponse = <Entry extends z.ZodType>(entry: Entry) =>
  z.object({ code: z.literal(0), data: z.object({ list: z.array(entry) }) });

/** What a report needs of its advertiser: the currency of its amounts and the zone of its days. */
export const advertiserInfoResponseSchema = advertiserInfoResponse(
  z.object({
    advertiser_id: z.string().min(1),
    currency: currencyCode,
    timezone: timeZoneName,
  }),
);

export type AdvertiserInfo = z.infer<typeof advertiserInfoResponseSchema>["data"]["list"][number];

/** A string field TikTok leaves empty when it has no value, read as `null`. */
const unlessEmpty = <Value extends z.ZodType<string>>(value: Value) =>
  z.union([z.literal("").transform(() => null), value]);

/**
 * What discovery reads of each advertiser. `status` is the advertiser's status as sent, one of
 * TikTok's advertiser statuses (Enumeration, "Advertiser status",
 * https://business-api.tiktok.com/portal/docs?id=1737174886619138): `STATUS_ENABLE` (approved),
 * `STATUS_DISABLE`, `STATUS_LIMIT` (restricted as a penalty), the review states
 * `STATUS_PENDING_CONFIRM`, `STATUS_PENDING_VERIFIED`, `STATUS_PENDING_CONFIRM_MODIFY`,
 * `STATUS_WAIT_FOR_BPM_AUDIT`, `STATUS_WAIT_FOR_PUBLIC_AUTH`, `STATUS_SELF_SERVICE_UNAUDITED`,
 * the failed reviews `STATUS_CONFIRM_FAIL`, `STATUS_CONFIRM_FAIL_END`,
 * `STATUS_CONFIRM_MODIFY_FAIL`, and `STATUS_CONTRACT_PENDING`; kept open, so a status TikTok adds
 * later is listed rather than failing discovery. TikTok does not document currency and zone as
 * always set (an account still in review may lack them): an empty one reads as `null` rather
 * than failing the listing of every advertiser.
 */
export const advertiserStatusResponseSchema = advertiserInfoResponse(
  z.object({
    advertiser_id: z.string().min(1),
    name: z.string(),
    status: z.string().min(1),
    currency: unlessEmpty(currencyCode),
    timezone: unlessEmpty(timeZoneName),
  }),
);

export type AdvertiserStatus = z.infer<
  typeof advertiserStatusResponseSchema
>["data"]["list"][number];

/** The `fields` discovery asks `/advertiser/info/` for: exactly those its schema reads. */
export const ADVERTISER_STATUS_FIELDS =
  advertiserStatusResponseSchema.shape.data.shape.list.element.keyof().options;

/**
 * `GET /oauth2/advertiser/get/` (https://business-api.tiktok.com/portal/docs?id=1738455508553729):
 * "a list of advertiser accounts that authorized an app", for the app's `app_id` and `secret`
 * and the user's token, as `data.list[]` of `advertiser_id` and `advertiser_name`; not paged.
 * Only the ids are read: the name comes with the rest from `/advertiser/info/`.
 */
export const authorizedAdvertisersSchema = z.object({
  code: z.literal(0),
  data: z.object({ list: z.array(z.object({ advertiser_id: z.string().min(1) })) }),
});

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

/** The `dimensions` and `metrics` request parameters: exactly the fields the row schema reads. */
export const REPORT_DIMENSIONS = reportRowSchema.shape.dimensions.keyof().options;
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

/**
 * `POST /report/task/create/` (https://business-api.tiktok.com/portal/docs?id=1740302766489602):
 * `data.task_id`.
 */
export const taskCreatedSchema = z.object({
  code: z.literal(0),
  data: z.object({ task_id: z.string().min(1) }),
});

/**
 * `GET /report/task/check/` (https://business-api.tiktok.com/portal/docs?id=1740302781443073):
 * `data.status`, one of `QUEUING`, `PROCESSING`, `SUCCESS`, `FAILED`, `CANCELED`, and
 * `data.message`, why a `FAILED` task failed.
 */
export const taskStatusSchema = z.object({
  code: z.literal(0),
  data: z.object({
    status: z.enum(["QUEUING", "PROCESSING", "SUCCESS", "FAILED", "CANCELED"]),
    message: z.string().optional(),
  }),
});

export type TaskStatus = z.infer<typeof taskStatusSchema>["data"];

/**
 * `POST /report/task/cancel/` (https://business-api.tiktok.com/portal/docs?id=1803615367145537):
 * `data.status` is `CANCELED` when the cancellation succeeds; "If the task cancellation fails, an
 * error will occur".
 */
export const taskCanceledSchema = z.object({
  code: z.literal(0),
  data: z.object({ status: z.literal("CANCELED") }),
});

/**
 * The output of a finished task with `output_format` `CSV_STRING`, as
 * `GET /report/task/download/` sends it (https://business-api.tiktok.com/portal/docs?id=1740302808815618):
 * a CSV file stream, not JSON, and not paged. Its title row names the dimensions and metrics
 * asked for by their field names (`enable_report_title_translation` off), each following row is
 * one campaign-day. The rows take the synchronous report's shape, so the same row schema and
 * mapping serve both; a campaign-day written twice means the file is not one report.
 */
export const reportFileSchema = z
  .string()
  .transform((text, ctx) => {
    const [title, ...lines] = parseCsv(text) ?? [];
    const column = new Map(title?.map((name, index) => [name, index]));
    const missing = [...REPORT_DIMENSIONS, ...REPORT_METRICS].filter((name) => !column.has(name));
    if (!title || missing.length > 0) {
      ctx.addIssue({
        code: "custom",
        message: title
          ? `no column ${missing.join(", ")}`
          : "not a whole CSV file with a title row",
      });
      return z.NEVER;
    }
    const keys = new Set<string>();
    const rows: unknown[] = [];
    for (const [index, line] of lines.entries()) {
      const field = (name: string): string | undefined => line[column.get(name) ?? -1];
      const row = {
        dimensions: Object.fromEntries(REPORT_DIMENSIONS.map((name) => [name, field(name)])),
        metrics: Object.fromEntries(REPORT_METRICS.map((name) => [name, field(name)])),
      };
      const key = `${row.dimensions.campaign_id}|${row.dimensions.stat_time_day}`;
      if (line.length !== title.length || keys.has(key)) {
        ctx.addIssue({
          code: "custom",
          path: [index],
          message: line.length === title.length ? "a campaign-day twice" : "a short or long row",
        });
        return z.NEVER;
      }
      keys.add(key);
      rows.push(row);
    }
    return rows;
  })
  .pipe(z.array(reportRowSchema));
