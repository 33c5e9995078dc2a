/**
 * Exact conversion of platform number encodings into integers, without floating-point drift:
 * "12.345678" → 12345678 micros is done on the digits, never as 12.345678 * 1e6.
 */
const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?$/;

function safeInteger(value: bigint, what: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new RangeError(`${what} is too large to store exactly`);
  }
  return Number(value);
}

/**
 * Decimal currency amount (string or number) → integer micros. Digits beyond the sixth decimal
 * are rounded half away from zero (no platform sends more than six).
 */
export function decimalToMicros(input: string | number): number {
  const text = typeof input === "number" ? numberToPlainString(input) : input.trim();
  const match = DECIMAL.exec(text);
  if (!match) {
    throw new RangeError(`"${text}" is not a decimal amount`);
  }
  const [, sign = "", whole = "0", fraction = ""] = match;
  const padded = (fraction + "000000").slice(0, 6);
  let micros = BigInt(whole) * 1_000_000n + BigInt(padded);
  if (fraction.length > 6 && Number(fraction[6]) >= 5) {
    micros += 1n;
  }
  return safeInteger(sign === "-" ? -micros : micros, `amount "${text}"`);
}

/** Integer given as a string (int64 JSON encoding) or number → number, exactly. */
export function parseInteger(input: string | number): number {
  const text = typeof input === "number" ? numberToPlainString(input) : input.trim();
  if (!/^-?\d+$/.test(text)) {
    throw new RangeError(`"${text}" is not an integer`);
  }
  return safeInteger(BigInt(text), `integer "${text}"`);
}

/** Decimal string or number → number (for non-money quantities such as conversions). */
export function parseDecimal(input: string | number): number {
  const text = typeof input === "number" ? numberToPlainString(input) : input.trim();
  if (!DECIMAL.test(text)) {
    throw new RangeError(`"${text}" is not a decimal number`);
  }
  return Number(text);
}

/** JSON numbers arrive as doubles; print them without exponent so the digit parsers apply. */
function numberToPlainString(value: number): string {
  if (!Number.isFinite(value)) {
    throw new RangeError(`${value} is not a finite number`);
  }
  return Number.isInteger(value) ? BigInt(value).toString() : value.toFixed(6);
}
