/** Primitive comparators shared by value ordering and resource-name ordering. */

export const sign = (n: number | bigint): number => (n > 0 ? 1 : n < 0 ? -1 : 0);

export const compareBytes = (a: Uint8Array, b: Uint8Array): number => Buffer.compare(a, b);

const textEncoder = new TextEncoder();

/** Firestore compares strings by their UTF-8 bytes, not UTF-16 code units (they differ above U+FFFF). */
export const compareStrings = (a: string, b: string): number =>
  a === b ? 0 : compareBytes(textEncoder.encode(a), textEncoder.encode(b));
