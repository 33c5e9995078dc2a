/**
 * A user's connection to one ad platform: `users/{userId}/integrations/{providerId}`, readable by
 * its owner (status, automation settings, sync times — never tokens). The OAuth tokens live in a
 * separate server-only document, `users/{userId}/integrations/{providerId}/private/credentials`,
 * which the rules deny to every client, and the tokens in it are encrypted (`credentials.ts`).
 */
import { Timestamp } from "firebase-admin/firestore";
import { z } from "zod";

import { PROVIDER_IDS, type ProviderId } from "../providers/types";

export const INTEGRATION_STATUSES = ["active", "needs_reauth", "disabled", "error"] as const;
export type IntegrationStatus = (typeof INTEGRATION_STATUSES)[number];

/** Sync cadences the scheduler honours, in hours; shorter than a day works too. */
export const CADENCE_HOURS = [1, 2, 3, 4, 6, 8, 12, 24] as const;
export const MAX_LOOKBACK_DAYS = 90;

/** Each automation setting and its rule (the endpoint's strict request schema uses them too). */
export const automationFields = {
  autoSync: z.boolean(),
  cadenceHours: z.number().refine((value) => (CADENCE_HOURS as readonly number[]).includes(value), {
    error: `must be one of ${CADENCE_HOURS.join(", ")}`,
  }),
  /** Days re-pulled by scheduled syncs; null = the platform's restatement default. */
  lookbackDays: z.number().int().min(1).max(MAX_LOOKBACK_DAYS).nullable(),
};

export interface Automation {
  autoSync: boolean;
  cadenceHours: number;
  lookbackDays: number | null;
}

export const DEFAULT_AUTOMATION: Automation = {
  autoSync: true,
  cadenceHours: 24,
  lookbackDays: null,
};

/**
 * The stored settings: stripping, like every stored document's schema, so that a setting written
 * by newer code is ignored on read; each setting defaults on its own, so the endpoint can update
 * one field of the map without reading the others first.
 */
export const automationSchema = z.object({
  autoSync: automationFields.autoSync.default(DEFAULT_AUTOMATION.autoSync),
  cadenceHours: automationFields.cadenceHours.default(DEFAULT_AUTOMATION.cadenceHours),
  lookbackDays: automationFields.lookbackDays.default(DEFAULT_AUTOMATION.lookbackDays),
}) satisfies z.ZodType<Automation, unknown>;

const timestamp = z.instanceof(Timestamp);

/**
 * Which discovered accounts an integration syncs: every one (`all`, accounts found later
 * included), or the chosen ones (`selected`). Documents from before discovery hold a fixed list:
 * they read as `selected`, that list being the selection.
 */
export const ACCOUNT_SELECTIONS = ["all", "selected"] as const;
export type AccountSelection = (typeof ACCOUNT_SELECTIONS)[number];

/**
 * One ad account the connection reached (by canonical id in `accounts`): what its platform said
 * of it at the last discovery. `lost_access`: listed before, not any more (access removed, the
 * account deleted) — kept and marked, its history kept, no longer synced.
 */
export const accountEntrySchema = z.object({
  /** As the platform spells it, and the syncs ask for it. */
  accountId: z.string().min(1),
  name: z.string(),
  currency: z.string().nullable().default(null),
  timeZone: z.string().nullable().default(null),
  status: z.enum(["active", "inactive", "lost_access"]),
  platformStatus: z.string().default(""),
  /** Google: its managers, top first (the first is its `login-customer-id`); Meta: its business. */
  hierarchy: z.array(z.string()).default([]),
  selected: z.boolean(),
  firstSeenAt: timestamp,
  lastSeenAt: timestamp.nullable().default(null),
  lostAccessAt: timestamp.nullable().default(null),
});
export type AccountEntry = z.infer<typeof accountEntrySchema>;

export const CREDENTIAL_STATES = ["ok", "expiring", "expired", "revoked"] as const;
export type CredentialState = (typeof CREDENTIAL_STATES)[number];

