/**
 * Every query the code runs is checked against firestore.indexes.json: a query filtering or
 * ordering on more than one field needs a declared composite index (equality fields first, then
 * the ordered field with its direction), and a collection-group query needs a collection-group
 * index. A missing index fails here instead of in production with FAILED_PRECONDITION.
 * https://firebase.google.com/docs/firestore/query-data/index-overview
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { Firestore, type Query } from "firebase-admin/firestore";
import { z } from "zod";

import { allCredentialsQuery } from "../../../src/integrations/credentials";
import { activeIntegrationsQuery, dueIntegrationsQuery } from "../../../src/jobs/schedule";
import { jobQueries } from "../../../src/jobs/store";
import { digestIdsQuery } from "../../../src/metrics/digest";
import { metricsInWindowQuery } from "../../../src/metrics/store";
import { eventsCreatedBefore } from "../../../src/scheduler/events";

const indexFile = z.object({
  indexes: z.array(
    z.object({
      collectionGroup: z.string(),
      queryScope: z.enum(["COLLECTION", "COLLECTION_GROUP"]),
      fields: z.array(
        z.object({ fieldPath: z.string(), order: z.enum(["ASCENDING", "DESCENDING"]) }),
      ),
    }),
  ),
  fieldOverrides: z.array(
    z.object({
      collectionGroup: z.string(),
      fieldPath: z.string(),
      ttl: z.boolean().optional(),
      indexes: z.array(
        z.object({
          order: z.enum(["ASCENDING", "DESCENDING"]).optional(),
          queryScope: z.enum(["COLLECTION", "COLLECTION_GROUP"]),
        }),
      ),
    }),
  ),
});

const declared = indexFile.parse(
  JSON.parse(readFileSync(join(__dirname, "../../../../firestore.indexes.json"), "utf8")),
);

interface ProtoFilter {
  fieldFilter?: { field: { fieldPath: string }; op: string };
  compositeFilter?: { filters: ProtoFilter[] };
}
interface StructuredQuery {
  from: Array<{ collectionId: string; allDescendants?: boolean }>;
  where?: ProtoFilter;
  orderBy?: Array<{ field: { fieldPath: string }; direction: string }>;
}

function shape(query: Query) {
  const proto = (query as unknown as { toProto(): { structuredQuery: StructuredQuery } }).toProto();
  const structured = proto.structuredQuery;
  const filters: Array<{ field: string; op: string }> = [];
  const walk = (filter?: ProtoFilter) => {
    if (filter?.fieldFilter) {
      filters.push({ field: filter.fieldFilter.field.fieldPath, op: filter.fieldFilter.op });
    }
    filter?.compositeFilter?.filters.forEach(walk);
  };
  walk(structured.where);
  const from = structured.from[0]!;
  const explicit = (structured.orderBy ?? [])
    .filter((o) => o.field.fieldPath !== "__name__")
    .map((o) => ({
      field: o.field.fieldPath,
      order: o.direction === "DESCENDING" ? "DESCENDING" : "ASCENDING",
    }));
  const isEquality = (op: string) => op === "EQUAL" || op === "IN";
  // Any other filter (a range, != or not-in) on a field the query does not order by orders it
  // implicitly, after the explicit orders, ascending: it needs its place in the index too.
  const implicit = [...new Set(filters.filter((f) => !isEquality(f.op)).map((f) => f.field))]
    .filter((field) => !explicit.some((o) => o.field === field))
    .map((field) => ({ field, order: "ASCENDING" }));
  return {
    collection: from.collectionId,
    scope: from.allDescendants ? ("COLLECTION_GROUP" as const) : ("COLLECTION" as const),
    equality: filters.filter((f) => isEquality(f.op)).map((f) => f.field),
    orders: [...explicit, ...implicit],
  };
}

function hasIndex(query: Query): boolean {
  const { collection, scope, equality, orders } = shape(query);
  const fields = new Set([...equality, ...orders.map((o) => o.field)]);
  if (fields.size === 0) {
    // Only the document id: Firestore's built-in __name__ index serves it in either scope.
    return true;
  }
  if (fields.size <= 1) {
    const [field] = [...fields];
    const override = declared.fieldOverrides.find(
      (o) => o.collectionGroup === collection && o.fieldPath === field,
    );
    // Single-field indexes are automatic for collections unless an override exempts the field;
    // collection groups need an override.
    if (scope === "COLLECTION") {
      return !override || override.indexes.some((index) => index.queryScope === "COLLECTION");
    }
    return declared.fieldOverrides.some(
      (override) =>
        override.collectionGroup === collection &&
        override.fieldPath === field &&
        override.indexes.some((index) => index.queryScope === "COLLECTION_GROUP"),
    );
  }
  return declared.indexes.some((index) => {
    if (index.collectionGroup !== collection || index.queryScope !== scope) {
      return false;
    }
    const head = index.fields.slice(0, equality.length).map((f) => f.fieldPath);
    const tail = index.fields.slice(equality.length);
    return (
      index.fields.length === equality.length + orders.length &&
      head.every((field) => equality.includes(field)) &&
      tail.every((f, i) => f.fieldPath === orders[i]?.field && f.order === orders[i]?.order)
    );
  });
}

const db = new Firestore({ projectId: "demo-indexes" });
const now = new Date();
const queries: Record<string, Query> = {
  "jobs.due": jobQueries.due(db, now, 10),
  "jobs.dueForUser": jobQueries.dueForUser(db, "u", now, 10),
  "jobs.stale": jobQueries.stale(db, now, 10),
  "jobs.finishedBefore": jobQueries.finishedBefore(db, now, 10),
  "jobs.recentForUser": jobQueries.recentForUser(db, "u", 10),
  "jobs.withStatus": jobQueries.withStatus(db, "queued", 10),
  "jobs.failedSince": jobQueries.finishedSince(db, "failed", now, 10),
  "jobs.failedAttemptsSince": jobQueries.failedAttemptsSince(db, now, 10),
  "jobs.succeededSince": jobQueries.finishedSince(db, "succeeded", now, 1, "meta"),
  "integrations.active": activeIntegrationsQuery(db, 10),
  "integrations.due": dueIntegrationsQuery(db, [1, 2], 10),
  "events.createdBefore": eventsCreatedBefore(db, now, 10),
  "credentials.all": allCredentialsQuery(db, 10),
  "metrics.inWindow": metricsInWindowQuery(
    db,
    "u",
    "google",
    { since: "2026-11-01", until: "2026-11-28" },
    10,
  ),
  "metrics.digestIds": digestIdsQuery(db, "u", "google", { first: "2026-09", last: "2026-11" }),
};

describe("firestore.indexes.json", () => {
  it.each(Object.entries(queries))("declares the index %s needs", (_name, query) => {
    expect(hasIndex(query)).toBe(true);
  });

  it("detects a query without its index", () => {
    const undeclared = db
      .collection("syncJobs")
      .where("providerId", "==", "x")
      .orderBy("createdAt");
    expect(hasIndex(undeclared)).toBe(false);
  });

  it("detects a range filter without an orderBy whose index is missing", () => {
    const undeclared = db
      .collection("syncJobs")
      .where("status", "==", "failed")
      .where("updatedAt", ">=", now);
    expect(hasIndex(undeclared)).toBe(false);
  });

  it("notices a single-field query on a field whose index is exempted", () => {
    expect(hasIndex(db.collection("syncJobs").orderBy("updatedAt"))).toBe(false);
  });

  it("exempts from indexing the monotonic timestamps and large maps written on every job", () => {
    // Sequential indexed values cap a collection near 500 writes/s; maps cost index entries.
    const exempt = new Set(
      declared.fieldOverrides
        .filter((o) => o.indexes.length === 0)
        .map((o) => `${o.collectionGroup}.${o.fieldPath}`),
    );
    for (const field of [
      "syncJobs.createdAt",
      "syncJobs.updatedAt",
      "syncJobs.startedAt",
      "syncJobs.finishedAt",
      "syncJobs.nextAttemptAt",
      "syncJobs.leaseExpiresAt",
      "syncJobs.result",
      "events.details",
      "rateLimits.windowStart",
      "rateLimits.count",
      "metrics.syncedAt",
    ]) {
      expect(exempt).toContain(field);
    }
  });

  it("declares TTL policies on the expiry fields of jobs, scheduler events and limiters", () => {
    const ttl = declared.fieldOverrides.filter((override) => override.ttl);
    expect(ttl.map((o) => `${o.collectionGroup}.${o.fieldPath}`).sort()).toEqual([
      "authFailureSources.expireAt",
      "events.expireAt",
      "rateLimits.expireAt",
      "syncJobs.expireAt",
    ]);
  });
});
