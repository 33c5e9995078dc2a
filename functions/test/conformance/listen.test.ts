/**
 * Conformance: realtime listeners (https://firebase.google.com/docs/firestore/query-data/listen).
 * A query listener sees documents enter the result ("added"), change within it ("modified") and
 * leave it, by deletion or by no longer matching ("removed").
 */
import type { DocumentSnapshot, QuerySnapshot } from "firebase-admin/firestore";

import { testFirestore } from "../harness/firestore";
import { changesOf, followSnapshots, ids } from "./helpers";

const firestore = testFirestore("cf-listen");
const { db } = firestore;
afterAll(() => firestore.close());

test("a query listener sees later adds, changes and removes", async () => {
  const scores = db.collection("scores");
  await scores.doc("a").set({ score: 15 });
  await scores.doc("low").set({ score: 1 });
  const highScores = followSnapshots<QuerySnapshot>((next, fail) =>
    scores.where("score", ">=", 10).orderBy("score").onSnapshot(next, fail),
  );

  try {
    const initial = await highScores.until(() => true);
    expect(changesOf(initial)).toEqual(["added:a"]);

    await scores.doc("b").set({ score: 20 });
    expect(changesOf(await highScores.until((s) => ids(s).includes("b")))).toEqual(["added:b"]);

    await scores.doc("a").update({ score: 30 });
    const modified = await highScores.until((s) => s.docs[0]?.get("score") === 20);
    expect(changesOf(modified)).toEqual(["modified:a"]);
    expect(ids(modified.at(-1) as QuerySnapshot)).toEqual(["b", "a"]);

    // Leaves the result by no longer matching the filter.
    await scores.doc("b").update({ score: 5 });
    expect(changesOf(await highScores.until((s) => !ids(s).includes("b")))).toEqual(["removed:b"]);

    // Leaves the result by deletion; a change outside the result is not reported.
    await scores.doc("low").update({ score: 2 });
    await scores.doc("a").delete();
    expect(changesOf(await highScores.until((s) => s.empty))).toEqual(["removed:a"]);
  } finally {
    highScores.unsubscribe();
  }
});

test("a document listener sees the document created, changed and deleted", async () => {
  const doc = db.collection("watched").doc();
  const states = followSnapshots<DocumentSnapshot>((next, fail) => doc.onSnapshot(next, fail));
  const values = (snapshots: DocumentSnapshot[]) =>
    snapshots.map((snapshot) => (snapshot.exists ? (snapshot.get("v") as unknown) : "missing"));

  try {
    expect(values(await states.until(() => true))).toEqual(["missing"]);

    await doc.set({ v: 1 });
    expect(values(await states.until((s) => s.exists))).toEqual([1]);

    await doc.update({ v: 2 });
    expect(values(await states.until((s) => s.get("v") !== 1))).toEqual([2]);

    await doc.delete();
    expect(values(await states.until((s) => !s.exists))).toEqual(["missing"]);
  } finally {
    states.unsubscribe();
  }
});
