/**
 * firestore.rules against the official Firestore emulator's rules engine, which
 * @firebase/rules-unit-testing finds through FIRESTORE_EMULATOR_HOST (set by global setup).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

import {
  assertFails,
  assertSucceeds,
  initializeTestEnvironment,
  type RulesTestEnvironment,
} from "@firebase/rules-unit-testing";
import { collection, deleteDoc, doc, getDoc, getDocs, setDoc, updateDoc } from "firebase/firestore";

let env: RulesTestEnvironment;

beforeAll(async () => {
  env = await initializeTestEnvironment({
    projectId: "demo-rules",
    firestore: { rules: readFileSync(join(__dirname, "../../../firestore.rules"), "utf8") },
  });
  await env.withSecurityRulesDisabled(async (context) => {
    const db = context.firestore();
    for (const uid of ["alice", "bob"]) {
      await setDoc(doc(db, `users/${uid}/integrations/google`), {
        status: "active",
        automation: { autoSync: true, cadenceHours: 24, lookbackDays: null },
      });
      await setDoc(doc(db, `users/${uid}/integrations/google/private/credentials`), {
        accessToken: "ciphertext",
      });
      await setDoc(doc(db, `users/${uid}/metrics/google_1_2_2026-11-28`), { clicks: 1 });
      await setDoc(doc(db, `users/${uid}/backfills/google`), { status: "active" });
    }
    await setDoc(doc(db, "syncJobs/job-1"), { userId: "alice", status: "queued" });
    await setDoc(doc(db, "admin/scheduler/events/e1"), { operation: "x" });
  });
});

afterAll(() => env.cleanup());

const alice = () => env.authenticatedContext("alice").firestore();
const anonymous = () => env.unauthenticatedContext().firestore();

describe("a signed-in user", () => {
  it("reads their own integrations, backfills and metrics", async () => {
    await assertSucceeds(getDoc(doc(alice(), "users/alice/integrations/google")));
    await assertSucceeds(getDocs(collection(alice(), "users/alice/integrations")));
    await assertSucceeds(getDocs(collection(alice(), "users/alice/metrics")));
    await assertSucceeds(getDoc(doc(alice(), "users/alice/backfills/google")));
  });

  it("reads nobody else's", async () => {
    await assertFails(getDoc(doc(alice(), "users/bob/integrations/google")));
    await assertFails(getDocs(collection(alice(), "users/bob/metrics")));
    await assertFails(getDoc(doc(alice(), "users/bob/backfills/google")));
  });

  it("never reads tokens, not even their own", async () => {
    await assertFails(getDoc(doc(alice(), "users/alice/integrations/google/private/credentials")));
  });

  it("writes nothing directly: automation settings go through the validated endpoint", async () => {
    await assertFails(
      updateDoc(doc(alice(), "users/alice/integrations/google"), { "automation.autoSync": false }),
    );
    await assertFails(setDoc(doc(alice(), "users/alice/metrics/forged"), { clicks: 1e9 }));
    await assertFails(deleteDoc(doc(alice(), "users/alice/integrations/google")));
    await assertFails(setDoc(doc(alice(), "users/alice/backfills/google"), { status: "complete" }));
  });

  it("cannot see jobs or anything under admin/", async () => {
    await assertFails(getDoc(doc(alice(), "syncJobs/job-1")));
    await assertFails(getDocs(collection(alice(), "admin/scheduler/events")));
  });
});

describe("a signed-out client", () => {
  it("reads nothing", async () => {
    await assertFails(getDoc(doc(anonymous(), "users/alice/integrations/google")));
    await assertFails(getDocs(collection(anonymous(), "users/alice/metrics")));
  });
});
