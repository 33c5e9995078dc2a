/**
 * A minimal unix-cron matcher for the local stack, which runs the scheduled functions on the
 * expressions they declare (Cloud Scheduler does this in production). Supports the five fields
 * with `*`, numbers, ranges `a-b`, lists `a,b` and steps `*\/n` / `a-b/n`, evaluated in UTC.
 */
const FIELDS = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day of month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12 },
  { name: "day of week", min: 0, max: 6 },
] as const;

function parseField(text: string, min: number, max: number, name: string): Set<number> {
  const values = new Set<number>();
  for (const part of text.split(",")) {
    const [range = "", stepText] = part.split("/");
    const step = stepText === undefined ? 1 : Number(stepText);
    const [from, to] =
      range === "*"
        ? [min, max]
        : range.includes("-")
          ? range.split("-").map(Number)
          : [Number(range), stepText ? max : Number(range)];
    if (
      ![from, to, step].every((n) => Number.isInteger(n)) ||
      from! < min ||
      to! > max ||
      step < 1
    ) {
      throw new Error(`invalid cron ${name} field "${text}"`);
    }
    for (let value = from!; value <= to!; value += step) {
      values.add(value);
    }
  }
  return values;
}

export type CronMatcher = (date: Date) => boolean;

export function parseCron(expression: string): CronMatcher {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== FIELDS.length) {
    throw new Error(`cron expression "${expression}" must have 5 fields`);
  }
  const sets = FIELDS.map((field, index) =>
    parseField(parts[index]!, field.min, field.max, field.name),
  );
  return (date) => {
    const values = [
      date.getUTCMinutes(),
      date.getUTCHours(),
      date.getUTCDate(),
      date.getUTCMonth() + 1,
      date.getUTCDay(),
    ];
    return values.every((value, index) => sets[index]!.has(value));
  };
}
