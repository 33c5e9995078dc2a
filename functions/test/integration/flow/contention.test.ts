/**
 * The enqueue under real contention, on the official Firestore emulator (which aborts and retries
 * contending transactions as production does): many concurrent fan-outs and manual schedules,
 * from several function instances, get no 5xx and leave exactly one job per integration and slot.
 */
import { handleCron } from "../../../src/http/cron";
import { handleSchedule } from "../../../src/http/schedule";
import { handleStatus } from "../../../src/http/status";
import { integrationPath } from "../../../src/integrations/model";
import { JOBS_COLLECTION } from "../../../src/jobs/model";
import { cadenceSlot, ENQUEUE_STATE_PATH } from "../../../src/jobs/schedule";
import { type EnqueueRequest, slotJobId } from "../../../src/jobs/store";
import type { ProviderId } from "../../../src/providers/types";
import { enqueueAllOperation, enqueueOperation } from "../../../src/scheduler/operations";
import {
  ADMIN_EMAIL,
  bearer,
  cronHeaders,
  request,
  seedIntegration,
  TEST_ENV,
} from "../../harness/auth";
import { startInstances, type TestInstances } from "../../harness/instances";

// Bursts of real transactions and writes on 2 shared cores: room for the official emulator's
// contention handling (aborts, retries), not a speed bound.
jest.setTimeout(120_000);

const START = new Date("2026-11-28T10:00:00Z");
const INSTANCES = 5;
const CALLS = 50;
const PROVIDERS: readonly ProviderId[] = ["google", "meta"];

let instances: TestInstances;

beforeAll(async () => {
  instances = await startInstances("contention", { count: INSTANCES, start: START, env: TEST_ENV });
});
afterAll(() => instances.close());

async function seedUsers(prefix: string, count: number): Promise<string[]> {
  const users = Array.from({ length: count }, (_, i) => `${prefix}-${String(i).padStart(3, "0")}`);
  await Promise.all(
    users.flatMap((uid) =>
      PROVIDERS.map((providerId) => seedIntegration(instances.project.db, uid, providerId)),
    ),
  );
  return users;
}

/** Every job of the given users, grouped by integration. */
async function jobsByIntegration(users: readonly string[]): Promise<Map<string, string[]>> {
  const byIntegration = new Map<string, string[]>();
  for (let i = 0; i < users.length; i += 30) {
    const snapshot = await instances.project.db
      .collection(JOBS_COLLECTION)
      .where("userId", "in", users.slice(i, i + 30))
      .get();
    for (const doc of snapshot.docs) {
      const key = `${doc.get("userId") as string}/${doc.get("providerId") as string}`;
      byIntegration.set(key, [...(byIntegration.get(key) ?? []), doc.id]);
    }
  }
  return byIntegration;
}

/** Each 5xx answer, with its body (which says what refused or failed). */
const serverErrors = (responses: ReadonlyArray<{ status: number; body: unknown }>) =>
  responses.filter(({ status }) => status >= 500);

it(`${CALLS} concurrent process_all_users get no 5xx and one job per integration and slot`, async () => {
  const users = await seedUsers("fan", 60);
  const responses = await Promise.all(
    Array.from({ length: CALLS }, (_, i) =>
      instances.call(
        i % INSTANCES,
        handleCron,
        request("POST", {
          headers: cronHeaders(),
          body: { operation: "process_all_users", maxUsers: 500 },
        }),
      ),
    ),
  );
  expect(serverErrors(responses)).toEqual([]);
  const jobs = await jobsByIntegration(users);
  const slot = cadenceSlot(START, 24);
  for (const uid of users) {
    for (const providerId of PROVIDERS) {
      expect({ key: `${uid}/${providerId}`, jobs: jobs.get(`${uid}/${providerId}`) }).toEqual({
        key: `${uid}/${providerId}`,
        jobs: [slotJobId(slot, uid, providerId)],
      });
    }
  }
});

