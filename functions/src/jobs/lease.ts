/** The guide's 30 minutes: a running job whose lease is older than this is stale and reset. */
export const DEFAULT_LEASE_MS = 30 * 60 * 1000;
