/**
 * The stored-totals audit of issue 11, end to end at the domain level (official Firestore
 * emulator, sandbox platforms over real HTTP): one integration per platform with an account in
 * UTC+14, one in UTC−11 and a neighbour the platform throttles. The job stores the two
 * accounts' own days at once, defers for the throttled one alone, and after the wait every
 * account's stored totals equal what the sandbox generated for that account's own days; the zones
 * learnt are kept, so a later job spends no zone lookup.
 */
import type { SandboxAccount } from "../../../dev/sandbox/world";
import { integrationPath, integrationSchema } from "../../../src/integrations/model";
import { DEFAULT_LEASE_MS } from "../../../src/jobs/lease";
import { type ProcessDeps, runJob } from "../../../src/jobs/process";
import { enqueueJobs, jobRef, parseJob } from "../../../src/jobs/store";
import type { ProviderId } from "../../../src/providers/types";
import { createLogger } from "../../../src/shared/logger";
import { type TestFirestore, testFirestore } from "../../harness/firestore";
import { manualClock, TEST_TOKEN_KEYS } from "../../harness/seed";
import {
  expectedTotals,
  seedSandboxIntegration,
  startTestStack,
  storedTotals,
  type TestStack,
} from "../../harness/stack";

type Case = { provider: ProviderId; ids: [string, string, string] };
const CASES: Case[] = [
  { provider: "google", ids: ["1400000001", "1100000002", "3000000003"] },
  { provider: "meta", ids: ["140000000000001", "110000000000002", "300000000000003"] },
  {
    provider: "tiktok",
    ids: ["7140000000000000001", "7110000000000000002", "7300000000000000003"],
  },
];
const ZONES = ["Pacific/Kiritimati", "Pacific/Pago_Pago", "UTC"];

const accounts: SandboxAccount[] = CASES.flatMap(({ provider, ids }) =>
  ids.map((id, i) => ({
    provider,
    id,
    name: `${provider} ${ZONES[i]}`,
    timeZone: ZONES[i]!,
    currency: "USD",
    campaigns: 3,
  })),
);

let firestore: TestFirestore;
let stack: TestStack;
let users = 0;

beforeAll(async () => {
  firestore = testFirestore("account-days");
  stack = await startTestStack(accounts);
});
afterAll(async () => {
  await stack.stop();
  await firestore.close();
});

/** The sandbox's own idea of an account's days for `timeframeDays: 2` (its clock, its zone). */
const ownDays = (account: SandboxAccount) => {
  const until = stack.world.today(account);
  const since = new Date(Date.parse(`${until}T00:00:00Z`) - 2 * 86_400_000).toISOString();
  return { since: since.slice(0, 10), until };
};

/** The job engine of one function instance (a fresh provider runtime) on `clock`. */
const instance = (clock: ProcessDeps["clock"]): ProcessDeps => ({
  db: firestore.db,
  clock,
  fetchMetrics: stack.newRuntime(),
  logger: createLogger({ test: "account-days" }),
  owner: "worker",
  leaseMs: DEFAULT_LEASE_MS,
  tokenKeys: TEST_TOKEN_KEYS,
});

