import {
  compareResourceNames,
  deleteField,
  parseFieldPath,
  setField,
} from "../../../dev/firestore/paths";
import { compareValues, valuesEqual, valuesIdentical } from "../../../dev/firestore/values";
import { arr, bool, dbl, int, map, nul, ref, str } from "./build";

describe("value ordering", () => {
  test("orders across types as Firestore documents it", () => {
    const ascending = [
      nul,
      bool(false),
      bool(true),
      dbl(NaN),
      dbl(-Infinity),
      int(-1),
      dbl(0.5),
      int(1),
      { timestampValue: { seconds: "0", nanos: 0 } },
      str(""),
      { bytesValue: Buffer.from([0]) },
      ref("a/b"),
      { geoPointValue: { latitude: 0, longitude: 0 } },
      arr(),
      map({}),
    ];
    const shuffled = [...ascending].reverse();
    expect(shuffled.sort(compareValues)).toEqual(ascending);
  });

  test("compares integers and doubles exactly, beyond 2^53", () => {
    const big = 2n ** 60n;
    expect(compareValues(int(big + 1n), dbl(2 ** 60))).toBe(1);
    expect(compareValues(int(big), dbl(2 ** 60))).toBe(0);
    expect(compareValues(int(2), dbl(2.5))).toBe(-1);
    expect(compareValues(int(-2), dbl(-2.5))).toBe(1);
    expect(valuesEqual(int(3), dbl(3))).toBe(true);
    expect(valuesIdentical(int(3), dbl(3))).toBe(false);
  });

  test("compares strings by UTF-8 bytes, not UTF-16 code units", () => {
    // U+1F600 is a surrogate pair (0xD83D...) in UTF-16, below U+FFFD; in UTF-8 it is above.
    expect(compareValues(str("\u{1F600}"), str("\uFFFD"))).toBe(1);
  });

  test("orders references by segment, numeric ids first", () => {
    expect(compareResourceNames("a/__id5__", "a/__id10__")).toBe(-1);
    expect(compareResourceNames("a/__id99__", "a/A")).toBe(-1);
    expect(compareResourceNames("a/b", "a/b/c/d")).toBe(-1);
    expect(compareResourceNames("tre/x", "tree/x")).toBe(-1);
  });

  test("orders maps by sorted keys, then values, then size", () => {
    expect(compareValues(map({ a: int(1) }), map({ b: int(0) }))).toBe(-1);
    expect(compareValues(map({ a: int(2) }), map({ a: int(1), b: int(0) }))).toBe(1);
    expect(compareValues(map({ a: int(1) }), map({ a: int(1), b: int(0) }))).toBe(-1);
  });
});

describe("field paths", () => {
  test("parses backtick-quoted segments with escapes", () => {
    expect(parseFieldPath("a.b")).toEqual(["a", "b"]);
    expect(parseFieldPath("`example.com`.visits")).toEqual(["example.com", "visits"]);
    expect(parseFieldPath("`a\\`b`.c")).toEqual(["a`b", "c"]);
    expect(() => parseFieldPath("a..b")).toThrow("invalid field path");
  });

  test("setField and deleteField copy along the path and leave their input alone", () => {
    const fields = { a: map({ b: int(1), c: int(2) }), d: int(3) };
    const set = setField(fields, ["a", "e", "f"], int(4));
    const deleted = deleteField(set, ["a", "b"]);
    expect(deleted).toEqual({ a: map({ c: int(2), e: map({ f: int(4) }) }), d: int(3) });
    expect(fields).toEqual({ a: map({ b: int(1), c: int(2) }), d: int(3) });
    expect(setField({ a: int(1) }, ["a", "b"], int(2))).toEqual({ a: map({ b: int(2) }) });
  });
});
