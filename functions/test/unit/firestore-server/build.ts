/** Builders for wire values and stored documents in the server's unit tests. */
import type { Fields, Value } from "../../../dev/firestore/proto";
import type { StoredDocument } from "../../../dev/firestore/store";

export const DB = "projects/p/databases/(default)";
export const ROOT = `${DB}/documents`;

export const int = (n: number | bigint): Value => ({ integerValue: BigInt(n).toString() });
export const dbl = (n: number): Value => ({ doubleValue: n });
export const str = (s: string): Value => ({ stringValue: s });
export const bool = (b: boolean): Value => ({ booleanValue: b });
export const nul: Value = { nullValue: "NULL_VALUE" };
export const ref = (path: string): Value => ({ referenceValue: `${ROOT}/${path}` });
export const arr = (...values: Value[]): Value => ({ arrayValue: { values } });
export const map = (fields: Fields): Value => ({ mapValue: { fields } });

export const doc = (path: string, fields: Fields, time = 1n): StoredDocument => ({
  name: `${ROOT}/${path}`,
  fields,
  createTime: time,
  updateTime: time,
});

/** The gRPC status code `run` throws (undefined when it does not throw). */
export function thrownCode(run: () => unknown): number | undefined {
  try {
    run();
  } catch (error) {
    return (error as { code?: number }).code;
  }
  return undefined;
}
