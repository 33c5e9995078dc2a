/**
 * The gRPC status codes of Firestore client errors (`error.code`) that the store's decisions
 * turn on: a `create` that found the document, a precondition (`lastUpdateTime`, `exists`) that
 * no longer holds, an `update` of a missing document. One list, read one way.
 */
const CODES = { NOT_FOUND: 5, ALREADY_EXISTS: 6, FAILED_PRECONDITION: 9 } as const;
export type FirestoreCode = keyof typeof CODES;

/** Whether `error` is a Firestore error with one of `codes`. */
export function hasFirestoreCode(error: unknown, ...codes: FirestoreCode[]): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return codes.some((name) => CODES[name] === code);
}
