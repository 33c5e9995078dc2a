/**
 * Conformance: queries, as Firestore documents them
 * (https://firebase.google.com/docs/firestore/query-data/queries,
 * https://firebase.google.com/docs/firestore/query-data/order-limit-data,
 * https://firebase.google.com/docs/firestore/query-data/query-cursors,
 * https://firebase.google.com/docs/firestore/query-data/aggregation-queries).
 * The data set is the cities example of those pages, plus a city without population or state.
 */
import {
  AggregateField,
  FieldPath,
  Filter,
  GeoPoint,
  type Query,
  Timestamp,
} from "firebase-admin/firestore";

import { testFirestore } from "../harness/firestore";
import { ids } from "./helpers";

const firestore = testFirestore("cf-queries");
const { db } = firestore;
afterAll(() => firestore.close());

const cities = db.collection("cities");
const run = async (query: Query) => ids(await query.get());

beforeAll(async () => {
  const batch = db.batch();
  const city = (id: string, data: Record<string, unknown>) => batch.set(cities.doc(id), data);
  city("SF", {
    name: "San Francisco",
    state: "CA",
    country: "USA",
    capital: false,
    population: 860_000,
    regions: ["west_coast", "norcal"],
  });
  city("LA", {
    name: "Los Angeles",
    state: "CA",
    country: "USA",
    capital: false,
    population: 3_900_000,
    regions: ["west_coast", "socal"],
  });
  city("PDX", {
    name: "Portland",
    state: "OR",
    country: "USA",
    capital: false,
    population: 650_000,
    regions: ["west_coast"],
  });
  city("DC", {
    name: "Washington, D.C.",
    state: null,
    country: "USA",
    capital: true,
    population: 680_000,
    regions: ["east_coast"],
  });
  city("TOK", {
    name: "Tokyo",
    state: null,
    country: "Japan",
    capital: true,
    population: 9_000_000,
    regions: ["kanto", "honshu"],
  });
  city("BJ", {
    name: "Beijing",
    state: null,
    country: "China",
    capital: true,
    population: 21_500_000,
    regions: ["jingjinji", "hebei"],
  });
  city("ATL", { name: "Atlantis", country: "Nowhere", capital: false });
  const landmark = (path: string, name: string, type: string) =>
    batch.set(db.doc(path), { name, type });
  landmark("cities/SF/landmarks/ggb", "Golden Gate Bridge", "bridge");
  landmark("cities/SF/landmarks/legion", "Legion of Honor", "museum");
  landmark("cities/TOK/landmarks/national", "National Museum of Nature and Science", "museum");
  landmark("cities/BJ/landmarks/forbidden", "Forbidden City", "palace");
  // Same type, but a collection whose id only starts like "landmarks": not in the group.
  landmark("cities/LA/landmarksArchive/getty", "Getty Center", "museum");
  await batch.commit();
});

