/**
 * A new integration (`onIntegrationConnected`, what `startBackfillOnConnect` runs): its two-year
 * plan and a sync of its recent days, with no day between the two, and nothing added by a
 * second delivery of the same event. On the official Firestore emulator.
 */
import { CONNECT_SOURCE, onIntegrationConnected } from "../../../src/backfill/connect";
import { DEFAULT_BACKFILL_DAYS } from "../../../src/backfill/plan";
import { sinceDaysBack } from "../../../src/backfill/store";
import { jobRef, parseJob } from "../../../src/jobs/store";
import { addDays } from "../../../src/providers/ranges";
import { ADAPTERS } from "../../../src/providers/registry";
import { type TestFirestore, testFirestore } from "../../harness/firestore";
import { manualClock, seedIntegration } from "../../harness/seed";

const time = manualClock("2026-11-28T10:00:00Z");
let firestore: TestFirestore;

beforeAll(() => {
  firestore = testFirestore("backfill-connect");
});
afterAll(() => firestore.close());

const deps = () => ({ db: firestore.db, clock: time.clock });

describe("a new integration", () => {
  it("gets its two-year plan and a sync reaching the plan's newest day, once", async () => {
    await seedIntegration(firestore.db, { userId: "new-user", providerId: "google" });
    const first = await onIntegrationConnected(
      deps(),
      { userId: "new-user", providerId: "google" },
      ADAPTERS.google.history,
    );
    expect(first.backfill.status).toBe("queued");
    expect(first.sync.status).toBe("queued");
    if (first.backfill.status !== "queued" || first.sync.status !== "queued") {
      return;
    }
    const plan = first.backfill.plan;
    expect(plan.requestedSince).toBe(sinceDaysBack(time.clock(), DEFAULT_BACKFILL_DAYS));
    const [account] = Object.values(plan.accounts);
    const sync = parseJob(
      first.sync.jobId,
      (await jobRef(firestore.db, first.sync.jobId).get()).data(),
    ).job;
    expect(sync).toMatchObject({ type: "manual-sync", source: CONNECT_SOURCE, status: "queued" });
    // The sync pulls its last `timeframeDays` complete days and today: from the plan's newest
    // day on, so no day lies between the two.
    expect(addDays("2026-11-28", -sync.timeframeDays)).toBe(account!.until);

    const again = await onIntegrationConnected(
      deps(),
      { userId: "new-user", providerId: "google" },
      ADAPTERS.google.history,
    );
    expect(again.backfill).toMatchObject({ status: "existing", jobId: first.backfill.jobId });
    expect(again.sync).toMatchObject({ status: "existing", jobId: first.sync.jobId });
  });

  it("plans nothing for an integration without accounts, and still syncs it", async () => {
    await seedIntegration(firestore.db, {
      userId: "empty-user",
      providerId: "meta",
      accountIds: [],
    });
    const outcome = await onIntegrationConnected(
      deps(),
      { userId: "empty-user", providerId: "meta" },
      ADAPTERS.meta.history,
    );
    expect(outcome.backfill).toMatchObject({ status: "skipped", reason: "no_accounts" });
    expect(outcome.sync.status).toBe("queued");
  });
});
