import type { Filter, StructuredQuery, Value } from "../../../dev/firestore/proto";
import { aggregate, runQuery } from "../../../dev/firestore/query";
import type { StoredDocument } from "../../../dev/firestore/store";
import { dbl, doc, int, nul, ref, ROOT, str } from "./build";

const documents = [
  doc("users/u1", { age: int(30), city: str("Oslo") }),
  doc("users/u2", { age: int(25), city: nul }),
  doc("users/u3", { age: dbl(30) }),
  doc("users/u4", { city: str("Rome") }),
  doc("users/u1/posts/p1", { age: int(1) }),
  doc("groups/g1/users/u5", { age: int(40) }),
  doc("usersArchive/u6", { age: int(50) }),
];

const names = (results: StoredDocument[]) => results.map((d) => d.name.slice(ROOT.length + 1));
const users = (query: Omit<StructuredQuery, "from">) =>
  names(runQuery(ROOT, { from: [{ collectionId: "users" }], ...query }, documents));
const where = (fieldPath: string, op: NonNullable<Filter["fieldFilter"]>["op"], value: Value) => ({
  fieldFilter: { field: { fieldPath }, op, value },
});

test("selects one collection, or every collection with the id below the parent", () => {
  expect(users({})).toEqual(["users/u1", "users/u2", "users/u3", "users/u4"]);
  const group = runQuery(
    ROOT,
    { from: [{ collectionId: "users", allDescendants: true }] },
    documents,
  );
  expect(names(group)).toEqual([
    "groups/g1/users/u5",
    "users/u1",
    "users/u2",
    "users/u3",
    "users/u4",
  ]);
  const below = runQuery(
    `${ROOT}/users/u1`,
    { from: [{ collectionId: "", allDescendants: true }] },
    documents,
  );
  expect(names(below)).toEqual(["users/u1/posts/p1"]);
});

test("the recursiveDelete range query: kindless, bounded by __name__", () => {
  const query: StructuredQuery = {
    from: [{ collectionId: "", allDescendants: true }],
    select: { fields: [{ fieldPath: "__name__" }] },
    where: {
      compositeFilter: {
        op: "AND",
        filters: [
          where("__name__", "GREATER_THAN_OR_EQUAL", ref("users/__id-9223372036854775808__")),
          where("__name__", "LESS_THAN", ref("users\0/__id-9223372036854775808__")),
        ],
      },
    },
  };
  const results = runQuery(ROOT, query, documents);
  expect(names(results)).toEqual([
    "users/u1",
    "users/u1/posts/p1",
    "users/u2",
    "users/u3",
    "users/u4",
  ]);
  expect(results.every((d) => Object.keys(d.fields).length === 0)).toBe(true);
});

test("inequality fields are ordered implicitly; __name__ follows the last direction", () => {
  expect(users({ where: where("age", "GREATER_THAN", int(0)) })).toEqual([
    "users/u2",
    "users/u1",
    "users/u3",
  ]);
  const descending = {
    orderBy: [{ field: { fieldPath: "age" }, direction: "DESCENDING" as const }],
  };
  expect(users(descending)).toEqual(["users/u3", "users/u1", "users/u2"]);
});

test("!= and not-in never match a missing or null field; not-in with null matches nothing", () => {
  expect(users({ where: where("city", "NOT_EQUAL", str("Oslo")) })).toEqual(["users/u4"]);
  const notIn = (...values: Value[]) =>
    users({ where: where("city", "NOT_IN", { arrayValue: { values } }) });
  expect(notIn(str("Oslo"))).toEqual(["users/u4"]);
  expect(notIn(str("Oslo"), nul)).toEqual([]);
});

test("cursors position by a prefix of the order, before or after the values", () => {
  const byAge = { field: { fieldPath: "age" }, direction: "ASCENDING" as const };
  const at = (values: Value[], before: boolean) => ({ values, before });
  expect(users({ orderBy: [byAge], startAt: at([int(30)], true) })).toEqual([
    "users/u1",
    "users/u3",
  ]);
  expect(users({ orderBy: [byAge], startAt: at([int(30), ref("users/u1")], false) })).toEqual([
    "users/u3",
  ]);
  expect(users({ orderBy: [byAge], endAt: at([int(30)], true) })).toEqual(["users/u2"]);
  expect(
    users({ orderBy: [byAge], endAt: at([int(30)], false), offset: 1, limit: { value: 1 } }),
  ).toEqual(["users/u1"]);
});

test("aggregations: count up to, sums that overflow become doubles, average of nothing is null", () => {
  const big = [
    doc("n/a", { v: int(2n ** 62n) }),
    doc("n/b", { v: int(2n ** 62n) }),
    doc("n/c", { v: str("x") }),
  ];
  expect(
    aggregate(big, [
      { alias: "count", count: { upTo: { value: "2" } } },
      { alias: "sum", sum: { field: { fieldPath: "v" } } },
      { alias: "avg", avg: { field: { fieldPath: "missing" } } },
    ]),
  ).toEqual({ count: int(2), sum: dbl(2 ** 63), avg: nul });
});