describe("filters", () => {
  test("equality", async () => {
    expect(await run(cities.where("state", "==", "CA"))).toEqual(["LA", "SF"]);
    expect(await run(cities.where("state", "==", null))).toEqual(["BJ", "DC", "TOK"]);
  });

  test("range filters order by the filtered field", async () => {
    expect(await run(cities.where("population", ">", 1_000_000))).toEqual(["LA", "TOK", "BJ"]);
    expect(await run(cities.where("name", ">=", "S").where("name", "<", "U"))).toEqual([
      "SF",
      "TOK",
    ]);
  });

  test("equality and range combined", async () => {
    const query = cities.where("capital", "==", true).where("population", "<", 10_000_000);
    expect(await run(query)).toEqual(["DC", "TOK"]);
  });

  test("in and array-contains-any", async () => {
    expect(await run(cities.where("country", "in", ["Japan", "China"]))).toEqual(["BJ", "TOK"]);
    expect(
      await run(cities.where("regions", "array-contains-any", ["east_coast", "kanto"])),
    ).toEqual(["DC", "TOK"]);
  });

  test("array-contains", async () => {
    expect(await run(cities.where("regions", "array-contains", "west_coast"))).toEqual([
      "LA",
      "PDX",
      "SF",
    ]);
  });

  // "!= and not-in ... return documents where the given field exists, is not null, and does
  // not match" (queries page, "Not equal (!=)" and "not-in").
  test("!= and not-in exclude documents where the field is missing or null", async () => {
    expect(await run(cities.where("state", "!=", "CA"))).toEqual(["PDX"]);
    expect(await run(cities.where("state", "not-in", ["CA"]))).toEqual(["PDX"]);
  });

  test("nested Filter.or and Filter.and", async () => {
    const bigCalifornianOrJapanese = Filter.or(
      Filter.and(Filter.where("state", "==", "CA"), Filter.where("population", ">", 1_000_000)),
      Filter.where("country", "==", "Japan"),
    );
    expect(await run(cities.where(bigCalifornianOrJapanese))).toEqual(["LA", "TOK"]);

    const asianCapitals = Filter.and(
      Filter.where("capital", "==", true),
      Filter.or(Filter.where("country", "==", "Japan"), Filter.where("country", "==", "China")),
    );
    expect(await run(cities.where(asianCapitals))).toEqual(["BJ", "TOK"]);
  });

  test("documentId() filters and ordering", async () => {
    expect(await run(cities.where(FieldPath.documentId(), "in", ["TOK", "SF"]))).toEqual([
      "SF",
      "TOK",
    ]);
    // Ascending only: the official emulator refuses descending key scans (FAILED_PRECONDITION),
    // so the code never orders by document id descending (jobs/schedule.ts, credentials.ts).
    expect(await run(cities.orderBy(FieldPath.documentId()).startAfter("LA").limit(2))).toEqual([
      "PDX",
      "SF",
    ]);
  });
});

describe("order and limits", () => {
  // "An orderBy() clause also filters for existence of the given fields. The result set will
  // not include documents that do not contain the given fields." (order-limit-data page)
  test("orderBy excludes documents without the ordered field", async () => {
    expect(await run(cities.orderBy("population"))).toEqual(["PDX", "DC", "SF", "LA", "TOK", "BJ"]);
  });

  test("multiple orderBy, ascending and descending", async () => {
    expect(await run(cities.orderBy("country").orderBy("population", "desc"))).toEqual([
      "BJ",
      "TOK",
      "LA",
      "SF",
      "DC",
      "PDX",
    ]);
  });

  test("limit, limitToLast and offset", async () => {
    expect(await run(cities.orderBy("population", "desc").limit(2))).toEqual(["BJ", "TOK"]);
    // limitToLast returns the last documents, still in the query's order.
    expect(await run(cities.orderBy("population").limitToLast(2))).toEqual(["TOK", "BJ"]);
    expect(await run(cities.orderBy("population").offset(1).limit(2))).toEqual(["DC", "SF"]);
  });

  // https://firebase.google.com/docs/firestore/manage-data/data-types#value_type_ordering
  test("values of different types order by type, then within the type", async () => {
    const mixed = db.collection("mixed");
    const values: Record<string, unknown> = {
      "a-map": { x: 1 },
      "b-array": [1, 2],
      "c-geopoint": new GeoPoint(1, 2),
      "d-reference": db.doc("x/y"),
      "e-bytes": Buffer.from([1, 2]),
      "f-string": "text",
      "g-timestamp": Timestamp.fromMillis(0),
      "h-negative-integer": -1,
      "i-double": 2.5,
      "j-integer": 3,
      "k-nan": NaN,
      "l-false": false,
      "m-null": null,
      "n-true": true,
    };
    const batch = db.batch();
    for (const [id, v] of Object.entries(values)) {
      batch.set(mixed.doc(id), { v });
    }
    await batch.commit();

    expect(await run(mixed.orderBy("v"))).toEqual([
      "m-null",
      "l-false",
      "n-true",
      "k-nan",
      "h-negative-integer",
      "i-double",
      "j-integer",
      "g-timestamp",
      "f-string",
      "e-bytes",
      "d-reference",
      "c-geopoint",
      "b-array",
      "a-map",
    ]);
    // A range filter only matches values of the operand's type; integers and doubles are one
    // numeric type, compared by value.
    expect(await run(mixed.where("v", ">", 2))).toEqual(["i-double", "j-integer"]);
    expect(await run(mixed.where("v", "==", 3))).toEqual(["j-integer"]);
  });
});

