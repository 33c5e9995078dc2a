/**
 * Local-stack log formatting: the Functions logger writes one JSON object per line (Cloud
 * Logging's structured format); in a terminal we print `time LEVEL message key=value …` instead.
 * Must be installed before firebase-functions is loaded, which keeps its own console references.
 */
import { format } from "node:util";

const COLOURS: Record<string, string> = {
  DEBUG: "\x1b[90m",
  INFO: "\x1b[36m",
  NOTICE: "\x1b[36m",
  WARNING: "\x1b[33m",
  ERROR: "\x1b[31m",
};

export function formatLogLine(line: string, colour: boolean): string {
  let entry: unknown;
  try {
    entry = JSON.parse(line);
  } catch {
    return line;
  }
  if (typeof entry !== "object" || entry === null || !("severity" in entry)) {
    return line;
  }
  const { severity, message, ...fields } = entry as Record<string, unknown>;
  const level = String(severity);
  const extras = Object.entries(fields)
    .filter(([key]) => !key.startsWith("logging.googleapis.com"))
    .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`)
    .join(" ");
  const time = new Date().toISOString().slice(11, 23);
  const tag = colour ? `${COLOURS[level] ?? ""}${level.padEnd(7)}\x1b[0m` : level.padEnd(7);
  return `${time} ${tag} ${typeof message === "string" ? message : ""}${extras ? `  ${extras}` : ""}`;
}

export function installPrettyLogs(): void {
  const colour = Boolean(process.stdout.isTTY);
  for (const method of ["log", "info", "warn", "error", "debug"] as const) {
    const original = console[method].bind(console);
    console[method] = (...args: unknown[]) => {
      original(formatLogLine(format(...args), colour));
    };
  }
}
