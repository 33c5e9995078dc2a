/**
 * firebase-tools' output, made readable for `npm start`: the functions' own log lines (one JSON
 * object each, shown as `>  {...}` by the emulator) keep their fields, the emulators' status
 * lines keep their label, request lines are shortened, and start-up chatter the "Local stack
 * ready" line repeats (tables, per-function banners, readiness probes, parameter prompts) is
 * dropped. Errors and anything unrecognised pass through unchanged. `LOCAL_LOGS=raw` shows
 * everything as firebase-tools prints it.
 */
import { stripVTControlCharacters } from "node:util";

export interface LogSink {
  /** A structured line: `pretty-logs` prints `time LEVEL message key=value …`. */
  entry(severity: string, message: string, fields?: Record<string, unknown>): void;
  /** A line to show as it is. */
  raw(line: string): void;
}

const SEVERITY_OF_GLYPH: Record<string, string> = {
  i: "INFO",
  "✔": "INFO",
  "⚠": "WARNING",
  "✖": "ERROR",
  "!": "ERROR",
};

/** Status lines that the ready line covers, or that say nothing a developer acts on. */
const NOISE = [
  /^Beginning execution of /,
  /^Loaded environment variables from /,
  /^Detected demo project ID/,
  /^The Emulator UI is not starting/,
  /logging to \S+-debug\.log/,
  /function initialized/,
  /^Created new local file /,
  /^Writing new parameter values to disk/,
  /^Watching ".*" for Cloud Functions/,
  /^Using node@/,
  /^Serving hosting files from/,
  /^Local server: /,
  /websocket is running on/,
  /^Stopping .*[Ee]mulator/,
  /^Stopping emulator hub/,
  /Emulator was started/,
  /^Found running emulator hub/,
  /^Automatically exporting data using/,
  // Said again by the CLI's own bullet lines ("Exporting data to: …", "Export complete").
  /^Received export request/,
  /^Export complete\.$/,
];

/** Lines outside the labelled format that are start-up decoration. */
const DECORATION = [
  /^[┌│├└─┬┼┴┐┤┘\s]*$/,
  /^[┌│├└]/,
  /^\s*Emulator Hub host:/,
  /^\s*Other reserved ports:/,
  /^Issues\? Report them/,
  /^Serving at port \d+$/,
  /^\[hosting\] Rewriting /,
];

const LABELLED = /^(\S)\s+([\w.-]+(?:\[[^\]]*\])?):\s(.*)$/;
const BULLET = /^([i✔⚠✖!])\s{2}(.*)$/;
const ACCESS = /^\S+ - - \[[^\]]+\] "(\w+) (\S+) [^"]*" (\d{3}) \S+ "[^"]*" "([^"]*)"$/;
const FINISHED = /^Finished "(?:[\w-]+?-)?([\w]+)" in ([\d.]+)ms$/;

function functionLine(text: string, sink: LogSink): void {
  try {
    const entry = JSON.parse(text) as unknown;
    if (typeof entry === "object" && entry !== null && "severity" in entry) {
      const { severity, message, ...fields } = entry as Record<string, unknown>;
      sink.entry(String(severity), typeof message === "string" ? message : "", fields);
      return;
    }
  } catch {
    // Not JSON: shown as it is.
  }
  sink.raw(text);
}

function labelledLine(glyph: string, label: string, text: string, sink: LogSink): void {
  if (NOISE.some((pattern) => pattern.test(text))) {
    return;
  }
  const severity = SEVERITY_OF_GLYPH[glyph] ?? "INFO";
  const access = label === "hosting" ? ACCESS.exec(text) : null;
  if (access) {
    const [, method, path, status, agent] = access;
    // The suite's readiness probe (`GET /` from Node) is not a request anyone made.
    if (!(path === "/" && agent === "node")) {
      sink.entry(Number(status) >= 500 ? "WARNING" : "INFO", `${method} ${path} → ${status}`);
    }
    return;
  }
  const finished = FINISHED.exec(text);
  if (finished) {
    sink.entry("DEBUG", `${finished[1]} finished in ${Math.round(Number(finished[2]))} ms`);
    return;
  }
  sink.entry(severity, `[${label}] ${text}`);
}

/** A writer for firebase-tools' output chunks (which may split lines anywhere). */
export function emulatorLogFilter(sink: LogSink, options: { raw?: boolean } = {}) {
  let pending = "";
  let prompting = false;
  const line = (rawLine: string) => {
    const text = stripVTControlCharacters(rawLine).replace(/\s+$/, "");
    if (options.raw) {
      sink.raw(text);
      return;
    }
    const fromFunction = /^>\s{1,2}(.*)$/.exec(text);
    if (fromFunction) {
      functionLine(fromFunction[1]!, sink);
      return;
    }
    const labelled = LABELLED.exec(text);
    if (labelled) {
      prompting = false;
      labelledLine(labelled[1]!, labelled[2]!, labelled[3]!, sink);
      return;
    }
    const bullet = BULLET.exec(text);
    if (bullet) {
      if (!NOISE.some((pattern) => pattern.test(bullet[2]!))) {
        sink.entry(SEVERITY_OF_GLYPH[bullet[1]!] ?? "INFO", bullet[2]!);
      }
      return;
    }
    // Parameters without a value in .env get their defaults; the CLI lists them as a prompt.
    if (text.startsWith("Prompting for parameters")) {
      prompting = true;
      return;
    }
    if (prompting && (text === "" || /^[A-Z][A-Z0-9_]*: /.test(text))) {
      return;
    }
    if (text === "" || DECORATION.some((pattern) => pattern.test(text))) {
      return;
    }
    sink.raw(text);
  };
  return {
    write(chunk: string): void {
      const lines = (pending + chunk).split(/\r?\n/);
      pending = lines.pop() ?? "";
      lines.forEach(line);
    },
    flush(): void {
      if (pending) {
        line(pending);
        pending = "";
      }
    },
  };
}
