/**
 * Serves the real `onRequest` functions at the URLs firebase.json's hosting rewrites give them,
 * the way Firebase Hosting plus the Functions runtime would: JSON bodies parsed, `rawBody` kept.
 * Used by `npm start` and by the end-to-end HTTP tests.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

import express, { type Express, type Request, type Response } from "express";
import { z } from "zod";

const rewriteSchema = z.object({
  source: z.string().startsWith("/"),
  function: z.object({ functionId: z.string(), region: z.string() }),
});

const firebaseJsonSchema = z.object({
  hosting: z.object({ rewrites: z.array(rewriteSchema) }),
});

export type Rewrite = z.infer<typeof rewriteSchema>;

export const REPO_ROOT = join(__dirname, "..", "..");

export function readRewrites(): Rewrite[] {
  const raw: unknown = JSON.parse(readFileSync(join(REPO_ROOT, "firebase.json"), "utf8"));
  return firebaseJsonSchema.parse(raw).hosting.rewrites;
}

type HttpFunction = (req: Request, res: Response) => void | Promise<void>;

/** A local-only route (never part of the deployed functions). */
export interface DevRoute {
  method: "get" | "post";
  path: string;
  handler: (req: Request, res: Response) => void;
}

/** Builds the app from the functions module's exports; fails if a rewrite names no export. */
export function createLocalApp(
  functionsModule: Record<string, unknown>,
  devRoutes: readonly DevRoute[] = [],
): Express {
  const app = express();
  app.disable("x-powered-by");
  app.use(
    express.json({
      limit: "1mb",
      verify: (req, _res, buf) => {
        (req as Request & { rawBody?: Buffer }).rawBody = buf;
      },
    }),
  );
  for (const rewrite of readRewrites()) {
    const target = functionsModule[rewrite.function.functionId];
    if (typeof target !== "function") {
      throw new Error(
        `firebase.json rewrites ${rewrite.source} to "${rewrite.function.functionId}", which functions/src/index.ts does not export`,
      );
    }
    const handler = target as HttpFunction;
    app.all(rewrite.source, (req, res, next) => {
      Promise.resolve(handler(req, res)).catch(next);
    });
  }
  for (const route of devRoutes) {
    app[route.method](route.path, route.handler);
  }
  app.use((_req, res) => {
    res.status(404).json({ error: { code: "not_found", message: "No such endpoint" } });
  });
  // Express calls this for malformed JSON bodies before any function sees them.
  app.use(
    (
      error: Error & { status?: number; type?: string },
      _req: Request,
      res: Response,
      _next: () => void,
    ) => {
      const status = error.status ?? 500;
      res.status(status).json({
        error: {
          code: status === 400 ? "invalid_argument" : "internal",
          message: status === 400 ? "Request body is not valid JSON" : "Internal error",
        },
      });
    },
  );
  return app;
}
