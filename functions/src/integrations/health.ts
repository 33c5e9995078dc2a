/**
 * Credential health (pure): when the user must reconnect, and how close that is. Connections
 * die on the platforms' own schedules — LinkedIn's refresh token 365 days after consent whatever
 * the refreshes, Meta's user tokens and data access after their set times — or at once when
 * revoked. Knowing the date ahead lets the dashboard and an alert ask the user to reconnect
 * before syncs stop, and lets a job refuse an expired connection without a wasted platform call.
 *
 * Google and TikTok set no end a platform reports (a Google refresh token lives until revoked,
 * unused for six months, or — for an app in "Testing" — seven days, none of which an endpoint
 * tells): their `reconnectBy` is null and their health is what the last call said.
 */
import { Timestamp } from "firebase-admin/firestore";

import type { CredentialFacts, Credentials, ProviderId } from "../providers/types";
import type { CredentialHealth, CredentialState } from "./model";

/** A connection ending within this is `expiring`: time for the user to act, and one alert. */
export const EXPIRY_WARNING_MS = 14 * 86_400_000;

export interface HealthInput {
  providerId: ProviderId;
  credentials: Credentials;
  /** What the platform said of the credentials (absent: it has no inspection endpoint). */
  facts?: CredentialFacts;
  /** The platform refused the credentials outright (an `auth` failure). */
  refused?: boolean;
  /** The stored health, whose alert mark is kept for the same expiry. */
  previous: CredentialHealth | null;
  /** The credentials document's update time (the version judged). */
  credentialsAt: Timestamp | null;
}

/** The end the platform sets, and what set it; null when none is known. */
function connectionEnd(input: HealthInput): { at: number; basis: string } | null {
  const { providerId, credentials, facts } = input;
  const ends: Array<{ at: number; basis: string }> = [];
  const connectionExpiresAt = facts?.connectionExpiresAt ?? null;
  if (connectionExpiresAt !== null) {
    ends.push({ at: connectionExpiresAt, basis: `${providerId}_connection_end` });
  }
  // Without a refresh token the access token's end is the connection's (Meta, a LinkedIn app
  // without programmatic refresh).
  const accessEnd = facts?.accessTokenExpiresAt ?? credentials.expiresAt ?? null;
  if (accessEnd !== null && credentials.refreshToken === undefined) {
    ends.push({ at: accessEnd, basis: `${providerId}_access_token_end` });
  }
  return ends.reduce<{ at: number; basis: string } | null>(
    (first, end) => (first === null || end.at < first.at ? end : first),
    null,
  );
}

export function assessHealth(input: HealthInput, now: Date): CredentialHealth {
  const end = connectionEnd(input);
  const refused = input.refused === true || input.facts?.valid === false;
  const state: CredentialState = refused
    ? "revoked"
    : end !== null && end.at <= now.getTime()
      ? "expired"
      : end !== null && end.at - now.getTime() <= EXPIRY_WARNING_MS
        ? "expiring"
        : "ok";
  const reconnectBy = end === null ? null : Timestamp.fromMillis(end.at);
  const previous = input.previous;
  return {
    state,
    reconnectBy,
    basis: refused ? "refused" : (end?.basis ?? "no_known_end"),
    checkedAt: Timestamp.fromDate(now),
    lastVerifiedAt: refused ? (previous?.lastVerifiedAt ?? null) : Timestamp.fromDate(now),
    // An alert sent for this same end stays sent.
    alertedFor:
      previous?.alertedFor && reconnectBy && previous.alertedFor.isEqual(reconnectBy)
        ? previous.alertedFor
        : null,
    credentialsAt: input.credentialsAt,
  };
}

/**
 * Whether the stored health says these credentials (`credentialsAt`: their document's update
 * time) have ended: no platform call with them can succeed. Credentials written since (a
 * reconnect) are not held back: the next discovery judges them.
 */
export function hasEnded(
  health: CredentialHealth | null,
  credentialsAt: Timestamp | undefined,
  now: Date,
): boolean {
  return (
    health !== null &&
    health.credentialsAt !== null &&
    credentialsAt !== undefined &&
    health.credentialsAt.isEqual(credentialsAt) &&
    (health.state === "revoked" ||
      (health.reconnectBy !== null && health.reconnectBy.toMillis() <= now.getTime()))
  );
}

/** Whether an expiry alert is due: expiring, and none sent yet for this end. */
export const expiryAlertDue = (health: CredentialHealth): boolean =>
  health.state === "expiring" && health.reconnectBy !== null && health.alertedFor === null;
