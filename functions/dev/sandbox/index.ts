/**
 * The sandbox as the local stack uses it: all four platforms, demo ad accounts, and the
 * settings that point the real provider adapters at it.
 */
import type { ProviderSettings } from "../../src/providers/settings";
import type { ProviderId } from "../../src/providers/types";
import { GOOGLE_SANDBOX_CLIENT, googleSandbox } from "./google";
import { linkedinSandbox } from "./linkedin";
import { META_SANDBOX_APP_ID, META_SANDBOX_APP_SECRET, metaSandbox } from "./meta";
import type { PlatformSandbox } from "./platform";
import type { RunningSandbox } from "./server";
import { TIKTOK_SANDBOX_APP, tiktokSandbox } from "./tiktok";
import type { SandboxAccount } from "./world";

export const SANDBOX_PLATFORMS: readonly PlatformSandbox[] = [
  googleSandbox,
  metaSandbox,
  linkedinSandbox,
  tiktokSandbox,
];

/** Our OAuth client as the LinkedIn sandbox sees it (its token endpoint checks presence only). */
const LINKEDIN_SANDBOX_CLIENT = {
  clientId: "sandbox-linkedin-client",
  clientSecret: "sandbox-linkedin-secret",
};

/** Settings overrides (PROVIDER_SETTINGS + PROVIDER_SECRETS, merged) for a running sandbox. */
export function sandboxProviderSettings(sandbox: RunningSandbox): {
  settings: Record<ProviderId, Partial<ProviderSettings[ProviderId]>>;
  secrets: Record<string, Record<string, string>>;
} {
  const urls = sandbox.baseUrls();
  return {
    settings: {
      google: { ...urls.google, clientId: GOOGLE_SANDBOX_CLIENT.clientId },
      meta: { ...urls.meta, appId: META_SANDBOX_APP_ID },
      linkedin: { ...urls.linkedin, clientId: LINKEDIN_SANDBOX_CLIENT.clientId },
      tiktok: { ...urls.tiktok, appId: TIKTOK_SANDBOX_APP.appId },
    },
    secrets: {
      google: { clientSecret: GOOGLE_SANDBOX_CLIENT.clientSecret },
      linkedin: { clientSecret: LINKEDIN_SANDBOX_CLIENT.clientSecret },
      meta: { appSecret: META_SANDBOX_APP_SECRET },
      tiktok: { appSecret: TIKTOK_SANDBOX_APP.secret },
    },
  };
}

export interface DemoIntegration {
  providerId: ProviderId;
  accounts: SandboxAccount[];
  autoSync: boolean;
  cadenceHours: number;
}

export interface DemoUser {
  userId: string;
  email: string;
  integrations: DemoIntegration[];
}

const account = (
  provider: ProviderId,
  id: string,
  name: string,
  timeZone: string,
  currency: string,
  campaigns: number,
  retired: Pick<SandboxAccount, "archivedCampaigns" | "deletedCampaigns"> = {},
): SandboxAccount => ({ provider, id, name, timeZone, currency, campaigns, ...retired });

/**
 * Three demo users covering every platform, two cadences and automation switched off. The Meta
 * accounts include archived and deleted campaigns, which Meta's insights leave out unless asked.
 */
export const DEMO_USERS: readonly DemoUser[] = [
  {
    userId: "demo-alice",
    email: "alice@example.com",
    integrations: [
      {
        providerId: "google",
        accounts: [account("google", "1234567890", "Alice Shoes", "Europe/Berlin", "EUR", 3)],
        autoSync: true,
        cadenceHours: 24,
      },
      {
        providerId: "meta",
        accounts: [
          account("meta", "100000000000001", "Alice Shoes", "Europe/Berlin", "EUR", 4, {
            archivedCampaigns: 1,
            deletedCampaigns: 1,
          }),
        ],
        autoSync: true,
        cadenceHours: 24,
      },
      {
        providerId: "linkedin",
        accounts: [account("linkedin", "500000001", "Alice B2B", "UTC", "EUR", 2)],
        autoSync: true,
        cadenceHours: 24,
      },
      {
        providerId: "tiktok",
        accounts: [account("tiktok", "7000000000000000001", "Alice Shoes", "Etc/GMT-1", "EUR", 2)],
        autoSync: true,
        cadenceHours: 6,
      },
    ],
  },
  {
    userId: "demo-bob",
    email: "bob@example.com",
    integrations: [
      {
        providerId: "google",
        accounts: [
          account("google", "2345678901", "Bob Bikes US", "America/New_York", "USD", 2),
          account("google", "3456789012", "Bob Bikes JP", "Asia/Tokyo", "JPY", 1),
        ],
        autoSync: true,
        cadenceHours: 1,
      },
      {
        providerId: "meta",
        accounts: [
          account("meta", "100000000000002", "Bob Bikes", "America/New_York", "USD", 3, {
            archivedCampaigns: 1,
          }),
        ],
        autoSync: false,
        cadenceHours: 24,
      },
    ],
  },
  {
    userId: "demo-carol",
    email: "carol@example.com",
    integrations: [
      {
        providerId: "tiktok",
        accounts: [
          account("tiktok", "7000000000000000002", "Carol Cosmetics", "Etc/GMT+8", "USD", 3),
        ],
        autoSync: true,
        cadenceHours: 12,
      },
    ],
  },
];

export const demoAccounts = (): SandboxAccount[] =>
  DEMO_USERS.flatMap((user) => user.integrations.flatMap((integration) => integration.accounts));
