import {
  decimalToMicros,
  parseDecimal,
  parseInteger,
  parseMicros,
} from "../../../src/providers/money";

describe("decimalToMicros", () => {
  it.each([
    ["12.34", 12_340_000n],
    ["0.1", 100_000n],
    ["0.000001", 1n],
    ["-5.5", -5_500_000n],
    ["1234567890.123456", 1_234_567_890_123_456n],
    ["7", 7_000_000n],
    [" 3.20 ", 3_200_000n],
    [0.1, 100_000n],
    [19.99, 19_990_000n],
  ] as const)("converts %p exactly to %p micros", (input, micros) => {
    expect(decimalToMicros(input)).toBe(micros);
  });

  it("reads numbers JSON gives in exponent form", () => {
    expect(decimalToMicros(1e12)).toBe(1_000_000_000_000_000_000n);
    expect(decimalToMicros(1.5e-6)).toBe(2n);
    expect(decimalToMicros(1e-7)).toBe(0n);
    expect(() => decimalToMicros(1e21)).toThrow(/too large/);
  });

  it("has no float drift where naive multiplication has", () => {
    // 1.005 * 1e6 = 1004999.9999999999 in binary floating point.
    expect(Math.floor(1.005 * 1e6)).not.toBe(1_005_000);
    expect(decimalToMicros("1.005")).toBe(1_005_000n);
    expect(decimalToMicros(1.005)).toBe(1_005_000n);
  });

  it("rounds digits beyond micros half away from zero, the same for strings and numbers", () => {
    expect(decimalToMicros("0.0000015")).toBe(2n);
    expect(decimalToMicros(0.0000015)).toBe(2n);
    expect(decimalToMicros("0.0000014")).toBe(1n);
    expect(decimalToMicros("-0.0000015")).toBe(-2n);
    expect(decimalToMicros(2.0000005)).toBe(decimalToMicros("2.0000005"));
  });

  it("keeps amounts past 2^53 micros exact (9.0e9 units: IDR, VND at scale)", () => {
    expect(decimalToMicros("9007199254.740993")).toBe(9_007_199_254_740_993n);
    expect(decimalToMicros("9000000000000.5")).toBe(9_000_000_000_000_500_000n);
  });

  it.each(["", "-", "1e5", "12,34", "abc", "1.2.3"])("rejects %p", (input) => {
    expect(() => decimalToMicros(input)).toThrow(RangeError);
  });

  it("rejects amounts beyond Firestore's int64", () => {
    expect(() => decimalToMicros("9223372036854.775808")).toThrow(/too large/);
  });
});

describe("parseMicros", () => {
  it("parses int64 micros exactly, past 2^53 too", () => {
    expect(parseMicros("9007199254740993")).toBe(9_007_199_254_740_993n);
    expect(parseMicros(42)).toBe(42n);
    expect(() => parseMicros("1.5")).toThrow(RangeError);
    expect(() => parseMicros("9223372036854775808")).toThrow(/too large/);
  });
});

describe("parseInteger", () => {
  it("parses int64 strings and numbers exactly", () => {
    expect(parseInteger("9007199254740991")).toBe(Number.MAX_SAFE_INTEGER);
    expect(parseInteger(42)).toBe(42);
    expect(parseInteger("-3")).toBe(-3);
  });

  it("rejects non-integers and unsafe values", () => {
    expect(() => parseInteger("1.5")).toThrow(RangeError);
    expect(() => parseInteger("9007199254740993")).toThrow(/too large/);
  });
});

describe("parseDecimal", () => {
  it("parses decimal strings and numbers, rounded to six decimals by the one rule", () => {
    expect(parseDecimal("2.5")).toBe(2.5);
    expect(parseDecimal(3)).toBe(3);
    // Before, a number was cut by toFixed(6) and a string kept whole: now both round alike.
    expect(parseDecimal("1.23456789")).toBe(1.234568);
    expect(parseDecimal(1.23456789)).toBe(1.234568);
  });

  it("rejects what is not a decimal", () => {
    expect(() => parseDecimal("-")).toThrow(RangeError);
  });
});
