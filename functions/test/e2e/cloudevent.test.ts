/**
 * The job trigger on the production path: the built module (`lib/index.js`) loaded cold in a
 * module registry of its own (no firebase-admin app exists; the test creates none for it), the
 * environment a deployed function gets (every parameter, the secrets the task functions bind,
 * GCLOUD_PROJECT and FIREBASE_CONFIG), and a Firestore "document created" CloudEvent as Eventarc
 * delivers it: binary protobuf `DocumentEventData` (and the JSON encoding), which
 * firebase-functions decodes itself before onInit runs. The function object is called the way
 * the Functions Framework calls it — not through `.run` or firebase-functions-test's `wrap`,
 * which skip onInit and the decoding. The trigger dispatches the job through firebase-admin's
 * task queue to firebase-tools' Cloud Tasks emulator, which runs it on another cold instance's
 * task function (`tasks.ts`).
 *
 * Regression: index.ts once initialised the default app only when `getApps()` was empty, but
 * decoding the event makes firebase-functions create a named app of its own first, so every
 * real delivery threw "The default Firebase app does not exist".
 */
import { randomUUID } from "node:crypto";
import { join } from "node:path";

import type * as AdminAppModule from "firebase-admin/app";
import type { Firestore } from "firebase-admin/firestore";
import type * as FirestoreTriggers from "firebase-functions/firestore";
import type { CloudEvent } from "firebase-functions/v2";

import type { SandboxAccount } from "../../dev/sandbox/world";
import { JOBS_COLLECTION } from "../../src/jobs/model";
import { enqueueJobs } from "../../src/jobs/store";
import { SECRET_NAMES, VARIABLE_NAMES } from "../../src/params";
import { TASK_QUEUES } from "../../src/providers/budget";
import { PROVIDER_IDS, type ProviderId } from "../../src/providers/types";
import { systemClock } from "../../src/shared/clock";
import { type TestFirestore, testFirestore } from "../harness/firestore";
import { TEST_TOKEN_KEYS_VALUE } from "../harness/seed";
import {
  seedSandboxIntegration,
  startTestStack,
  storedTotals,
  type TestStack,
} from "../harness/stack";
import {
  assertLibBuilt,
  coldStart,
  deployedEnv,
  expectJobSynced,
  type FunctionInstance,
  LIB_DIR,
  paramsAndSecrets,
  setEnv,
  waitFor,
} from "./helpers";
import { type RunningTasks, startCloudTasks, type TaskFunction } from "./tasks";

const ACCOUNTS: SandboxAccount[] = [
  {
    provider: "google",
    id: "4444444444",
    name: "G1",
    timeZone: "Europe/Paris",
    currency: "EUR",
    campaigns: 3,
  },
  {
    provider: "google",
    id: "5555555555",
    name: "G2",
    timeZone: "UTC",
    currency: "USD",
    campaigns: 2,
  },
  {
    provider: "meta",
    id: "300000000000044",
    name: "M1",
    timeZone: "America/New_York",
    currency: "USD",
    campaigns: 2,
  },
];

// ---------------------------------------------------------------------------------------------
// Firestore events as Eventarc delivers them

/** A Firestore document in the REST API's JSON form (Proto3 JSON), as the emulator returns it. */
interface DocumentJson {
  name: string;
  fields?: Record<string, ValueJson>;
  createTime: string;
  updateTime: string;
}

interface ValueJson {
  nullValue?: null;
  booleanValue?: boolean;
  integerValue?: string;
  doubleValue?: number | string;
  timestampValue?: string;
  stringValue?: string;
  bytesValue?: string;
  referenceValue?: string;
  geoPointValue?: { latitude?: number; longitude?: number };
  arrayValue?: { values?: ValueJson[] };
  mapValue?: { fields?: Record<string, ValueJson> };
}

/** `google.events.cloud.firestore.v1.Value` in protobufjs' object form. */
interface ValueProto {
  nullValue?: 0;
  booleanValue?: boolean;
  integerValue?: number;
  doubleValue?: number;
  timestampValue?: TimestampProto;
  stringValue?: string;
  bytesValue?: Uint8Array;
  referenceValue?: string;
  geoPointValue?: { latitude?: number; longitude?: number };
  arrayValue?: { values: ValueProto[] };
  mapValue?: { fields: Record<string, ValueProto> };
}

