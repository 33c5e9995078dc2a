import { ConfigError, parseConfig, requireConfig } from "../../../src/shared/config";

const valid = {
  INTEGRATIONS_CRON_SECRET: "s3cret-value-0123456789",
  NEXT_PUBLIC_APP_URL: "https://app.example.com",
  ADMIN_EMAILS: "Admin@Example.com, ops@example.com",
};

describe("parseConfig", () => {
  it("accepts the required variables and applies documented defaults", () => {
    const result = parseConfig(valid);
    expect(result.ok).toBe(true);
    if (!result.ok) {
      return;
    }
    expect(result.config.ADMIN_EMAILS).toEqual(["admin@example.com", "ops@example.com"]);
    expect(result.config.SCHEDULER_ALERT_FAILURE_THRESHOLD).toBe(3);
    expect(result.config.SCHEDULER_ALERT_WEBHOOK_URL).toBe("");
    expect(result.config.HEALTH_CHECK_TIMEOUT_MS).toBe(3000);
    expect(result.config.STRIPE_SECRET_KEY).toBeUndefined();
  });

  it("names every missing required variable", () => {
    const result = parseConfig({ NEXT_PUBLIC_APP_URL: "https://app.example.com" });
    expect(result.ok).toBe(false);
    if (result.ok) {
      return;
    }
    expect(result.missing.sort()).toEqual(["ADMIN_EMAILS", "INTEGRATIONS_CRON_SECRET"]);
    expect(result.issues).toContainEqual({
      variable: "INTEGRATIONS_CRON_SECRET",
      message: "is required but not set",
    });
  });

  it("treats empty values as unset", () => {
    const result = parseConfig({ ...valid, INTEGRATIONS_CRON_SECRET: "" });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.missing).toEqual(["INTEGRATIONS_CRON_SECRET"]);
  });

  it.each([
    ["SCHEDULER_ALERT_FAILURE_THRESHOLD", "abc", "whole number"],
    ["SCHEDULER_ALERT_FAILURE_THRESHOLD", "0", "at least"],
    ["SCHEDULER_ALERT_WEBHOOK_URL", "http://hooks.example.com/x", "https"],
    ["NEXT_PUBLIC_APP_URL", "ftp://example.com", "http(s) URL"],
    ["ADMIN_EMAILS", "not-an-email", "e-mail"],
    ["INTEGRATIONS_CRON_SECRET", "short", "at least 16 characters"],
  ])("rejects %s=%s with a message that names it", (variable, value, expected) => {
    const result = parseConfig({ ...valid, [variable]: value });
    expect(result.ok).toBe(false);
    const issue = !result.ok ? result.issues.find((i) => i.variable === variable) : undefined;
    expect(issue?.message).toContain(expected);
  });

  it("accepts an http webhook only on loopback", () => {
    expect(
      parseConfig({ ...valid, SCHEDULER_ALERT_WEBHOOK_URL: "http://127.0.0.1:9999/hook" }).ok,
    ).toBe(true);
    expect(
      parseConfig({ ...valid, SCHEDULER_ALERT_WEBHOOK_URL: "https://hooks.slack.com/services/x" })
        .ok,
    ).toBe(true);
  });

  it('treats STRIPE_SECRET_KEY="none" as not configured', () => {
    const result = parseConfig({ ...valid, STRIPE_SECRET_KEY: "none" });
    expect(result.ok && result.config.STRIPE_SECRET_KEY).toBeUndefined();
  });
});

describe("provider settings", () => {
  it("defaults every platform to its production base URL", () => {
    const result = parseConfig(valid);
    expect(result.ok && result.config.providers.google.baseUrl).toBe(
      "https://googleads.googleapis.com",
    );
    expect(result.ok && result.config.providers.tiktok.baseUrl).toBe(
      "https://business-api.tiktok.com/open_api/v1.3",
    );
  });

  it("merges PROVIDER_SECRETS into PROVIDER_SETTINGS", () => {
    const result = parseConfig({
      ...valid,
      PROVIDER_SETTINGS: JSON.stringify({ google: { clientId: "cid", requestsPerSecond: 1 } }),
      PROVIDER_SECRETS: JSON.stringify({ google: { clientSecret: "csecret-value" } }),
    });
    expect(result.ok && result.config.providers.google).toMatchObject({
      clientId: "cid",
      clientSecret: "csecret-value",
      requestsPerSecond: 1,
    });
  });

  it("names the variable for unreadable JSON", () => {
    const result = parseConfig({ ...valid, PROVIDER_SETTINGS: "{not json" });
    expect(!result.ok && result.issues).toEqual([
      { variable: "PROVIDER_SETTINGS", message: "must be a JSON object" },
    ]);
  });

  it("names the offending field but never a secret value", () => {
    const secret = "leaky-secret-value";
    const result = parseConfig({
      ...valid,
      PROVIDER_SECRETS: JSON.stringify({ google: { clientSecret: secret, bogus: secret } }),
    });
    expect(result.ok).toBe(false);
    const text = JSON.stringify(result);
    expect(text).toContain("google");
    expect(text).toContain("bogus");
    expect(text).not.toContain(secret);
  });

  it("rejects an unknown platform", () => {
    const result = parseConfig({ ...valid, PROVIDER_SETTINGS: '{"snapchat":{}}' });
    expect(!result.ok && result.issues[0]?.message).toContain("snapchat");
  });
});

describe("requireConfig", () => {
  it("throws a ConfigError naming the variable and never echoing its value", () => {
    const secret = "tiny";
    expect(() => requireConfig({ ...valid, INTEGRATIONS_CRON_SECRET: secret })).toThrow(
      ConfigError,
    );
    try {
      requireConfig({ ...valid, INTEGRATIONS_CRON_SECRET: secret });
    } catch (error) {
      expect((error as Error).message).toContain("INTEGRATIONS_CRON_SECRET");
      expect((error as Error).message).not.toContain(secret);
    }
  });
});
