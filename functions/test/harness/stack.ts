/**
 * The sandbox platforms plus the official Firestore emulator, wired like the local stack: demo-shaped
 * integrations seeded, and a provider runtime pointed at the sandbox by settings alone.
 */
import type { Firestore } from "firebase-admin/firestore";

import { SANDBOX_PLATFORMS, sandboxProviderSettings } from "../../dev/sandbox";
import { createLinkedinSandbox } from "../../dev/sandbox/linkedin";
import { type RunningSandbox, startSandbox } from "../../dev/sandbox/server";
import { daysBetween, type SandboxAccount, SandboxWorld } from "../../dev/sandbox/world";
import { writeCredentials } from "../../src/integrations/credentials";
import { integrationPath } from "../../src/integrations/model";
import {
  createDiscoveryRuntime,
  createProviderRuntime,
  type DiscoveryRuntime,
  type ProviderRuntime,
} from "../../src/providers/registry";
import { parseProviderSettings } from "../../src/providers/settings";
import type { DateRange, ProviderId } from "../../src/providers/types";
import { LINKEDIN_VERSIONS_AT } from "./sandbox";
import { TEST_TOKEN_KEYS } from "./seed";

export interface TestStack {
  sandbox: RunningSandbox;
  world: SandboxWorld;
  runtime: ProviderRuntime;
  /** Account discovery and credential inspection against the sandbox. */
  discover: DiscoveryRuntime;
  /** A fresh runtime (another function instance: its own limiters). */
  newRuntime(): ProviderRuntime;
  /** The PROVIDER_SETTINGS / PROVIDER_SECRETS values for this sandbox. */
  env: { PROVIDER_SETTINGS: string; PROVIDER_SECRETS: string };
  stop(): Promise<void>;
}

/** Fast-failing settings for tests: short timeouts, no long inline waits. */
const TEST_LIMITS = { timeoutMs: 2_000, maxInlineWaitMs: 1_500, requestsPerSecond: 50 };

/** `now`: the sandbox's clock (which days exist), for a run on a manual clock. */
export async function startTestStack(
  accounts: SandboxAccount[],
  now?: () => number,
): Promise<TestStack> {
  const world = new SandboxWorld(accounts, now);
  // LinkedIn version sunsets are judged at a fixed date, so the suite does not expire.
  const platforms = SANDBOX_PLATFORMS.map((platform) =>
    platform.provider === "linkedin"
      ? createLinkedinSandbox({ versionsActiveAt: () => LINKEDIN_VERSIONS_AT })
      : platform,
  );
  const sandbox = await startSandbox({ world, platforms });
  const { settings, secrets } = sandboxProviderSettings(sandbox);
  const withLimits = Object.fromEntries(
    Object.entries(settings).map(([id, values]) => [id, { ...values, ...TEST_LIMITS }]),
  );
  const merged = parseProviderSettings(
    Object.fromEntries(
      Object.entries(withLimits).map(([id, values]) => [id, { ...values, ...secrets[id] }]),
    ),
  );
  return {
    sandbox,
    world,
    runtime: createProviderRuntime(merged),
    discover: createDiscoveryRuntime(merged),
    newRuntime: () => createProviderRuntime(merged),
    env: {
      PROVIDER_SETTINGS: JSON.stringify(withLimits),
      PROVIDER_SECRETS: JSON.stringify(secrets),
    },
    stop: () => sandbox.stop(),
  };
}

/** Seeds an active integration whose credentials are tokens the sandbox issued. */
export async function seedSandboxIntegration(
  db: Firestore,
  stack: TestStack,
  userId: string,
  providerId: ProviderId,
  options: { autoSync?: boolean; cadenceHours?: number; status?: "active" | "disabled" } = {},
): Promise<void> {
  const accounts = stack.world.accounts.filter((account) => account.provider === providerId);
  const refreshable = providerId === "google" || providerId === "linkedin";
  const tokens = stack.world.issueTokens(providerId, {
    refreshable,
    ...(refreshable ? { lifetimeMs: 3_600_000 } : {}),
  });
  await db.doc(integrationPath(userId, providerId)).set({
    status: options.status ?? "active",
    accountIds: accounts.map((account) => account.id),
    automation: {
      autoSync: options.autoSync ?? true,
      cadenceHours: options.cadenceHours ?? 24,
      lookbackDays: null,
    },
  });
  await writeCredentials(db, TEST_TOKEN_KEYS, userId, providerId, tokens);
}

/**
 * What the sandbox generated for a platform's accounts over a range: the expected totals, archived
 * and deleted campaigns included (the adapters ask for them).
 */
export function expectedTotals(
  world: SandboxWorld,
  providerId: ProviderId,
  /** The same days for every account, or each account's own. */
  rangeOf: DateRange | ((account: SandboxAccount) => DateRange),
) {
  let impressions = 0;
  let spendMicros = 0n;
  let rows = 0;
  for (const account of world.accounts.filter((a) => a.provider === providerId)) {
    const range = typeof rangeOf === "function" ? rangeOf(account) : rangeOf;
    for (const date of daysBetween(range.since, range.until)) {
      for (const campaign of world.campaigns(account)) {
        const metrics = world.metrics(account, campaign.id, date);
        impressions += metrics.impressions;
        spendMicros += metrics.spendMicros;
        rows += 1;
      }
    }
  }
  return { rows, impressions, spendMicros };
}

export async function storedTotals(db: Firestore, userId: string, providerId: ProviderId) {
  const docs = (
    await db.collection(`users/${userId}/metrics`).where("provider", "==", providerId).get()
  ).docs;
  return {
    rows: docs.length,
    impressions: docs.reduce((sum, doc) => sum + Number(doc.get("impressions")), 0),
    // Exact when `db` reads integers as bigints (`useBigInt`), else as the SDK's numbers.
    spendMicros: docs.reduce((sum, doc) => sum + BigInt(doc.get("spendMicros") as number), 0n),
  };
}