interface TimestampProto {
  seconds: number;
  nanos: number;
}

interface DocumentProto {
  name: string;
  fields: Record<string, ValueProto>;
  createTime: TimestampProto;
  updateTime: TimestampProto;
}

/** The slice of protobufjs' generated message class the test uses. */
interface DocumentEventDataCodec {
  create(properties: { value: DocumentProto }): object;
  encode(message: object): { finish(): Uint8Array };
}

/**
 * The compiled protos firebase-functions decodes Firestore events with (`protos/`, which its
 * package exports do not expose): the same `DocumentEventData` type, found where lib/ resolves
 * firebase-functions.
 */
function documentEventDataCodec(): DocumentEventDataCodec {
  const entry = require.resolve("firebase-functions", { paths: [LIB_DIR] });
  const marker = join("node_modules", "firebase-functions");
  const root = entry.slice(0, entry.lastIndexOf(marker) + marker.length);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const protos = require(join(root, "protos", "compiledFirestore.js")) as {
    google: {
      events: { cloud: { firestore: { v1: { DocumentEventData: DocumentEventDataCodec } } } };
    };
  };
  return protos.google.events.cloud.firestore.v1.DocumentEventData;
}

/** RFC 3339 with up to nanoseconds → google.protobuf.Timestamp, without losing precision. */
function timestampProto(iso: string): TimestampProto {
  const match = /^(.*?)(?:\.(\d{1,9}))?Z$/.exec(iso);
  if (!match?.[1]) {
    throw new Error(`Not an RFC 3339 UTC timestamp: ${iso}`);
  }
  return {
    seconds: Math.floor(Date.parse(`${match[1]}Z`) / 1000),
    nanos: Number((match[2] ?? "").padEnd(9, "0")),
  };
}

/** Proto3 JSON `Value` → the protobufjs object form the codec encodes. */
function valueProto(value: ValueJson): ValueProto {
  if ("nullValue" in value) {
    return { nullValue: 0 };
  }
  if (value.booleanValue !== undefined) {
    return { booleanValue: value.booleanValue };
  }
  if (value.integerValue !== undefined) {
    return { integerValue: Number(value.integerValue) };
  }
  if (value.doubleValue !== undefined) {
    return { doubleValue: Number(value.doubleValue) };
  }
  if (value.timestampValue !== undefined) {
    return { timestampValue: timestampProto(value.timestampValue) };
  }
  if (value.stringValue !== undefined) {
    return { stringValue: value.stringValue };
  }
  if (value.bytesValue !== undefined) {
    return { bytesValue: Buffer.from(value.bytesValue, "base64") };
  }
  if (value.referenceValue !== undefined) {
    return { referenceValue: value.referenceValue };
  }
  if (value.geoPointValue !== undefined) {
    return { geoPointValue: value.geoPointValue };
  }
  if (value.arrayValue !== undefined) {
    return { arrayValue: { values: (value.arrayValue.values ?? []).map(valueProto) } };
  }
  if (value.mapValue !== undefined) {
    return { mapValue: { fields: fieldsProto(value.mapValue.fields ?? {}) } };
  }
  throw new Error(`Unknown Firestore value: ${JSON.stringify(value)}`);
}

const fieldsProto = (fields: Record<string, ValueJson>): Record<string, ValueProto> =>
  Object.fromEntries(Object.entries(fields).map(([name, value]) => [name, valueProto(value)]));

/** The document exactly as the Firestore emulator stored it (name, fields, both times). */
async function readDocumentJson(project: TestFirestore, path: string): Promise<DocumentJson> {
  const host = process.env.FIRESTORE_EMULATOR_HOST;
  const url = `http://${host}/v1/projects/${project.projectId}/databases/(default)/documents/${path}`;
  const response = await fetch(url, { headers: { Authorization: "Bearer owner" } });
  if (!response.ok) {
    throw new Error(`GET ${url} answered ${response.status}: ${await response.text()}`);
  }
  return (await response.json()) as DocumentJson;
}

interface FirestoreCloudEvent extends CloudEvent<unknown> {
  datacontenttype: string;
  dataschema: string;
  location: string;
  project: string;
  database: string;
  namespace: string;
  document: string;
}

