/** Small helpers for the conformance suite; they use nothing but the public firebase-admin API. */
import type { DocumentData, DocumentReference, QuerySnapshot } from "firebase-admin/firestore";

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((done) => (resolve = done));
  return { promise, resolve };
}

/** The ids of a query result, in result order. */
export const ids = (snapshot: QuerySnapshot): string[] => snapshot.docs.map((doc) => doc.id);

/** `type:id` of every document change in `snapshots`, in order. */
export const changesOf = (snapshots: QuerySnapshot[]): string[] =>
  snapshots.flatMap((snapshot) =>
    snapshot.docChanges().map((change) => `${change.type}:${change.doc.id}`),
  );

/**
 * Follows a listener's snapshots. `until` waits for the first snapshot that satisfies a
 * predicate and returns every snapshot since the previous `until` (the matching one last), so
 * assertions hold however the server batches changes into snapshots.
 */
export function followSnapshots<T>(
  listen: (next: (snapshot: T) => void, fail: (error: Error) => void) => () => void,
) {
  const received: T[] = [];
  let wake: (() => void) | undefined;
  let failure: Error | undefined;
  const unsubscribe = listen(
    (snapshot) => {
      received.push(snapshot);
      wake?.();
    },
    (error) => {
      failure = error;
      wake?.();
    },
  );
  let consumed = 0;
  return {
    unsubscribe,
    async until(predicate: (snapshot: T) => boolean): Promise<T[]> {
      const passed: T[] = [];
      for (;;) {
        if (failure) {
          throw failure;
        }
        if (consumed === received.length) {
          await new Promise<void>((resolve) => (wake = resolve));
          continue;
        }
        const snapshot = received[consumed++] as T;
        passed.push(snapshot);
        if (predicate(snapshot)) {
          return passed;
        }
      }
    },
  };
}

/**
 * Asserts that a batch or transaction failed with `code` and applied none of its writes: each
 * document still holds its data from before (`undefined`: still missing).
 */
export async function expectNoneApplied(
  attempt: Promise<unknown>,
  code: number,
  before: [DocumentReference, DocumentData | undefined][],
): Promise<void> {
  await expect(attempt).rejects.toMatchObject({ code });
  const [first] = before;
  if (!first) {
    return;
  }
  const after = await first[0].firestore.getAll(...before.map(([ref]) => ref));
  expect(after.map((snapshot) => snapshot.data())).toEqual(before.map(([, data]) => data));
}
