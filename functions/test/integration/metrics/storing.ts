/** `storeMetrics` as the metrics tests call it: one job's Google rows, stored at a fixed time. */
import type { Firestore } from "firebase-admin/firestore";

import { type AccountWindow, storeMetrics } from "../../../src/metrics/store";
import type { MetricRow } from "../../../src/providers/types";

/** `db`: the test file's client, once its `beforeAll` has made it. */
export const storer =
  (db: () => Firestore) =>
  (userId: string, rows: MetricRow[], accounts: AccountWindow[], jobId = "job-1") =>
    storeMetrics(
      db(),
      userId,
      "google",
      { rows, accounts },
      {
        jobId,
        now: new Date("2026-11-28T03:00:00Z"),
      },
    );
