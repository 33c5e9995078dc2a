/**
 * How stored documents are shown to their owner (the status and accounts endpoints): fields
 * picked one by one, times as ISO strings — never a token, never a field added later unseen.
 */
import type { Timestamp } from "firebase-admin/firestore";

import type { AccountEntry, CredentialHealth } from "../integrations/model";

export const iso = (timestamp: Timestamp | null): string | null =>
  timestamp ? timestamp.toDate().toISOString() : null;

export const accountView = (entry: AccountEntry) => ({
  accountId: entry.accountId,
  name: entry.name,
  currency: entry.currency,
  timeZone: entry.timeZone,
  status: entry.status,
  platformStatus: entry.platformStatus,
  hierarchy: entry.hierarchy,
  selected: entry.selected,
  firstSeenAt: iso(entry.firstSeenAt),
  lastSeenAt: iso(entry.lastSeenAt),
  lostAccessAt: iso(entry.lostAccessAt),
});

export const credentialHealthView = (health: CredentialHealth | null) =>
  health
    ? {
        state: health.state,
        reconnectBy: iso(health.reconnectBy),
        basis: health.basis,
        checkedAt: iso(health.checkedAt),
        lastVerifiedAt: iso(health.lastVerifiedAt),
      }
    : null;
