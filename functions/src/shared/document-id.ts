/**
 * What Firestore accepts as a document id, for every id that arrives from outside and becomes
 * one (a request's `userId`, a task's `jobId`): refused here with why, never a path error later.
 */
import { z } from "zod";

/** The most UTF-8 bytes Firestore accepts in a document id. */
const MAX_DOCUMENT_ID_BYTES = 1500;

/** Why Firestore would refuse `value` as a document id, or undefined when it is a valid one. */
export function documentIdProblem(value: string): string | undefined {
  if (value.includes("/")) {
    return "must not contain '/'";
  }
  if (value === "." || value === ".." || /^__.*__$/.test(value)) {
    return "is not a valid document id";
  }
  if (Buffer.byteLength(value, "utf8") > MAX_DOCUMENT_ID_BYTES) {
    return `must be at most ${MAX_DOCUMENT_ID_BYTES} bytes`;
  }
  return undefined;
}

/** A non-empty string Firestore accepts as one document id. */
export const documentIdSchema = z
  .string()
  .min(1)
  .superRefine((value, ctx) => {
    const problem = documentIdProblem(value);
    if (problem) {
      ctx.addIssue({ code: "custom", message: problem });
    }
  });