describe.each(CASES)(
  "$provider: accounts in UTC+14 and UTC−11 with a throttled neighbour",
  ({ provider, ids }) => {
    it("stores each account's own days, exactly once, whatever the neighbour's throttle", async () => {
      const userId = `days-user-${(users += 1)}`;
      const time = manualClock(new Date().toISOString());
      // Each run is another function instance: its own limiters.
      const deps = () => instance(time.clock);
      await seedSandboxIntegration(firestore.db, stack, userId, provider);
      const [queued] = await enqueueJobs(deps(), [
        { userId, providerId: provider, type: "manual-sync", timeframeDays: 2, source: "test" },
      ]);
      const jobId = queued?.status === "queued" ? queued.jobId : "";
      const [east, west, throttled] = ids.map((id) => stack.world.account(provider, id)!);
      stack.world.setFaults(provider, {
        throttles: [{ scope: "account", id: throttled!.id, retryAfterSeconds: 1 }],
      });

      // First run: the throttled account defers the job; the others' days are stored already.
      expect(await runJob(deps(), jobId)).toMatchObject({
        outcome: "retry_scheduled",
        errorCode: "rate_limited",
      });
      const deferred = parseJob(jobId, (await jobRef(firestore.db, jobId).get()).data()).job;
      expect(deferred).toMatchObject({ status: "queued", attempts: 0, deferrals: 1 });
      const first = await storedTotals(firestore.db, userId, provider);
      const eastWest = (account: SandboxAccount) =>
        account === east || account === west ? ownDays(account) : { since: "1", until: "0" };
      expect(first).toEqual(expectedTotals(stack.world, provider, eastWest));

      // After the platform's wait, another instance completes it.
      stack.world.setFaults(provider, {});
      time.set(deferred.nextAttemptAt.toDate().toISOString());
      expect((await runJob(deps(), jobId)).outcome).toBe("succeeded");
      const job = parseJob(jobId, (await jobRef(firestore.db, jobId).get()).data()).job;
      expect(
        job.result?.accounts.map(({ accountId, since, until, timeZone }) => ({
          accountId,
          since,
          until,
          timeZone,
        })),
      ).toEqual(
        [east!, west!, throttled!].map((account) => ({
          accountId: account.id,
          ...ownDays(account),
          timeZone: account.timeZone,
        })),
      );
      // UTC+14 and UTC−11 never share a calendar day.
      expect(ownDays(east!).until > ownDays(west!).until).toBe(true);
      const all = expectedTotals(stack.world, provider, ownDays);
      expect(await storedTotals(firestore.db, userId, provider)).toEqual(all);
      expect(job.result).toMatchObject({ rowsFetched: all.rows, rowsZeroed: 0 });

      // The zones are kept: Google's next job asks no zone query.
      const integration = integrationSchema.parse(
        (await firestore.db.doc(integrationPath(userId, provider)).get()).data(),
      );
      expect(integration.accountTimeZones).toEqual(
        Object.fromEntries([east!, west!, throttled!].map((a) => [a.id, a.timeZone])),
      );
      if (provider === "google") {
        const [again] = await enqueueJobs(deps(), [
          { userId, providerId: provider, type: "manual-sync", timeframeDays: 2, source: "test" },
        ]);
        const before = stack.world.requestLog.length;
        const againId = again?.status === "queued" ? again.jobId : "";
        expect((await runJob(deps(), againId)).outcome).toBe("succeeded");
        const streams = stack.world.requestLog
          .slice(before)
          .filter((request) => request.path.endsWith("googleAds:searchStream"));
        // One report query per account, no zone query.
        expect(streams).toHaveLength(3);
      }
    });

    it("zeroes and marks the days of a campaign the platform stops returning, and only those", async () => {
      const userId = `days-user-${(users += 1)}`;
      const time = manualClock(new Date().toISOString());
      const deps = instance(time.clock);
      await seedSandboxIntegration(firestore.db, stack, userId, provider);
      const sync = async () => {
        const [queued] = await enqueueJobs(deps, [
          { userId, providerId: provider, type: "manual-sync", timeframeDays: 2, source: "test" },
        ]);
        const jobId = queued?.status === "queued" ? queued.jobId : "";
        expect((await runJob(deps, jobId)).outcome).toBe("succeeded");
        return parseJob(jobId, (await jobRef(firestore.db, jobId).get()).data()).job;
      };
      await sync();
      // The platform no longer returns the east account's last campaign (deleted, or its days
      // restated to nothing, which Google leaves out of the report).
      const east = stack.world.account(provider, ids[0])! as { campaigns: number };
      east.campaigns -= 1;
      try {
        const job = await sync();
        const vanishedDays = 3;
        expect(job.result).toMatchObject({ rowsZeroed: vanishedDays, rowsWritten: 0 });
        const all = expectedTotals(stack.world, provider, ownDays);
        const stored = await storedTotals(firestore.db, userId, provider);
        // The zeroed rows stay (never deleted) and add nothing to the totals.
        expect(stored).toEqual({ ...all, rows: all.rows + vanishedDays });
      } finally {
        east.campaigns += 1;
      }
    });
  },
);
