/**
 * Several function instances of one project, as the abuse-limit tests need them: each instance
 * has its own firebase-admin app and Firestore client (nothing shared in memory), all share the
 * project's documents, the Auth emulator, a clock the test moves and one recording logger.
 * Every response they give and every token minted is kept, so a test can search everything the
 * run produced for a secret.
 */
import { deleteApp, initializeApp } from "firebase-admin/app";
import { getFirestore } from "firebase-admin/firestore";

import type { EndpointDeps, Handler, HttpRequestLike } from "../../src/http/context";
import type { JsonResponse } from "../../src/http/respond";
import type { RawEnv } from "../../src/shared/config";
import {
  CRON_SECRET,
  endpointDeps,
  PREVIOUS_CRON_SECRET,
  type RecordingLogger,
  recordingLogger,
  startTestAuth,
  type TestAuth,
} from "./auth";
import { type TestFirestore, testFirestore } from "./firestore";

export interface TestInstances {
  project: TestFirestore;
  testAuth: TestAuth;
  /** Instance `i`'s dependencies (fresh each call, so `env` and hooks may be swapped). */
  deps(i: number, overrides?: Partial<EndpointDeps>): EndpointDeps;
  /** Calls `handler` on instance `i` and keeps the response. */
  call(
    i: number,
    handler: Handler,
    req: HttpRequestLike,
    overrides?: Partial<EndpointDeps>,
  ): Promise<JsonResponse>;
  /** A signed-in user's ID token, remembered for `leaked`. */
  mint(uid: string): string;
  /** Moves the shared clock forward. */
  advance(ms: number): void;
  now(): Date;
  logger: RecordingLogger;
  /** Which of the configured secrets, minted tokens and `others` appear in a log or response. */
  leaked(others?: readonly string[]): string[];
  close(): Promise<void>;
}

export async function startInstances(
  label: string,
  options: { count: number; start: Date; env: RawEnv },
): Promise<TestInstances> {
  const project = testFirestore(label);
  const testAuth = await startTestAuth(project);
  const apps = Array.from({ length: options.count - 1 }, (_, i) =>
    initializeApp({ projectId: project.projectId }, `${project.projectId}-instance-${i + 2}`),
  );
  const dbs = [project.db, ...apps.map((app) => getFirestore(app))];
  const logger = recordingLogger();
  const responses: JsonResponse[] = [];
  const minted: string[] = [];
  let now = options.start;
  const deps = (i: number, overrides: Partial<EndpointDeps> = {}): EndpointDeps => ({
    ...endpointDeps({ db: dbs[i]!, auth: testAuth.auth, now, logger, env: options.env }),
    clock: () => now,
    ...overrides,
  });
  return {
    project,
    testAuth,
    deps,
    call: async (i, handler, req, overrides) => {
      await testAuth.settle();
      const response = await handler(req, deps(i, overrides));
      responses.push(response);
      return response;
    },
    mint: (uid) => {
      const token = testAuth.mintIdToken({ uid });
      minted.push(token);
      return token;
    },
    advance: (ms) => {
      now = new Date(now.getTime() + ms);
    },
    now: () => now,
    logger,
    leaked: (others = []) => {
      if (responses.length === 0 || logger.entries.length === 0 || minted.length === 0) {
        throw new Error("Nothing captured yet: the leak check would prove nothing");
      }
      const captured = JSON.stringify({ logs: logger.entries, responses });
      return [CRON_SECRET, PREVIOUS_CRON_SECRET, ...minted, ...others].filter((secret) =>
        captured.includes(secret),
      );
    },
    close: async () => {
      await Promise.all(apps.map((app) => deleteApp(app)));
      await testAuth.close();
      await project.close();
    },
  };
}
