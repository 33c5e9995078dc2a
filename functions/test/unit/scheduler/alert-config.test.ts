import {
  ALERT_DEFAULTS,
  failureThreshold,
  requireAlertConfig,
} from "../../../src/shared/alert-config";
import { ConfigError } from "../../../src/shared/config";

/** The issues a bad environment raises, as `variable message` lines. */
function issuesOf(raw: Record<string, string>): string[] {
  try {
    requireAlertConfig(raw);
  } catch (error) {
    if (error instanceof ConfigError) {
      return error.issues.map((issue) => `${issue.variable} ${issue.message}`);
    }
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("requireAlertConfig", () => {
  it("applies the documented defaults, with no webhook meaning no alerts", () => {
    const config = requireAlertConfig({});
    expect(config.webhookUrl).toBeUndefined();
    expect(config.thresholds).toEqual({ default: 3, providers: {}, operations: {} });
    expect(config.cooldownMs).toBe(ALERT_DEFAULTS.SCHEDULER_ALERT_COOLDOWN_MINUTES * 60_000);
    expect(config.timeoutMs).toBe(2_000);
    expect(config.queue).toEqual({ stuckMinutes: 30, unhealthyMinutes: 120, failedWarning: 25 });
    expect(config.resolveRuns).toBe(3);
  });

  it("reads every variable", () => {
    const config = requireAlertConfig({
      SCHEDULER_ALERT_WEBHOOK_URL: "https://hooks.slack.com/services/T0/B0/x",
      SCHEDULER_ALERT_FAILURE_THRESHOLD: "4",
      SCHEDULER_ALERT_THRESHOLDS: '{"providers":{"meta":5},"operations":{"process_queued_jobs":1}}',
      SCHEDULER_ALERT_COOLDOWN_MINUTES: "15",
      SCHEDULER_ALERT_TIMEOUT_MS: "500",
      SCHEDULER_QUEUE_STUCK_MINUTES: "10",
      SCHEDULER_QUEUE_UNHEALTHY_MINUTES: "60",
      SCHEDULER_QUEUE_FAILED_WARNING: "7",
      SCHEDULER_ALERT_RESOLVE_RUNS: "5",
    });
    expect(config.webhookUrl).toBe("https://hooks.slack.com/services/T0/B0/x");
    expect(config.thresholds).toEqual({
      default: 4,
      providers: { meta: 5 },
      operations: { process_queued_jobs: 1 },
    });
    expect(config.cooldownMs).toBe(15 * 60_000);
    expect(config.timeoutMs).toBe(500);
    expect(config.queue).toEqual({ stuckMinutes: 10, unhealthyMinutes: 60, failedWarning: 7 });
    expect(config.resolveRuns).toBe(5);
  });

  it("still accepts what earlier configurations set for the one-job trigger runs", () => {
    // The run window is gone (job outcomes reach the alerts through the sweep): its variables
    // are not read, whatever they hold, and a `process_job` override still parses (unused).
    const config = requireAlertConfig({
      SCHEDULER_ALERT_THRESHOLDS: '{"operations":{"process_job":1}}',
      SCHEDULER_ALERT_FAILURE_RATE: "101",
      SCHEDULER_ALERT_RUN_WINDOW: "0",
      SCHEDULER_ALERT_RUN_WINDOW_MINUTES: "soon",
    });
    expect(config.thresholds.operations).toEqual({ process_job: 1 });
    expect(Object.keys(config).sort()).toEqual(
      ["cooldownMs", "queue", "resolveRuns", "thresholds", "timeoutMs", "webhookUrl"].sort(),
    );
  });

  it.each([
    ["SCHEDULER_ALERT_THRESHOLDS", "{not json", "must be a JSON object"],
    [
      "SCHEDULER_ALERT_THRESHOLDS",
      '{"providers":{"facebook":2}}',
      "providers.facebook (is not one of google, meta, linkedin, tiktok)",
    ],
    [
      "SCHEDULER_ALERT_THRESHOLDS",
      '{"operations":{"sweep":2}}',
      "operations.sweep (is not one of process_all_users",
    ],
    [
      "SCHEDULER_ALERT_THRESHOLDS",
      '{"platforms":{}}',
      "platforms (is not one of providers, operations)",
    ],
    [
      "SCHEDULER_ALERT_THRESHOLDS",
      '{"providers":{"meta":0}}',
      "providers.meta (must be at least 1)",
    ],
    [
      "SCHEDULER_ALERT_THRESHOLDS",
      '{"operations":{"process_queued_jobs":"2"}}',
      "operations.process_queued_jobs (must be a number)",
    ],
    ["SCHEDULER_ALERT_COOLDOWN_MINUTES", "soon", "whole number"],
    ["SCHEDULER_ALERT_TIMEOUT_MS", "0", "at least 1"],
    ["SCHEDULER_QUEUE_STUCK_MINUTES", "-5", "whole number"],
    ["SCHEDULER_ALERT_RESOLVE_RUNS", "0", "at least 1"],
    ["SCHEDULER_ALERT_RESOLVE_RUNS", "101", "at most 100"],
    ["SCHEDULER_ALERT_WEBHOOK_URL", "http://hooks.example.com/services/secret-path", "https"],
  ])("rejects %s=%s naming the variable", (variable, value, expected) => {
    const issues = issuesOf({ [variable]: value });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toContain(`${variable} `);
    expect(issues[0]).toContain(expected);
  });

  it("never echoes a webhook URL, which is a credential", () => {
    const issues = issuesOf({ SCHEDULER_ALERT_WEBHOOK_URL: "ftp://hooks/T0/B0/secret-path" });
    expect(issues.join(" ")).not.toContain("secret-path");
  });

  it("requires the unhealthy age to come after the warning age", () => {
    expect(
      issuesOf({ SCHEDULER_QUEUE_STUCK_MINUTES: "60", SCHEDULER_QUEUE_UNHEALTHY_MINUTES: "60" }),
    ).toEqual([
      "SCHEDULER_QUEUE_UNHEALTHY_MINUTES must be greater than SCHEDULER_QUEUE_STUCK_MINUTES (the warning comes first)",
    ]);
  });
});

describe("failureThreshold", () => {
  const thresholds = {
    default: 3,
    providers: { meta: 5 },
    operations: { process_user_jobs: 1, process_queued_jobs: 4 },
  };

  it("takes the platform override first, then the event type's, then the default", () => {
    expect(failureThreshold(thresholds, "process_queued_jobs", "meta")).toBe(5);
    expect(failureThreshold(thresholds, "process_user_jobs", "google")).toBe(1);
    expect(failureThreshold(thresholds, "process_queued_jobs", "tiktok")).toBe(4);
    expect(failureThreshold(thresholds, "schedule", "linkedin")).toBe(3);
  });
});