describe("cursors", () => {
  const byPopulation = () => cities.orderBy("population");

  test("by field values", async () => {
    expect(await run(byPopulation().startAt(860_000))).toEqual(["SF", "LA", "TOK", "BJ"]);
    expect(await run(byPopulation().startAfter(860_000))).toEqual(["LA", "TOK", "BJ"]);
    expect(await run(byPopulation().endAt(860_000))).toEqual(["PDX", "DC", "SF"]);
    expect(await run(byPopulation().endBefore(860_000))).toEqual(["PDX", "DC"]);
    expect(await run(byPopulation().startAt(680_000).endBefore(3_900_000))).toEqual(["DC", "SF"]);
  });

  // A snapshot cursor also positions by document name, so it separates documents whose ordered
  // field is equal (query-cursors page, "Set cursor based on multiple fields").
  test("by document snapshot, including ties on the ordered field", async () => {
    const [la, dc] = await db.getAll(cities.doc("LA"), cities.doc("DC"));
    const byCountry = () => cities.orderBy("country");
    expect(await run(byCountry())).toEqual(["BJ", "TOK", "ATL", "DC", "LA", "PDX", "SF"]);
    expect(await run(byCountry().startAfter(la))).toEqual(["PDX", "SF"]);
    expect(await run(byCountry().startAt(la))).toEqual(["LA", "PDX", "SF"]);
    expect(await run(byCountry().endBefore(dc))).toEqual(["BJ", "TOK", "ATL"]);
    expect(await run(byCountry().endAt(dc))).toEqual(["BJ", "TOK", "ATL", "DC"]);
  });

  test("paging with startAfter the last snapshot visits every document once", async () => {
    const pages: string[][] = [];
    let query = byPopulation().limit(4);
    for (;;) {
      const page = await query.get();
      if (page.empty) {
        break;
      }
      pages.push(ids(page));
      query = byPopulation()
        .limit(4)
        .startAfter(page.docs[page.docs.length - 1]);
    }
    expect(pages).toEqual([
      ["PDX", "DC", "SF", "LA"],
      ["TOK", "BJ"],
    ]);
  });
});

describe("projections, collection groups and aggregations", () => {
  test("select returns only the selected fields", async () => {
    const snapshot = await cities.where("state", "==", "CA").select("name", "population").get();
    expect(snapshot.docs.map((doc) => doc.data())).toEqual([
      { name: "Los Angeles", population: 3_900_000 },
      { name: "San Francisco", population: 860_000 },
    ]);
  });

  test("a collection group query spans every collection with that id, and only those", async () => {
    const museums = db.collectionGroup("landmarks").where("type", "==", "museum");
    const snapshot = await museums.get();
    expect(snapshot.docs.map((doc) => doc.ref.path)).toEqual([
      "cities/SF/landmarks/legion",
      "cities/TOK/landmarks/national",
    ]);
    expect((await db.collectionGroup("landmarks").count().get()).data().count).toBe(4);
  });

  test("count, sum and average", async () => {
    const capitals = cities.where("capital", "==", true);
    const result = await capitals
      .aggregate({
        count: AggregateField.count(),
        total: AggregateField.sum("population"),
        mean: AggregateField.average("population"),
      })
      .get();
    expect(result.data().count).toBe(3);
    expect(result.data().total).toBe(31_180_000);
    expect(result.data().mean).toBeCloseTo(31_180_000 / 3);
    // Documents without the field do not count towards an average.
    const all = await cities.aggregate({ mean: AggregateField.average("population") }).get();
    expect(all.data().mean).toBeCloseTo((860_000 + 3_900_000 + 650_000 + 31_180_000) / 6);
    expect((await cities.where("country", "==", "Atlantis").count().get()).data().count).toBe(0);
  });
});
