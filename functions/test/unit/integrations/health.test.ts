import { Timestamp } from "firebase-admin/firestore";

import { applyDiscovery, syncedAccountIds } from "../../../src/integrations/accounts";
import {
  assessHealth,
  EXPIRY_WARNING_MS,
  expiryAlertDue,
  hasEnded,
} from "../../../src/integrations/health";
import type { AccountEntry } from "../../../src/integrations/model";
import type { DiscoveredAccount } from "../../../src/providers/types";

const NOW = new Date("2026-11-20T00:00:00Z");
const DAY_MS = 86_400_000;
/** The credentials document's version the health describes. */
const VERSION = Timestamp.fromMillis(Date.parse("2026-11-01T00:00:00Z"));

describe("credential health", () => {
  it("is ok far from the end, expiring within the warning, expired past it", () => {
    const at = (daysLeft: number) =>
      assessHealth(
        {
          providerId: "linkedin",
          credentials: { accessToken: "a", refreshToken: "r" },
          facts: {
            valid: true,
            accessTokenExpiresAt: NOW.getTime() + 30 * DAY_MS,
            connectionExpiresAt: NOW.getTime() + daysLeft * DAY_MS,
          },
          previous: null,
          credentialsAt: VERSION,
        },
        NOW,
      );
    expect(at(100).state).toBe("ok");
    expect(at(EXPIRY_WARNING_MS / DAY_MS).state).toBe("expiring");
    expect(at(0).state).toBe("expired");
    expect(at(5).reconnectBy?.toMillis()).toBe(NOW.getTime() + 5 * DAY_MS);
    // With a refresh token, the access token's own end is not the connection's.
    expect(at(100).basis).toBe("linkedin_connection_end");
  });

  it("ends a connection without a refresh token with its access token, the earlier end first", () => {
    const health = assessHealth(
      {
        providerId: "meta",
        credentials: { accessToken: "a" },
        facts: {
          valid: true,
          accessTokenExpiresAt: NOW.getTime() + 10 * DAY_MS,
          connectionExpiresAt: NOW.getTime() + 90 * DAY_MS,
        },
        previous: null,
        credentialsAt: VERSION,
      },
      NOW,
    );
    expect(health).toMatchObject({ state: "expiring", basis: "meta_access_token_end" });
  });

  it("has no end for a platform that reports none, and is revoked when refused", () => {
    const google = assessHealth(
      {
        providerId: "google",
        credentials: { accessToken: "a", refreshToken: "r" },
        previous: null,
        credentialsAt: VERSION,
      },
      NOW,
    );
    expect(google).toMatchObject({ state: "ok", reconnectBy: null, basis: "no_known_end" });
    const refused = assessHealth(
      {
        providerId: "google",
        credentials: { accessToken: "a" },
        refused: true,
        previous: google,
        credentialsAt: VERSION,
      },
      NOW,
    );
    expect(refused.state).toBe("revoked");
    expect(hasEnded(refused, VERSION, NOW)).toBe(true);
    expect(hasEnded(google, VERSION, NOW)).toBe(false);
    // A reconnect wrote new credentials: they are not held back before a discovery judges them.
    expect(hasEnded(refused, Timestamp.fromMillis(VERSION.toMillis() + 1), NOW)).toBe(false);
  });

  it("alerts once per end: the mark stays for the same end and clears for a new one", () => {
    const facts = (days: number) => ({
      valid: true,
      accessTokenExpiresAt: null,
      connectionExpiresAt: NOW.getTime() + days * DAY_MS,
    });
    const input = {
      providerId: "linkedin" as const,
      credentials: { accessToken: "a", refreshToken: "r" },
      credentialsAt: VERSION,
    };
    const first = assessHealth({ ...input, facts: facts(5), previous: null }, NOW);
    expect(expiryAlertDue(first)).toBe(true);
    const alerted = { ...first, alertedFor: first.reconnectBy };
    expect(
      expiryAlertDue(assessHealth({ ...input, facts: facts(5), previous: alerted }, NOW)),
    ).toBe(false);
    // A reconnect gave a new end: a new alert when that one nears.
    expect(
      expiryAlertDue(assessHealth({ ...input, facts: facts(6), previous: alerted }, NOW)),
    ).toBe(true);
  });
});

describe("account discovery merge", () => {
  const found = (
    accountId: string,
    status: "active" | "inactive" = "active",
  ): DiscoveredAccount => ({
    accountId,
    name: `Account ${accountId}`,
    currency: "USD",
    timeZone: "UTC",
    status,
    platformStatus: status === "active" ? "ENABLED" : "CANCELED",
    hierarchy: [],
  });
  const empty = { accounts: {}, accountIds: [], accountSelection: "all" as const };

  it("starts a fixed list's selection from it, and marks an account no longer listed lost", () => {
    const first = applyDiscovery(
      "google",
      { ...empty, accountIds: ["111-111-1111"], accountSelection: "selected" },
      [found("1111111111"), found("2222222222")],
      NOW,
    );
    expect(first.added.sort()).toEqual(["1111111111", "2222222222"]);
    expect(first.accounts["1111111111"]?.selected).toBe(true);
    expect(first.accounts["2222222222"]?.selected).toBe(false);

    const later = new Date(NOW.getTime() + DAY_MS);
    const second = applyDiscovery(
      "google",
      { accounts: first.accounts, accountIds: ["111-111-1111"], accountSelection: "selected" },
      [found("2222222222")],
      later,
    );
    expect(second.lost).toEqual(["1111111111"]);
    const lost = second.accounts["1111111111"] as AccountEntry;
    expect(lost).toMatchObject({
      status: "lost_access",
      selected: true,
      name: "Account 1111111111",
    });
    expect(lost.lostAccessAt?.toDate()).toEqual(later);
    expect(lost.firstSeenAt.toDate()).toEqual(NOW);
  });

  it("syncs every active account with all, the chosen active ones with selected", () => {
    const { accounts } = applyDiscovery(
      "google",
      empty,
      [found("1111111111"), found("2222222222"), found("3333333333", "inactive")],
      NOW,
    );
    const discoveredAt = Timestamp.fromDate(NOW);
    expect(
      syncedAccountIds({ accounts, accountIds: [], accountSelection: "all", discoveredAt }),
    ).toEqual(["1111111111", "2222222222"]);
    const chosen = { ...accounts, "2222222222": { ...accounts["2222222222"]!, selected: true } };
    expect(
      syncedAccountIds({
        accounts: chosen,
        accountIds: [],
        accountSelection: "selected",
        discoveredAt,
      }),
    ).toEqual(["2222222222"]);
    // Before any discovery, the fixed list.
    expect(
      syncedAccountIds({
        accounts: {},
        accountIds: ["9"],
        accountSelection: "selected",
        discoveredAt: null,
      }),
    ).toEqual(["9"]);
  });
});
