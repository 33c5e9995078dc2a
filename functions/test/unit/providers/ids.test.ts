/**
 * Canonical account and campaign ids: every spelling a platform accepts (and users paste) maps to
 * the one id rows are stored under.
 */
import { canonicalAccountId, canonicalCampaignId } from "../../../src/providers/ids";
import type { ProviderId } from "../../../src/providers/types";

describe("canonicalAccountId", () => {
  it.each<[ProviderId, string[], string]>([
    // The Google Ads UI shows "123-456-7890"; the API takes the 10 digits.
    ["google", ["123-456-7890", "1234567890", " 123-456-7890 "], "1234567890"],
    // Graph addresses an ad account as the node "act_<id>".
    ["meta", ["act_1010101010", "1010101010", "\tact_1010101010"], "1010101010"],
    // Marketing API bodies name accounts by URN.
    ["linkedin", ["urn:li:sponsoredAccount:512345678", "512345678"], "512345678"],
    ["tiktok", ["7000000000000000001", " 7000000000000000001"], "7000000000000000001"],
  ])("maps every %s spelling to one id", (provider, spellings, canonical) => {
    for (const spelling of spellings) {
      expect(canonicalAccountId(provider, spelling)).toBe(canonical);
    }
  });

  it.each<[ProviderId, string]>([
    ["google", "123-456-789a"],
    ["google", "12345678901"],
    ["google", "act_1234567890"],
    ["meta", "../me/accounts"],
    ["meta", "urn:li:sponsoredAccount:123"],
    ["linkedin", "act_123"],
    ["linkedin", "urn:li:sponsoredCampaign:123"],
    ["tiktok", "act_123"],
  ])("leaves a %s value in none of its spellings as given: %s", (provider, value) => {
    expect(canonicalAccountId(provider, value)).toBe(value);
  });
});

describe("canonicalCampaignId", () => {
  it("strips LinkedIn's campaign URN and keeps the other platforms' numeric ids", () => {
    expect(canonicalCampaignId("linkedin", "urn:li:sponsoredCampaign:612345001")).toBe("612345001");
    expect(canonicalCampaignId("linkedin", "612345001")).toBe("612345001");
    for (const provider of ["google", "meta", "tiktok"] as const) {
      expect(canonicalCampaignId(provider, "120210000000000001")).toBe("120210000000000001");
    }
    expect(canonicalCampaignId("meta", "urn:li:sponsoredCampaign:1")).toBe(
      "urn:li:sponsoredCampaign:1",
    );
  });
});
