/**
 * Canonical ad-account and campaign ids. Platforms accept, and users paste, several spellings of
 * the same id; rows carry one canonical spelling so that an account synced under two spellings
 * upserts the same metric documents (whose ids are built from provider, account, campaign and
 * day) instead of storing every campaign-day twice.
 *
 * The canonical form is the platform's numeric id, digits only:
 * - Google Ads customer: 10 digits, without the dashes of the Google Ads UI
 *   ("123-456-7890" → "1234567890"), as the API takes it in paths and `login-customer-id`;
 * - Meta ad account: the number without the Graph node prefix ("act_123" → "123");
 * - LinkedIn sponsored account and campaign: the number without the URN prefix
 *   ("urn:li:sponsoredAccount:123" → "123", "urn:li:sponsoredCampaign:456" → "456");
 * - TikTok advertiser, and Google, Meta and TikTok campaigns: the numeric string as the platform
 *   sends it (they have a single spelling).
 * Surrounding whitespace is dropped. A value in none of the platform's spellings comes back as
 * given (trimmed): it is not an id of that platform, which the adapter (or the platform) refuses.
 */
import type { ProviderId } from "./types";

type Spellings = { readonly [P in ProviderId]: RegExp };

/** Each platform's accepted spellings; the capture groups joined are the canonical id. */
const ACCOUNT_SPELLINGS: Spellings = {
  google: /^(\d{3})-?(\d{3})-?(\d{4})$/,
  meta: /^(?:act_)?(\d+)$/,
  linkedin: /^(?:urn:li:sponsoredAccount:)?(\d+)$/,
  tiktok: /^(\d+)$/,
};

const CAMPAIGN_SPELLINGS: Spellings = {
  google: /^(\d+)$/,
  meta: /^(\d+)$/,
  linkedin: /^(?:urn:li:sponsoredCampaign:)?(\d+)$/,
  tiktok: /^(\d+)$/,
};

function canonical(spelling: RegExp, id: string): string {
  const trimmed = id.trim();
  const match = spelling.exec(trimmed);
  return match ? match.slice(1).join("") : trimmed;
}

/** The canonical spelling of an ad-account id of `provider` (see the module comment). */
export function canonicalAccountId(provider: ProviderId, id: string): string {
  return canonical(ACCOUNT_SPELLINGS[provider], id);
}

/** The canonical spelling of a campaign id of `provider` (see the module comment). */
export function canonicalCampaignId(provider: ProviderId, id: string): string {
  return canonical(CAMPAIGN_SPELLINGS[provider], id);
}