/** What is known of the connection's life (`health.ts`), as of its last check. */
export const credentialHealthSchema = z.object({
  state: z.enum(CREDENTIAL_STATES),
  /** When the user must reconnect by; null: the platform sets no end (Google, TikTok). */
  reconnectBy: timestamp.nullable(),
  /** What decided it, e.g. `linkedin_refresh_token_end`, `meta_data_access_end`, `revoked`. */
  basis: z.string(),
  checkedAt: timestamp,
  /** When the platform last accepted the credentials (a discovery, a refresh). */
  lastVerifiedAt: timestamp.nullable().default(null),
  /** The `reconnectBy` an expiry alert was sent for: one alert per expiry. */
  alertedFor: timestamp.nullable().default(null),
  /**
   * The credentials it describes (their document's update time): a reconnect writes new ones,
   * which an ended health no longer holds back until the next discovery judges them.
   */
  credentialsAt: timestamp.nullable().default(null),
});
export type CredentialHealth = z.infer<typeof credentialHealthSchema>;

export const integrationSchema = z.object({
  status: z.enum(INTEGRATION_STATUSES),
  accountIds: z.array(z.string().min(1)).default([]),
  /** Google: the manager account access goes through (`login-customer-id`). */
  loginCustomerId: z.string().min(1).nullable().default(null),
  automation: automationSchema.default(DEFAULT_AUTOMATION),
  lastSyncRequestedAt: timestamp.nullable().default(null),
  lastSyncedAt: timestamp.nullable().default(null),
  /** The queued or running job of this integration, if any: one at a time. */
  activeJobId: z.string().nullable().default(null),
  /** The last scheduled slot a job was enqueued for (idempotent scheduling). */
  lastScheduledSlot: z.string().nullable().default(null),
  lastError: z
    .object({ code: z.string(), reason: z.string(), message: z.string(), at: timestamp })
    .nullable()
    .default(null),
  consecutiveFailures: z.number().int().min(0).default(0),
  /**
   * The zone each account's days are reported in (canonical account id → IANA zone), recorded
   * by its last successful fetch: the next job resolves its window without looking it up.
   */
  accountTimeZones: z.record(z.string(), z.string().min(1)).default({}),
  accountSelection: z.enum(ACCOUNT_SELECTIONS).default("selected"),
  /** Every account discovery found (canonical id → entry); `accountIds` is what is synced. */
  accounts: z.record(z.string(), accountEntrySchema).default({}),
  discoveredAt: timestamp.nullable().default(null),
  credentialHealth: credentialHealthSchema.nullable().default(null),
});
export type Integration = z.infer<typeof integrationSchema>;

/**
 * The stored form: both tokens sealed (`crypto.ts`: `v1.<keyId>.<iv>.<ciphertext>`), each bound to
 * this document and field; only `credentials.ts` seals and opens them.
 */
export const credentialsSchema = z.object({
  accessToken: z.string().min(1),
  refreshToken: z.string().min(1).nullable().default(null),
  /** Access-token expiry; null for long-lived tokens. */
  expiresAt: timestamp.nullable().default(null),
});
export type StoredCredentials = z.infer<typeof credentialsSchema>;

export const INTEGRATIONS_COLLECTION = "integrations";

export const integrationsPath = (userId: string): string =>
  `users/${userId}/${INTEGRATIONS_COLLECTION}`;

export const integrationPath = (userId: string, providerId: ProviderId): string =>
  `${integrationsPath(userId)}/${providerId}`;

/** The server-only subcollection of an integration; `credentials` is its one document. */
export const PRIVATE_COLLECTION = "private";

export const credentialsPath = (userId: string, providerId: ProviderId): string =>
  `${integrationPath(userId, providerId)}/${PRIVATE_COLLECTION}/credentials`;

export const isProviderId = (value: string): value is ProviderId =>
  (PROVIDER_IDS as readonly string[]).includes(value);