it(`${CALLS} concurrent schedule calls by an administrator get no 5xx and one job per integration`, async () => {
  const users = await seedUsers("manual", 120);
  const admin = bearer(
    instances.testAuth.mintIdToken({ uid: "ops", email: ADMIN_EMAIL, emailVerified: true }),
  );
  const responses = await Promise.all(
    Array.from({ length: CALLS }, (_, i) =>
      instances.call(
        i % INSTANCES,
        handleSchedule,
        request("POST", {
          headers: admin,
          // Ten calls at once for each of four users, and every fifth a fan-out over everyone.
          body:
            i % 5 === 4
              ? { allUsers: true, maxUsers: 500 }
              : { userId: users[i % 4], timeframeDays: 3 },
        }),
      ),
    ),
  );
  expect(serverErrors(responses)).toEqual([]);
  const jobs = await jobsByIntegration(users);
  for (const uid of users) {
    for (const providerId of PROVIDERS) {
      expect({
        key: `${uid}/${providerId}`,
        count: jobs.get(`${uid}/${providerId}`)?.length,
      }).toEqual({
        key: `${uid}/${providerId}`,
        count: 1,
      });
    }
  }
});

/** Outcome of an operation called directly: its result, or the error it threw. */
const settle = <T>(work: Promise<T>) =>
  work.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error: String(error) }),
  );

describe("below the request limits (the operations the endpoints call)", () => {
  it(`${CALLS} concurrent fan-outs from ${INSTANCES} instances all complete, one job per integration and slot`, async () => {
    const users = await seedUsers("op-fan", 200);
    // The first test's fan-out completed this slot's pass: these users start a new one.
    await instances.project.db.doc(ENQUEUE_STATE_PATH).delete();
    const results = await Promise.all(
      Array.from({ length: CALLS }, (_, i) =>
        settle(
          enqueueAllOperation(instances.deps(i % INSTANCES), "test", {
            jobType: "scheduled-sync",
            timeframeDays: 1,
            maxUsers: 500,
          }),
        ),
      ),
    );
    expect(results.filter((result) => !result.ok)).toEqual([]);
    const jobs = await jobsByIntegration(users);
    const slot = cadenceSlot(START, 24);
    expect(users.flatMap((uid) => PROVIDERS.map((p) => jobs.get(`${uid}/${p}`)))).toEqual(
      users.flatMap((uid) => PROVIDERS.map((p) => [slotJobId(slot, uid, p)])),
    );
  }, 120_000);

  it(`${CALLS} concurrent manual schedules all answer, one job each`, async () => {
    const users = await seedUsers("op-manual", 10);
    const requestsOf = (uid: string): EnqueueRequest[] =>
      PROVIDERS.map((providerId) => ({
        userId: uid,
        providerId,
        type: "manual-sync",
        timeframeDays: 3,
        source: "test",
      }));
    const results = await Promise.all(
      Array.from({ length: CALLS }, (_, i) =>
        settle(enqueueOperation(instances.deps(i % INSTANCES), "test", requestsOf(users[i % 10]!))),
      ),
    );
    expect(results.filter((result) => !result.ok)).toEqual([]);
    const jobs = await jobsByIntegration(users);
    expect(users.flatMap((uid) => PROVIDERS.map((p) => jobs.get(`${uid}/${p}`)?.length))).toEqual(
      users.flatMap(() => PROVIDERS.map(() => 1)),
    );
  });
});

it("status leaves out a document that fails validation instead of failing the caller's view", async () => {
  const db = instances.project.db;
  await seedIntegration(db, "viewer", "google");
  await seedIntegration(db, "viewer", "meta");
  await db.doc(integrationPath("viewer", "meta")).update({ status: "paused-by-newer-code" });
  await db
    .collection(JOBS_COLLECTION)
    .doc("viewer-broken")
    .set({ userId: "viewer", createdAt: START });
  const response = await instances.call(
    0,
    handleStatus,
    request("GET", { headers: bearer(instances.mint("viewer")), query: {} }),
  );
  expect(response.status).toBe(200);
  const body = response.body as {
    integrations: Array<{ providerId: string }>;
    recentJobs: unknown[];
  };
  expect(body.integrations.map((integration) => integration.providerId)).toEqual(["google"]);
  expect(body.recentJobs).toEqual([]);
});
