/**
 * Google Ads REST response shapes, as documented:
 * - `googleAds:searchStream` answers a JSON array of `SearchGoogleAdsStreamResponse` batches
 *   (https://developers.google.com/google-ads/api/rest/common/search);
 * - errors are `google.rpc.Status` bodies whose details carry a `GoogleAdsFailure`
 *   (https://developers.google.com/google-ads/api/docs/best-practices/understand-api-errors);
 * - the OAuth token endpoint answers RFC 6749 §5.1 tokens and §5.2 errors.
 *
 * REST uses the proto3 JSON mapping: keys are camelCase, int64 values (ids, impressions,
 * clicks, costMicros) are decimal strings, doubles (conversions, conversionsValue) are numbers,
 * and fields at their default value (0, "") are omitted.
 */
import { z } from "zod";

/** proto3 JSON int64: emitted as a string, but parsers must accept a number too. */
const int64 = z.union([z.string().regex(/^-?\d+$/), z.number().int()]);

export const searchStreamRowSchema = z.object({
  customer: z.object({
    currencyCode: z.string().length(3),
    timeZone: z.string().min(1),
  }),
  campaign: z.object({
    id: int64,
    // An empty name is the proto3 default, omitted on the wire.
    name: z.string().default(""),
  }),
  segments: z.object({ date: z.iso.date() }),
  // Rows with every metric at zero are not returned, but any single metric may be omitted.
  metrics: z
    .object({
      impressions: int64.optional(),
      clicks: int64.optional(),
      costMicros: int64.optional(),
      conversions: z.number().optional(),
      conversionsValue: z.number().optional(),
    })
    .default({}),
});
export type SearchStreamRow = z.infer<typeof searchStreamRowSchema>;

export const searchStreamBatchSchema = z.object({
  // A batch (or a whole stream without matching rows) may carry no results at all.
  results: z.array(searchStreamRowSchema).default([]),
  fieldMask: z.string().optional(),
  requestId: z.string().optional(),
});

export const searchStreamResponseSchema = z.array(searchStreamBatchSchema);

/** `SELECT customer.time_zone FROM customer`: one batch with the customer's one row. */
export const customerZoneResponseSchema = z.array(
  z.object({
    results: z.array(z.object({ customer: z.object({ timeZone: z.string().min(1) }) })).default([]),
  }),
);
export type SearchStreamResponse = z.infer<typeof searchStreamResponseSchema>;

/** A customer's resource name, `customers/{customer_id}`. */
const customerResourceName = z.string().regex(/^customers\/\d+$/);

/**
 * `GET /{version}/customers:listAccessibleCustomers`: the customers the login can access
 * directly; proto3 JSON leaves an empty list out.
 * https://developers.google.com/google-ads/api/reference/rpc/v25/ListAccessibleCustomersResponse
 */
export const accessibleCustomersSchema = z.object({
  resourceNames: z.array(customerResourceName).default([]),
});

/**
 * One `customer_client` row (`CUSTOMER_CLIENT_QUERY`). proto3 JSON omits defaults: level 0 (the
 * queried customer itself), `manager: false`, an empty name, currency or zone, and the status
 * UNSPECIFIED. Status: ENABLED, CANCELED, SUSPENDED or CLOSED
 * (https://developers.google.com/google-ads/api/reference/rpc/v25/CustomerStatusEnum.CustomerStatus).
 */
export const customerClientSchema = z.object({
  clientCustomer: customerResourceName,
  level: int64.default(0),
  manager: z.boolean().default(false),
  status: z.string().default("UNSPECIFIED"),
  descriptiveName: z.string().default(""),
  currencyCode: z.string().optional(),
  timeZone: z.string().optional(),
});
export type CustomerClient = z.infer<typeof customerClientSchema>;

export const customerClientResponseSchema = z.array(
  z.object({
    results: z.array(z.object({ customerClient: customerClientSchema })).default([]),
  }),
);

/** One entry of `GoogleAdsFailure.errors`. `errorCode` has exactly one key, e.g. `quotaError`. */
const googleAdsErrorSchema = z.object({
  errorCode: z.record(z.string(), z.string()).optional(),
  message: z.string().optional(),
  details: z
    .object({
      quotaErrorDetails: z
        .object({
          rateScope: z.string().optional(),
          rateName: z.string().optional(),
          /** A protobuf `Duration` in JSON form, e.g. "40591s" or "1.500s". */
          retryDelay: z.string().optional(),
        })
        .optional(),
    })
    .optional(),
});

/** `Status.details[]`: a `GoogleAdsFailure` (has `errors`) or a `google.rpc.ErrorInfo` (`reason`). */
const statusDetailSchema = z.object({
  "@type": z.string().optional(),
  errors: z.array(googleAdsErrorSchema).optional(),
  reason: z.string().optional(),
});

export const googleStatusSchema = z.object({
  error: z.object({
    code: z.number().int(),
    message: z.string().default(""),
    status: z.string().optional(),
    details: z.array(statusDetailSchema).default([]),
  }),
});
export type GoogleStatus = z.infer<typeof googleStatusSchema>["error"];

/** RFC 6749 §5.2 error body of the token endpoint. */
export const oauthErrorSchema = z.object({
  error: z.string(),
  error_description: z.string().optional(),
});

/** RFC 6749 §5.1 token response to the refresh_token grant. */
export const tokenResponseSchema = z.object({
  access_token: z.string().min(1),
  expires_in: z.number().positive(),
  token_type: z.string().optional(),
  scope: z.string().optional(),
  /** Google normally keeps the refresh token; a rotated one must replace the stored one. */
  refresh_token: z.string().min(1).optional(),
});
