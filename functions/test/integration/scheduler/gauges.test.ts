/** Queue gauges on seeded jobs, through real aggregation queries on the official Firestore emulator. */
import type { Job } from "../../../src/jobs/model";
import { jobRef } from "../../../src/jobs/store";
import { readQueueGauges } from "../../../src/scheduler/gauges";
import { type TestFirestore, testFirestore } from "../../harness/firestore";
import { minutesBefore, seededJob } from "./seeded-jobs";

const NOW = new Date("2026-11-28T12:00:00Z");
const minutesAgo = (minutes: number) => minutesBefore(NOW, minutes);

let firestore: TestFirestore;

beforeEach(() => {
  firestore = testFirestore("gauges");
});
afterEach(() => firestore.close());

async function seed(jobs: Record<string, Partial<Job>>): Promise<void> {
  for (const [id, overrides] of Object.entries(jobs)) {
    await jobRef(firestore.db, id).set(seededJob(NOW, overrides));
  }
}

describe("readQueueGauges", () => {
  it("counts each state and measures the oldest due job", async () => {
    await seed({
      "queued-oldest": { nextAttemptAt: minutesAgo(45) },
      "queued-due": { nextAttemptAt: minutesAgo(5) },
      "queued-later": { nextAttemptAt: minutesAgo(-30) },
      "running-leased": { status: "running", leaseExpiresAt: minutesAgo(-10) },
      "running-stale": { status: "running", leaseExpiresAt: minutesAgo(3) },
      "failed-recent": { status: "failed", finishedAt: minutesAgo(120) },
      "failed-old": { status: "failed", finishedAt: minutesAgo(25 * 60) },
      succeeded: { status: "succeeded", finishedAt: minutesAgo(10) },
    });
    expect(await readQueueGauges(firestore.db, NOW)).toEqual({
      queued: 3,
      running: 2,
      stale: 1,
      failedLast24h: 1,
      oldestDueAgeSeconds: 45 * 60,
      oldestDueJobId: "queued-oldest",
    });
  });

  it("names the counts that reached the cap, which stay exact below it", async () => {
    await seed({
      a: { nextAttemptAt: minutesAgo(3) },
      b: { nextAttemptAt: minutesAgo(2) },
      c: { nextAttemptAt: minutesAgo(1) },
      d: { status: "running", leaseExpiresAt: minutesAgo(-10) },
    });
    expect(await readQueueGauges(firestore.db, NOW, 3)).toMatchObject({
      queued: 3,
      running: 1,
      capped: ["queued"],
    });
    const wider = await readQueueGauges(firestore.db, NOW, 4);
    expect(wider.queued).toBe(3);
    expect(wider).not.toHaveProperty("capped");
  });

  it("reports no oldest due job when nothing is due", async () => {
    await seed({ "queued-later": { nextAttemptAt: minutesAgo(-5) } });
    expect(await readQueueGauges(firestore.db, NOW)).toMatchObject({
      queued: 1,
      oldestDueAgeSeconds: null,
      oldestDueJobId: null,
    });
  });
});
