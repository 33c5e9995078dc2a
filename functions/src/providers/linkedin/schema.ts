/**
 * LinkedIn Marketing API responses as documented (versioned API under /rest):
 * - adAnalytics: https://learn.microsoft.com/en-us/linkedin/marketing/integrations/ads-reporting/ads-reporting
 *   and the field types in .../ads-reporting/ads-reporting-schema (counts are JSON numbers; money
 *   fields are BigDecimal strings such as "107.5300000000000335346");
 * - the campaign and ad account search finders with cursor pagination (`metadata.nextPageToken`):
 *   https://learn.microsoft.com/en-us/linkedin/marketing/integrations/ads/cursor-based-pagination
 *   and the ad account fields in
 *   https://learn.microsoft.com/en-us/linkedin/marketing/integrations/ads/account-structure/create-and-manage-accounts
 * - the OAuth token endpoint:
 *   https://learn.microsoft.com/en-us/linkedin/shared/authentication/programmatic-refresh-tokens
 *   and its token introspection:
 *   https://learn.microsoft.com/en-us/linkedin/shared/authentication/token-introspection
 * - error bodies: https://learn.microsoft.com/en-us/linkedin/shared/api-guide/concepts/error-handling
 */
import { z } from "zod";

const calendarDay = z.object({
  year: z.number().int(),
  month: z.number().int().min(1).max(12),
  day: z.number().int().min(1).max(31),
});
export type CalendarDay = z.infer<typeof calendarDay>;

/** BigDecimal money: documented as a string; a bare JSON number is accepted as the same value. */
const money = z.union([z.string(), z.number()]);

/** One adAnalytics element of `q=analytics&pivot=CAMPAIGN&timeGranularity=DAILY`. */
export const analyticsElementSchema = z.object({
  dateRange: z.object({ start: calendarDay, end: calendarDay }),
  pivotValues: z.array(z.string().regex(/^urn:li:sponsoredCampaign:\d+$/)).min(1),
  // A metric the day had no activity for may be left out of the element: it counts as zero.
  impressions: z.number().int().nonnegative().optional(),
  clicks: z.number().int().nonnegative().optional(),
  costInLocalCurrency: money.optional(),
  costInUsd: money.optional(),
  externalWebsiteConversions: z.number().nonnegative().optional(),
  conversionValueInLocalCurrency: money.optional(),
});
export type AnalyticsElement = z.infer<typeof analyticsElementSchema>;

/** adAnalytics has no pagination: `paging` is present but every element comes in one response. */
export const analyticsResponseSchema = z.object({
  elements: z.array(analyticsElementSchema),
});

/** One page of a search finder; the last page has no (or an empty) `nextPageToken`. */
export interface CursorPage<T> {
  elements: T[];
  metadata?: { nextPageToken?: string | null | undefined } | undefined;
}

function cursorPage<T extends z.ZodType>(element: T) {
  return z.object({
    elements: z.array(element),
    metadata: z.object({ nextPageToken: z.string().nullish() }).optional(),
  });
}

export const campaignsPageSchema = cursorPage(
  z.object({ id: z.number().int().positive(), name: z.string() }),
);
export type Campaign = z.infer<typeof campaignsPageSchema>["elements"][number];

/** ISO 4217; LinkedIn defaults it to "USD", so every account has one. */
export const adAccountSchema = z.object({
  id: z.number().int().positive(),
  currency: z.string().regex(/^[A-Z]{3}$/),
});

/**
 * An ad account as the search finder lists it. `status` is ACTIVE (the default), CANCELED,
 * DRAFT, PENDING_DELETION or REMOVED; kept as the string sent, so that a status LinkedIn adds
 * later reads as "not active" instead of failing the listing.
 */
export const adAccountsPageSchema = cursorPage(
  adAccountSchema.extend({ name: z.string(), status: z.string().min(1) }),
);
export type AdAccountListing = z.infer<typeof adAccountsPageSchema>["elements"][number];

/**
 * `POST /oauth/v2/introspectToken`: `active` is the only field always sent; times are epoch
 * seconds. `authorized_at` is when the member authorized the app (the consent), `expires_at` the
 * token's own end; `status` ("active", "expired", "revoked") only restates `active`.
 */
export const introspectionSchema = z.object({
  active: z.boolean(),
  expires_at: z.number().int().positive().optional(),
  authorized_at: z.number().int().positive().optional(),
});

export const tokenResponseSchema = z.object({
  access_token: z.string().min(1),
  /** Seconds; 5,184,000 (60 days) for LinkedIn access tokens. */
  expires_in: z.number().int().positive(),
  /** The same refresh token: its 365-day lifetime runs from the original consent. */
  refresh_token: z.string().min(1).optional(),
  /** Seconds the refresh token has left, counting down from the consent, not from this refresh. */
  refresh_token_expires_in: z.number().int().optional(),
});

/** `{"status":401,"serviceErrorCode":65602,"code":"EXPIRED_ACCESS_TOKEN","message":"…"}`. */
export const apiErrorSchema = z.object({
  status: z.number().int().optional(),
  serviceErrorCode: z.number().int().optional(),
  code: z.string().optional(),
  message: z.string().optional(),
});

/** The OAuth endpoint's RFC 6749 error body: `{"error":"invalid_grant","error_description":"…"}`. */
export const oauthErrorSchema = z.object({
  error: z.string().min(1),
  error_description: z.string().optional(),
});