/**
 * A `google.cloud.firestore.document.v1.created` event for the document: the CloudEvent
 * attributes plus Firestore's extension attributes, and `data` a `DocumentEventData` with
 * `value` = the document (no `oldValue` for a create), binary protobuf or its JSON form.
 */
function createdEvent(document: DocumentJson, encoding: "protobuf" | "json"): FirestoreCloudEvent {
  const parts = /^projects\/([^/]+)\/databases\/([^/]+)\/documents\/(.+)$/.exec(document.name);
  if (!parts?.[1] || !parts[2] || !parts[3]) {
    throw new Error(`Not a document name: ${document.name}`);
  }
  const [, project, database, path] = parts;
  const attributes = {
    specversion: "1.0" as const,
    id: randomUUID(),
    source: `//firestore.googleapis.com/projects/${project}/databases/${database}`,
    type: "google.cloud.firestore.document.v1.created",
    subject: `documents/${path}`,
    time: document.createTime,
    dataschema:
      "https://github.com/googleapis/google-cloudevents/blob/main/proto/google/events/cloud/firestore/v1/data.proto",
    location: "nam5",
    project,
    database,
    namespace: "(default)",
    document: path,
  };
  if (encoding === "json") {
    return { ...attributes, datacontenttype: "application/json", data: { value: document } };
  }
  const codec = documentEventDataCodec();
  const message = codec.create({
    value: {
      name: document.name,
      fields: fieldsProto(document.fields ?? {}),
      createTime: timestampProto(document.createTime),
      updateTime: timestampProto(document.updateTime),
    },
  });
  return {
    ...attributes,
    datacontenttype: "application/protobuf",
    data: Buffer.from(codec.encode(message).finish()),
  };
}

// ---------------------------------------------------------------------------------------------

let stack: TestStack;
let firestore: TestFirestore;
let db: Firestore;
let restoreEnv: () => void = () => undefined;
const instances: FunctionInstance[] = [];
let tasks: RunningTasks;
let users = 0;

beforeAll(async () => {
  assertLibBuilt();
  stack = await startTestStack(ACCOUNTS);
  // The test's own reads and writes go through a named app of the test's firebase-admin; the
  // function instances load their own firebase-admin and never see it.
  firestore = testFirestore("cloudevent");
  db = firestore.db;
  const configured = {
    INTEGRATIONS_CRON_SECRET: `cron-${randomUUID()}`,
    INTEGRATIONS_CRON_SECRET_PREVIOUS: "none",
    STRIPE_SECRET_KEY: "none",
    NEXT_PUBLIC_APP_URL: "http://localhost:3000",
    ADMIN_EMAILS: "ops.admin@example.com",
    TOKEN_ENCRYPTION_KEYS: TEST_TOKEN_KEYS_VALUE,
    ...stack.env,
  };
  const probe = coldStart();
  const triggerEnv = deployedEnv(probe.functions.processSyncJob.__endpoint, configured);
  const env = deployedEnv(probe.functions.runSyncJobGoogle.__endpoint, configured);
  await probe.close();
  // The trigger only dispatches and binds no secret; the task functions bind these two only.
  const { secrets } = paramsAndSecrets(configured);
  const secretsIn = (values: Record<string, string>) =>
    Object.keys(values)
      .filter((name) => name in secrets)
      .sort();
  expect(secretsIn(triggerEnv)).toEqual([]);
  expect(secretsIn(env)).toEqual(["PROVIDER_SECRETS", "TOKEN_ENCRYPTION_KEYS"]);
  // One cold instance serves every platform's queue (its own module registry, as the trigger's).
  const worker = startInstance();
  tasks = await startCloudTasks(
    firestore.projectId,
    Object.fromEntries(
      PROVIDER_IDS.map((id) => {
        const name = TASK_QUEUES[id].functionName as keyof typeof worker.functions;
        return [name, worker.functions[name] as unknown as TaskFunction];
      }),
    ),
  );
  restoreEnv = setEnv({
    // Nothing of the test process's own configuration leaks in: exactly what the runtime sets.
    ...Object.fromEntries([...VARIABLE_NAMES, ...SECRET_NAMES].map((name) => [name, undefined])),
    ...env,
    GCLOUD_PROJECT: firestore.projectId,
    FIREBASE_CONFIG: JSON.stringify({ projectId: firestore.projectId }),
    FUNCTION_TARGET: "processSyncJob",
    FUNCTION_SIGNATURE_TYPE: "cloudevent",
    K_SERVICE: "processsyncjob",
    CLOUD_TASKS_EMULATOR_HOST: tasks.host,
  });
});

