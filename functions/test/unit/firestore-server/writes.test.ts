import { status } from "@grpc/grpc-js";

import type { Write } from "../../../dev/firestore/proto";
import { timestampMicros } from "../../../dev/firestore/values";
import { applyWrite } from "../../../dev/firestore/writes";
import { arr, dbl, doc, int, map, nul, ROOT, str, thrownCode } from "./build";

const NAME = `${ROOT}/c/d`;
const current = doc("c/d", { a: int(1), m: map({ x: int(1), y: int(2) }) }, 5n);

/** An update of NAME with no fields, plus `write`'s mask, transforms or precondition. */
const update = (write: Partial<Write>): Write => ({ update: { name: NAME, fields: {} }, ...write });

test("an update without a mask replaces the fields; with a mask it sets and deletes masked paths", () => {
  const replaced = applyWrite(current, { update: { name: NAME, fields: { b: int(2) } } }, 9n);
  expect(replaced.document?.fields).toEqual({ b: int(2) });

  const masked = applyWrite(
    current,
    {
      update: { name: NAME, fields: { m: map({ x: int(10) }) } },
      updateMask: { fieldPaths: ["m.x", "m.y", "a.z"] },
    },
    9n,
  );
  // "a.z" names nothing (a is not a map): deleting it changes nothing.
  expect(masked.document?.fields).toEqual({ a: int(1), m: map({ x: int(10) }) });
  expect(masked.document?.createTime).toBe(5n);
  expect(masked.document?.updateTime).toBe(9n);
});

test("preconditions fail with Firestore's codes", () => {
  const exists = (value: boolean) => update({ currentDocument: { exists: value } });
  expect(thrownCode(() => applyWrite(undefined, exists(true), 9n))).toBe(status.NOT_FOUND);
  expect(thrownCode(() => applyWrite(current, exists(false), 9n))).toBe(status.ALREADY_EXISTS);
  const deleteAt = (micros: number): Write => ({
    delete: NAME,
    currentDocument: { updateTime: { seconds: "0", nanos: micros * 1000 } },
  });
  expect(thrownCode(() => applyWrite(current, deleteAt(4), 9n))).toBe(status.FAILED_PRECONDITION);
  expect(applyWrite(current, deleteAt(5), 9n).document).toBeUndefined();
});

test("transforms apply in order and report their results", () => {
  const applied = applyWrite(
    doc("c/d", { n: int(2n ** 63n - 2n), d: int(1), tags: arr(str("a"), int(1)) }),
    update({
      updateMask: { fieldPaths: [] },
      updateTransforms: [
        { fieldPath: "n", increment: int(5) },
        { fieldPath: "d", increment: dbl(0.5) },
        { fieldPath: "d", maximum: int(1) },
        { fieldPath: "tags", appendMissingElements: { values: [dbl(1), str("b")] } },
        { fieldPath: "tags", removeAllFromArray: { values: [str("a")] } },
        { fieldPath: "at.when", setToServerValue: "REQUEST_TIME" },
        { fieldPath: "low", minimum: int(3) },
      ],
    }),
    1_500_000n,
  );

  const when = { timestampValue: { seconds: "1", nanos: 500_000_000 } };
  expect(applied.document?.fields).toEqual({
    // Integer overflow saturates.
    n: int(2n ** 63n - 1n),
    d: dbl(1.5),
    // 1.0 equals 1, so it is not appended.
    tags: arr(int(1), str("b")),
    at: map({ when }),
    low: int(3),
  });
  expect(applied.result.transformResults).toEqual([
    int(2n ** 63n - 1n),
    dbl(1.5),
    dbl(1.5),
    nul,
    nul,
    when,
    int(3),
  ]);
});

test("a write that changes nothing keeps the previous update time", () => {
  const same = applyWrite(current, { update: { name: NAME, fields: current.fields } }, 9n);
  expect(same.document).toBe(current);
  expect(timestampMicros(same.result.updateTime ?? { seconds: 0, nanos: 0 })).toBe(5n);
});
