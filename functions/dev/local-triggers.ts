/**
 * The local stack's stand-in for Eventarc and Cloud Scheduler: a Firestore listener hands each
 * new document under a trigger's collection to the real `onDocumentCreated` handler, and a
 * minute clock runs each scheduled function whose declared cron expression matches. Handlers are
 * found from the functions' own endpoint declarations, so nothing here names a function.
 */
import type { DocumentSnapshot, Firestore } from "firebase-admin/firestore";

import { parseCron } from "./cron";

interface EndpointLike {
  scheduleTrigger?: { schedule?: unknown };
  eventTrigger?: { eventType?: string; eventFilterPathPatterns?: { document?: unknown } };
}

type Runnable = ((...args: unknown[]) => unknown) & {
  run: (event: unknown) => Promise<unknown>;
  __endpoint?: EndpointLike;
};

const isRunnable = (value: unknown): value is Runnable =>
  typeof value === "function" && typeof (value as Partial<Runnable>).run === "function";

export interface LocalTriggers {
  scheduled: string[];
  documentCreated: string[];
  stop(): void;
}

export interface LocalTriggerOptions {
  db: Firestore;
  log: (message: string, fields?: Record<string, unknown>) => void;
}

/** `syncJobs/{jobId}` → collection `syncJobs` and param name `jobId` (top-level collections). */
function parseDocumentPattern(pattern: string): { collection: string; param: string } {
  const match = /^([^/{}]+)\/\{([^/{}]+)\}$/.exec(pattern);
  if (!match) {
    throw new Error(
      `local triggers support top-level "collection/{id}" patterns, not "${pattern}"`,
    );
  }
  return { collection: match[1]!, param: match[2]! };
}

export function startLocalTriggers(
  functionsModule: Record<string, unknown>,
  options: LocalTriggerOptions,
): LocalTriggers {
  const stops: Array<() => void> = [];
  const scheduled: Array<{ name: string; fn: Runnable; matches: (date: Date) => boolean }> = [];
  const documentCreated: string[] = [];

  for (const [name, value] of Object.entries(functionsModule)) {
    if (!isRunnable(value)) {
      continue;
    }
    const endpoint = value.__endpoint;
    const schedule = endpoint?.scheduleTrigger?.schedule;
    if (typeof schedule === "string") {
      scheduled.push({ name, fn: value, matches: parseCron(schedule) });
    }
    const trigger = endpoint?.eventTrigger;
    const pattern = trigger?.eventFilterPathPatterns?.document;
    if (
      trigger?.eventType === "google.cloud.firestore.document.v1.created" &&
      typeof pattern === "string"
    ) {
      const { collection, param } = parseDocumentPattern(pattern);
      documentCreated.push(name);
      let initial = true;
      const unsubscribe = options.db.collection(collection).onSnapshot((snapshot) => {
        // The first snapshot lists documents that existed before we started: not creations.
        const changes = initial ? [] : snapshot.docChanges().filter((c) => c.type === "added");
        initial = false;
        for (const change of changes) {
          void deliver(value, name, change.doc, param, options);
        }
      });
      stops.push(unsubscribe);
    }
  }

  const tick = () => {
    const now = new Date();
    now.setUTCSeconds(0, 0);
    for (const job of scheduled.filter((entry) => entry.matches(now))) {
      options.log(`scheduled ${job.name}`, { scheduleTime: now.toISOString() });
      job.fn
        .run({ scheduleTime: now.toISOString(), jobName: `local-${job.name}` })
        .catch((error: unknown) => {
          options.log(`scheduled ${job.name} failed`, { error: String(error) });
        });
    }
  };
  // Fire at the start of every minute, as Cloud Scheduler does.
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    timer = setTimeout(
      () => {
        tick();
        arm();
      },
      60_000 - (Date.now() % 60_000),
    );
  };
  arm();
  stops.push(() => clearTimeout(timer));

  return {
    scheduled: scheduled.map(
      (entry) => `${entry.name} (${String(entry.fn.__endpoint?.scheduleTrigger?.schedule)})`,
    ),
    documentCreated,
    stop: () => stops.forEach((stop) => stop()),
  };
}

async function deliver(
  fn: Runnable,
  name: string,
  doc: DocumentSnapshot,
  param: string,
  options: LocalTriggerOptions,
): Promise<void> {
  try {
    await fn.run({
      id: `local-${doc.id}-${Date.now()}`,
      type: "google.cloud.firestore.document.v1.created",
      time: new Date().toISOString(),
      data: doc,
      params: { [param]: doc.id },
      document: doc.ref.path,
    });
  } catch (error) {
    options.log(`${name} failed`, { document: doc.ref.path, error: String(error) });
  }
}