afterAll(async () => {
  restoreEnv();
  await tasks?.close();
  await Promise.all(instances.map((instance) => instance.close()));
  await firestore?.close();
  await stack?.stop();
});

/** A new function instance (cold start); no default app exists in its firebase-admin. */
function startInstance(): FunctionInstance {
  const instance = coldStart();
  instances.push(instance);
  expect(instance.admin.getApps().map((app) => app.name)).not.toContain("[DEFAULT]");
  expect(instance.admin.getApps()).toHaveLength(0);
  return instance;
}

/** Delivers the event; on failure, the instance's error logs go into the message. */
async function deliver(instance: FunctionInstance, event: FirestoreCloudEvent): Promise<void> {
  try {
    await instance.functions.processSyncJob(event);
  } catch (error) {
    const logged = instance.logs
      .filter((line) => line.severity === "ERROR" || line.severity === "WARNING")
      .map((line) => `  ${line.severity} ${line.message}`)
      .join("\n");
    if (error instanceof Error && logged) {
      error.message += `\nThe instance logged:\n${logged}`;
    }
    throw error;
  }
}

/** Seeds a sandbox integration and enqueues one job for it, as the schedule endpoint does. */
async function enqueueSandboxJob(providerId: ProviderId) {
  const userId = `cloudevent-user-${(users += 1)}`;
  await seedSandboxIntegration(db, stack, userId, providerId, { autoSync: false });
  const [outcome] = await enqueueJobs({ db, clock: systemClock }, [
    { userId, providerId, type: "manual-sync", timeframeDays: 2, source: "schedule-endpoint" },
  ]);
  if (outcome?.status !== "queued") {
    throw new Error(`expected a queued job, got ${JSON.stringify(outcome)}`);
  }
  const document = await readDocumentJson(firestore, `${JOBS_COLLECTION}/${outcome.jobId}`);
  return { userId, jobId: outcome.jobId, document };
}

/**
 * What firebase-functions hands a handler for the event, through its public API in a registry
 * of its own: proof that the test's events are what the SDK decodes, not merely accepted.
 */
async function decodedByFirebaseFunctions(event: FirestoreCloudEvent) {
  const box: {
    probe?: (event: FirestoreCloudEvent) => unknown;
    admin?: typeof AdminAppModule;
    seen?: { params: unknown; id?: string; data?: unknown; createTime?: string; path?: string };
  } = {};
  jest.isolateModules(() => {
    /* eslint-disable @typescript-eslint/no-require-imports */
    const { onDocumentCreated } = require(
      require.resolve("firebase-functions/firestore", { paths: [LIB_DIR] }),
    ) as typeof FirestoreTriggers;
    box.admin = require(
      require.resolve("firebase-admin/app", { paths: [LIB_DIR] }),
    ) as typeof AdminAppModule;
    /* eslint-enable @typescript-eslint/no-require-imports */
    box.probe = onDocumentCreated(`${JOBS_COLLECTION}/{jobId}`, (decoded) => {
      box.seen = {
        params: decoded.params,
        id: decoded.data?.id,
        path: decoded.data?.ref.path,
        data: decoded.data?.data(),
        createTime: decoded.data?.createTime.toDate().toISOString(),
      };
    });
  });
  const { probe, admin } = box;
  try {
    await probe?.(event);
  } finally {
    if (admin) {
      await Promise.all(admin.getApps().map((app) => admin.deleteApp(app)));
    }
  }
  return box.seen;
}

const requestsTo = (providerId: ProviderId) =>
  stack.world.requestLog.filter((entry) => entry.provider === providerId).length;

/** The job ran to its end (on the task function): its document is terminal. */
const finished = (jobId: string) =>
  waitFor(`job ${jobId} to finish`, async () => {
    const status = (await db.collection(JOBS_COLLECTION).doc(jobId).get()).get("status") as unknown;
    return status === "succeeded" || status === "failed" ? status : undefined;
  });

/** What the trigger's deliveries did with the job, over every instance, in order. */
const dispatchOutcomes = (jobId: string) =>
  instances.flatMap((instance) =>
    instance.logs
      .filter((line) => line.jobId === jobId && line.message === "job dispatched")
      .map((line) => line.outcome),
  );

