import { decimalToMicros, parseDecimal, parseInteger } from "../../../src/providers/money";

describe("decimalToMicros", () => {
  it.each([
    ["12.34", 12_340_000],
    ["0.1", 100_000],
    ["0.000001", 1],
    ["-5.5", -5_500_000],
    ["1234567890.123456", 1_234_567_890_123_456],
    ["7", 7_000_000],
    [" 3.20 ", 3_200_000],
    [0.1, 100_000],
    [19.99, 19_990_000],
  ])("converts %p exactly to %p micros", (input, micros) => {
    expect(decimalToMicros(input)).toBe(micros);
  });

  it("has no float drift where naive multiplication has", () => {
    // 1.005 * 1e6 = 1004999.9999999999 in binary floating point.
    expect(Math.floor(1.005 * 1e6)).not.toBe(1_005_000);
    expect(decimalToMicros("1.005")).toBe(1_005_000);
  });

  it("rounds digits beyond micros half away from zero", () => {
    expect(decimalToMicros("0.0000015")).toBe(2);
    expect(decimalToMicros("0.0000014")).toBe(1);
    expect(decimalToMicros("-0.0000015")).toBe(-2);
  });

  it.each(["", "-", "1e5", "12,34", "abc", "1.2.3"])("rejects %p", (input) => {
    expect(() => decimalToMicros(input)).toThrow(RangeError);
  });

  it("rejects amounts beyond exact integer range", () => {
    expect(() => decimalToMicros("9999999999999.99")).toThrow(/too large/);
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
  it("parses decimal strings and numbers", () => {
    expect(parseDecimal("2.5")).toBe(2.5);
    expect(parseDecimal(3)).toBe(3);
  });

  it("rejects what is not a decimal", () => {
    expect(() => parseDecimal("-")).toThrow(RangeError);
  });
});
