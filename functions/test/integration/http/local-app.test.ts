/**
 * End to end over HTTP: the real exported functions behind the local app, routed by the
 * firebase.json rewrites, exactly as `npm start` serves them.
 */
import axios from "axios";
import { deleteApp, getApps } from "firebase-admin/app";

import { createLocalApp, readRewrites } from "../../../dev/local-app";
import { REGION } from "../../../src/params";
import { listenOnLoopback, type RunningServer } from "../../harness/http";

let server: RunningServer;
const client = axios.create({ validateStatus: () => true });

interface ErrorBody {
  error: { code: string; message: string };
}

beforeAll(async () => {
  process.env.GCLOUD_PROJECT = "demo-local-app";
  process.env.INTEGRATIONS_CRON_SECRET = "local-app-cron-secret-0123";
  process.env.NEXT_PUBLIC_APP_URL = "http://localhost:3000";
  process.env.ADMIN_EMAILS = "admin@example.com";
  const functionsModule = (await import("../../../src/index")) as Record<string, unknown>;
  const app = createLocalApp(functionsModule);
  server = await listenOnLoopback((req, res) => {
    app(req, res);
  });
});
afterAll(async () => {
  await server.close();
  await Promise.all(getApps().map((app) => deleteApp(app)));
});

describe("firebase.json rewrites", () => {
  it("point at functions deployed in the functions' region", () => {
    for (const rewrite of readRewrites()) {
      expect(rewrite.function.region).toBe(REGION);
    }
  });

  it("fail loudly when a rewrite names a function that is not exported", () => {
    expect(() => createLocalApp({})).toThrow(/does not export/);
  });
});

describe("GET /api/health through the real function", () => {
  it("returns 200 with the guide's shape and the package version", async () => {
    const response = await client.get(`${server.url}/api/health`);
    expect(response.status).toBe(200);
    expect(response.headers["cache-control"]).toBe("no-store");
    expect(response.data).toMatchObject({
      status: "healthy",
      checks: {
        firebase: { status: "ok" },
        stripe: { status: "not_configured" },
        environment: { status: "ok" },
      },
      version: "0.1.0",
    });
    expect(JSON.stringify(response.data)).not.toContain(process.env.INTEGRATIONS_CRON_SECRET);
  });

  it("answers 405 with Allow for other methods", async () => {
    const response = await client.post(`${server.url}/api/health`, {});
    expect(response.status).toBe(405);
    expect(response.headers.allow).toBe("GET");
    expect(response.data).toEqual({
      error: { code: "method_not_allowed", message: "health accepts GET only" },
    });
  });

  it("answers 404 in JSON for unknown paths", async () => {
    const response = await client.get<ErrorBody>(`${server.url}/api/nope`);
    expect(response.status).toBe(404);
    expect(response.data.error.code).toBe("not_found");
  });
});
