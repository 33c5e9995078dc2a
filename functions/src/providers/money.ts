/**
 * Exact conversion of platform number encodings, without floating-point drift: "12.345678" →
 * 12345678n micros is done on the digits, never as 12.345678 * 1e6.
 *
 * One rounding rule for every quantity and encoding: a decimal string is taken as written, and a
 * JSON number as its shortest round-trip decimal (`String(value)`: 0.1 is "0.1", not the binary
 * 0.1000000000000000055…); digits beyond the sixth decimal are then rounded half away from zero.
 * So `"2.0000005"` and `2.0000005` give the same result, as do `19.99` and `"19.99"`.
 *
 * Money is integer micros as a `bigint`, exact at any size: a campaign-day past 2^53 micros (about
 * 9.0e9 currency units, reached in IDR or VND) is kept exact up to Firestore's int64 range
 * (9.2e12 units, more than any platform's own int64 micros field can hold), and refused beyond.
 */
const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?$/;
const INT64_MAX = 2n ** 63n - 1n;

/** A decimal string or JSON number as plain decimal digits (no exponent), or a RangeError. */
function decimalText(input: string | number): string {
  if (typeof input === "string") {
    return input.trim();
  }
  if (!Number.isFinite(input)) {
    throw new RangeError(`${input} is not a finite number`);
  }
  const shortest = String(input);
  const exponent = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(shortest);
  if (!exponent) {
    return shortest;
  }
  // 1e+21, 1.5e-7: move the point by the exponent, on the digits.
  const [, sign = "", lead = "", rest = "", power = "0"] = exponent;
  const digits = lead + rest;
  const point = 1 + Number(power);
  const text =
    point <= 0
      ? `0.${"0".repeat(-point)}${digits}`
      : point >= digits.length
        ? digits + "0".repeat(point - digits.length)
        : `${digits.slice(0, point)}.${digits.slice(point)}`;
  return sign + text;
}

/** Decimal amount (string or number) → integer millionths, rounded by the module's one rule. */
function toMillionths(input: string | number, what: string): bigint {
  const text = decimalText(input);
  const match = DECIMAL.exec(text);
  if (!match) {
    throw new RangeError(`"${text}" is not a decimal ${what}`);
  }
  const [, sign = "", whole = "0", fraction = ""] = match;
  let value = BigInt(whole) * 1_000_000n + BigInt((fraction + "000000").slice(0, 6));
  if (fraction.length > 6 && Number(fraction[6]) >= 5) {
    value += 1n;
  }
  if (value > INT64_MAX) {
    throw new RangeError(`${what} "${text}" is too large to store exactly`);
  }
  return sign === "-" ? -value : value;
}

/** Decimal currency amount (string or number) → integer micros of that currency. */
export function decimalToMicros(input: string | number): bigint {
  return toMillionths(input, "amount");
}

/** Integer micros given as an int64 string or a JSON number (Google's `cost_micros`). */
export function parseMicros(input: string | number): bigint {
  const text = decimalText(input);
  if (!/^-?\d+$/.test(text)) {
    throw new RangeError(`"${text}" is not an integer amount of micros`);
  }
  const value = BigInt(text);
  if (value > INT64_MAX || value < -INT64_MAX) {
    throw new RangeError(`micros "${text}" are too large to store exactly`);
  }
  return value;
}

/** A count given as an int64 string or a number → number, exactly (counts stay below 2^53). */
export function parseInteger(input: string | number): number {
  const text = decimalText(input);
  if (!/^-?\d+$/.test(text)) {
    throw new RangeError(`"${text}" is not an integer`);
  }
  const value = BigInt(text);
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new RangeError(`integer "${text}" is too large to store exactly`);
  }
  return Number(value);
}

/** A fractional quantity (conversions), rounded to six decimals by the module's one rule. */
export function parseDecimal(input: string | number): number {
  return Number(toMillionths(input, "number")) / 1_000_000;
}