async function expectSyncedOnce(userId: string, jobId: string, deliveries: number) {
  await finished(jobId);
  const { job, expected } = await expectJobSynced(db, stack.world, jobId);
  expect(job.attempts).toBe(1);
  expect(job.result?.rowsWritten).toBe(expected.rows);
  expect(await storedTotals(db, userId, job.providerId)).toEqual(expected);
  const metrics = await db.collection(`users/${userId}/metrics`).get();
  expect(new Set(metrics.docs.map((doc) => doc.get("jobId") as unknown))).toEqual(new Set([jobId]));
  // One task per job: the first delivery enqueued it, the others found it there.
  const outcomes = dispatchOutcomes(jobId);
  expect(outcomes).toHaveLength(deliveries);
  expect(outcomes.filter((outcome) => outcome === "enqueued")).toHaveLength(1);
  expect(outcomes.filter((outcome) => outcome === "exists")).toHaveLength(deliveries - 1);
  // …which Cloud Tasks dispatched once, to the platform's function, which answered 204.
  expect(tasks.dispatches.filter((dispatch) => dispatch.jobId === jobId)).toEqual([
    {
      functionName: TASK_QUEUES[job.providerId].functionName,
      jobId,
      taskName: expect.any(String) as string,
      status: 204,
    },
  ]);
}

it("builds events that firebase-functions decodes to the stored document, in both encodings", async () => {
  const { jobId, document } = await enqueueSandboxJob("google");
  const stored = await db.collection(JOBS_COLLECTION).doc(jobId).get();
  const expected = {
    params: { jobId },
    id: jobId,
    path: `${JOBS_COLLECTION}/${jobId}`,
    data: stored.data(),
    createTime: stored.createTime?.toDate().toISOString(),
  };
  expect(expected.data).toMatchObject({ status: "queued", providerId: "google" });
  expect(await decodedByFirebaseFunctions(createdEvent(document, "protobuf"))).toEqual(expected);
  expect(await decodedByFirebaseFunctions(createdEvent(document, "json"))).toEqual(expected);
});

it("processes a job delivered as a protobuf CloudEvent on a cold instance, which creates the default app itself", async () => {
  const { userId, jobId, document } = await enqueueSandboxJob("google");
  const event = createdEvent(document, "protobuf");
  expect(Buffer.isBuffer(event.data)).toBe(true);

  const instance = startInstance();
  await deliver(instance, event);

  // onInit created the default app (firebase-functions' own named app decoded the event).
  expect(instance.admin.getApps().map((app) => app.name)).toContain("[DEFAULT]");
  expect(instance.admin.getApp().options.projectId).toBe(firestore.projectId);
  await expectSyncedOnce(userId, jobId, 1);
  expect(instance.logs.filter((line) => line.severity === "ERROR")).toEqual([]);
});

it("processes a job delivered with the JSON encoding of DocumentEventData", async () => {
  const { userId, jobId, document } = await enqueueSandboxJob("meta");
  const event = createdEvent(document, "json");

  const instance = startInstance();
  await deliver(instance, event);

  expect(instance.admin.getApps().map((app) => app.name)).toContain("[DEFAULT]");
  await expectSyncedOnce(userId, jobId, 1);
});

it("processes a job once when the same event is delivered twice at once and again later", async () => {
  // The platform calls one job makes, measured on a job of the same shape.
  const reference = await enqueueSandboxJob("google");
  const before = requestsTo("google");
  await deliver(startInstance(), createdEvent(reference.document, "protobuf"));
  await finished(reference.jobId);
  const perDelivery = requestsTo("google") - before;
  expect(perDelivery).toBeGreaterThan(0);

  const { userId, jobId, document } = await enqueueSandboxJob("google");
  const event = createdEvent(document, "protobuf");
  const start = requestsTo("google");
  // At-least-once delivery: two instances get the same event at the same time, then one of
  // them gets it again after both have finished.
  const first = startInstance();
  await Promise.all([deliver(first, event), deliver(startInstance(), event)]);
  await finished(jobId);
  await deliver(first, event);

  await expectSyncedOnce(userId, jobId, 3);
  expect(requestsTo("google") - start).toBe(perDelivery);
});
