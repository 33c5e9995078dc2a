/**
 * What a discovery changes on an integration (pure): each account the platform listed is
 * recorded with what it said (name, currency, zone, status, hierarchy); an account listed before
 * and not now is marked `lost_access` — kept with its history, never silently dropped. The
 * accounts synced follow the integration's selection (`syncedAccountIds`): every active account
 * (`all`, new ones included as they appear), or the chosen ones still active (`selected`).
 *
 * Before its first discovery an integration syncs its fixed `accountIds`, which are then the
 * selection its first discovery starts from; after it, the entries' `selected` flags are the
 * selection, set one by one (the accounts endpoint), so that no write derives a list from a read.
 */
import { Timestamp } from "firebase-admin/firestore";

import { canonicalAccountId } from "../providers/ids";
import type { DiscoveredAccount, ProviderId } from "../providers/types";
import type { AccountEntry, Integration } from "./model";

export interface AccountChanges {
  accounts: Record<string, AccountEntry>;
  /** Canonical ids first seen now, and those that lost access now. */
  added: string[];
  lost: string[];
}

/**
 * The accounts a sync asks for: before any discovery the fixed list; after, the active accounts
 * the selection names — every one, or the selected ones — in id order.
 */
export function syncedAccountIds(
  integration: Pick<Integration, "accounts" | "accountIds" | "accountSelection" | "discoveredAt">,
): string[] {
  if (integration.discoveredAt === null) {
    return integration.accountIds;
  }
  const { accounts, accountSelection } = integration;
  return Object.keys(accounts)
    .sort()
    .map((canonicalId) => accounts[canonicalId]!)
    .filter((entry) => entry.status === "active" && (accountSelection === "all" || entry.selected))
    .map((entry) => entry.accountId);
}

export function applyDiscovery(
  providerId: ProviderId,
  integration: Pick<Integration, "accounts" | "accountIds" | "accountSelection">,
  discovered: readonly DiscoveredAccount[],
  now: Date,
): AccountChanges {
  const at = Timestamp.fromDate(now);
  const previous = integration.accounts;
  // Before the first discovery the integration's fixed list is its selection.
  const listed = new Set(
    integration.accountIds.map((accountId) => canonicalAccountId(providerId, accountId)),
  );
  const accounts: Record<string, AccountEntry> = {};
  const added: string[] = [];
  for (const account of discovered) {
    const canonicalId = canonicalAccountId(providerId, account.accountId);
    const known = previous[canonicalId];
    if (!known) {
      added.push(canonicalId);
    }
    accounts[canonicalId] = {
      accountId: account.accountId,
      name: account.name,
      currency: account.currency,
      timeZone: account.timeZone,
      status: account.status,
      platformStatus: account.platformStatus,
      hierarchy: account.hierarchy,
      selected: known?.selected ?? listed.has(canonicalId),
      firstSeenAt: known?.firstSeenAt ?? at,
      lastSeenAt: at,
      lostAccessAt: null,
    };
  }
  const lost: string[] = [];
  // Accounts known before (discovered, or on the fixed list) that the platform no longer lists.
  const before = new Map<string, AccountEntry | undefined>(Object.entries(previous));
  for (const accountId of integration.accountIds) {
    const canonicalId = canonicalAccountId(providerId, accountId);
    if (!before.has(canonicalId)) {
      before.set(canonicalId, undefined);
    }
  }
  for (const [canonicalId, known] of before) {
    if (accounts[canonicalId]) {
      continue;
    }
    if (known?.status !== "lost_access") {
      lost.push(canonicalId);
    }
    const accountId =
      known?.accountId ??
      integration.accountIds.find((id) => canonicalAccountId(providerId, id) === canonicalId)!;
    accounts[canonicalId] = {
      accountId,
      name: known?.name ?? "",
      currency: known?.currency ?? null,
      timeZone: known?.timeZone ?? null,
      status: "lost_access",
      platformStatus: known?.platformStatus ?? "",
      hierarchy: known?.hierarchy ?? [],
      selected: known?.selected ?? listed.has(canonicalId),
      firstSeenAt: known?.firstSeenAt ?? at,
      lastSeenAt: known?.lastSeenAt ?? null,
      lostAccessAt: known?.lostAccessAt ?? at,
    };
  }
  return { accounts, added, lost };
}

/** Google: each synced account's `login-customer-id`, the top of its discovered hierarchy. */
export function loginCustomerIdsOf(
  accounts: Readonly<Record<string, AccountEntry>>,
): Record<string, string> {
  return Object.fromEntries(
    Object.values(accounts).flatMap((entry) =>
      entry.hierarchy[0] === undefined ? [] : [[entry.accountId, entry.hierarchy[0]]],
    ),
  );
}
