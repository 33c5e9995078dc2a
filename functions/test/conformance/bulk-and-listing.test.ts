/**
 * Conformance: BulkWriter, recursiveDelete, listCollections, listDocuments and getAll
 * (https://firebase.google.com/docs/firestore/manage-data/delete-data,
 * https://cloud.google.com/nodejs/docs/reference/firestore/latest/firestore/bulkwriter and the
 * firebase-admin Firestore / CollectionReference references).
 */
import { status } from "@grpc/grpc-js";

import { testFirestore } from "../harness/firestore";

const firestore = testFirestore("cf-bulk");
const { db } = firestore;
afterAll(() => firestore.close());

test("BulkWriter applies writes independently: one failing write leaves the others applied", async () => {
  const items = db.collection("bulk-items");
  const writer = db.bulkWriter();
  writer.onWriteError(() => false);

  const sets = Array.from({ length: 30 }, (_, i) => writer.set(items.doc(`item-${i}`), { i }));
  const failing = writer.update(items.doc("missing"), { i: -1 });
  const failure = failing.then(
    () => undefined,
    (error: { code: number }) => error.code,
  );
  await writer.close();

  await Promise.all(sets);
  expect(await failure).toBe(status.NOT_FOUND);
  expect((await items.count().get()).data().count).toBe(30);
  expect((await items.doc("item-7").get()).data()).toEqual({ i: 7 });
});

test("recursiveDelete of a collection deletes its documents and their subcollections, nothing else", async () => {
  const root = db.collection("tree");
  await Promise.all([
    root.doc("a").set({ level: 1 }),
    root.doc("a").collection("children").doc("b").set({ level: 2 }),
    root.doc("a").collection("children").doc("b").collection("deeper").doc("c").set({ level: 3 }),
    // A "missing" document: it does not exist, but has a subcollection with a document.
    root.doc("ghost").collection("children").doc("d").set({ level: 2 }),
    db.collection("tree-sibling").doc("keep").set({ keep: true }),
    db.collection("tre").doc("keep").set({ keep: true }),
  ]);

  await db.recursiveDelete(root);

  expect((await db.collectionGroup("children").get()).size).toBe(0);
  expect((await db.collectionGroup("deeper").get()).size).toBe(0);
  expect((await root.get()).size).toBe(0);
  expect((await db.doc("tree-sibling/keep").get()).exists).toBe(true);
  expect((await db.doc("tre/keep").get()).exists).toBe(true);
});

test("recursiveDelete of a document deletes it and its subcollections", async () => {
  const parent = db.collection("folders").doc("p");
  const neighbour = db.collection("folders").doc("q");
  await Promise.all([
    parent.set({ name: "p" }),
    parent.collection("files").doc("f").set({ size: 1 }),
    neighbour.set({ name: "q" }),
    neighbour.collection("files").doc("g").set({ size: 2 }),
  ]);

  await db.recursiveDelete(parent);

  expect((await parent.get()).exists).toBe(false);
  expect((await parent.collection("files").get()).size).toBe(0);
  expect((await neighbour.collection("files").doc("g").get()).exists).toBe(true);
});

test("listCollections lists collections that hold documents, at the root and under a document", async () => {
  const owner = db.collection("owners").doc("o1");
  await Promise.all([
    owner.set({ name: "o1" }),
    owner.collection("pets").doc("rex").set({}),
    owner.collection("cars").doc("c1").set({}),
  ]);
  const emptied = db.collection("emptied").doc();
  await emptied.set({});
  await emptied.delete();

  const rootIds = (await db.listCollections()).map((collection) => collection.id);
  expect(rootIds).toContain("owners");
  expect(rootIds).not.toContain("emptied");
  expect((await owner.listCollections()).map((collection) => collection.id).sort()).toEqual([
    "cars",
    "pets",
  ]);
});

test("listDocuments includes missing documents that only have subcollections", async () => {
  const shelves = db.collection("shelves");
  await Promise.all([
    shelves.doc("real").set({ books: 1 }),
    shelves.doc("phantom").collection("books").doc("b1").set({ title: "t" }),
  ]);

  const refs = await shelves.listDocuments();
  expect(refs.map((ref) => ref.id).sort()).toEqual(["phantom", "real"]);
  expect((await shelves.doc("phantom").get()).exists).toBe(false);
});

test("getAll returns snapshots in the order asked, missing ones included, with a field mask", async () => {
  const people = db.collection("people");
  await Promise.all([
    people.doc("ann").set({ name: "Ann", age: 30, address: { city: "Oslo", zip: "0150" } }),
    people.doc("bob").set({ name: "Bob", age: 40 }),
  ]);

  const snapshots = await db.getAll(people.doc("bob"), people.doc("nobody"), people.doc("ann"));
  expect(snapshots.map((snapshot) => [snapshot.id, snapshot.exists])).toEqual([
    ["bob", true],
    ["nobody", false],
    ["ann", true],
  ]);

  const [masked] = await db.getAll(people.doc("ann"), { fieldMask: ["name", "address.city"] });
  expect(masked?.data()).toEqual({ name: "Ann", address: { city: "Oslo" } });
});
