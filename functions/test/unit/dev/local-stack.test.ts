import { emulatorLogFilter } from "../../../dev/emulator-logs";
import { type LocalEnv, localPorts, portInUse } from "../../../dev/local-config";
import { readSchedules, wallClock } from "../../../dev/schedules";

const envOf = (values: Record<string, string>): LocalEnv => ({
  get: (name) => values[name],
  files: [],
});

describe("localPorts", () => {
  it("defaults to the documented ports", () => {
    const ports = localPorts(envOf({}));
    expect(ports).toMatchObject({ hosting: 3000, firestore: 8080, auth: 9099, sandbox: 4010 });
  });

  it("reads HOSTING_PORT before PORT, and FIRESTORE_EMULATOR_HOST as the Firestore address", () => {
    const ports = localPorts(
      envOf({ PORT: "3001", HOSTING_PORT: "3002", FIRESTORE_EMULATOR_HOST: "localhost:8181" }),
    );
    expect(ports.hosting).toBe(3002);
    expect(ports.firestore).toBe(8181);
  });

  it.each([
    [{ PORT: "abc" }, /PORT must be a port number/],
    [{ FIRESTORE_EMULATOR_HOST: "10.0.0.1:8080" }, /loopback/],
    [{ FIRESTORE_EMULATOR_HOST: "127.0.0.1:8181", FIRESTORE_PORT: "8080" }, /disagree/],
    [{ PORT: "5001" }, /Port 5001 is set for both the HTTP .* and the Functions emulator/],
  ])("refuses %p", (values, message) => {
    expect(() => localPorts(envOf(values))).toThrow(message);
  });

  it("says which variables move a busy port", () => {
    expect(portInUse("hosting", 3000).message).toBe(
      "Port 3000 (HTTP) is already in use — is another `npm start` running? Stop it, or set HOSTING_PORT=… or PORT=….",
    );
  });
});

describe("readSchedules", () => {
  const scheduled = (schedule: string, timeZone?: string) =>
    Object.assign(() => undefined, {
      __endpoint: { region: ["europe-west1"], scheduleTrigger: { schedule, timeZone } },
    });

  it("reads each scheduled export's cron, time zone and region, and nothing else", () => {
    const found = readSchedules({
      nightly: scheduled("0 2 * * *", "Europe/Berlin"),
      sweep: scheduled("*/5 * * * *"),
      http: Object.assign(() => undefined, { __endpoint: { httpsTrigger: {} } }),
      REGION: "us-central1",
    });
    expect(found.map(({ id, region, timeZone }) => ({ id, region, timeZone }))).toEqual([
      { id: "nightly", region: "europe-west1", timeZone: "Europe/Berlin" },
      { id: "sweep", region: "europe-west1", timeZone: "UTC" },
    ]);
    // 02:00 in Berlin is 01:00 UTC in winter.
    expect(found[0]!.matches(new Date("2026-12-01T01:00:00Z"))).toBe(true);
    expect(found[0]!.matches(new Date("2026-12-01T02:00:00Z"))).toBe(false);
  });

  it("evaluates wall-clock time in a zone", () => {
    expect(wallClock(new Date("2026-07-01T23:30:00Z"), "Asia/Tokyo").toISOString()).toBe(
      "2026-07-02T08:30:00.000Z",
    );
  });
});

describe("emulatorLogFilter", () => {
  const run = (chunks: string[]) => {
    const lines: string[] = [];
    const filter = emulatorLogFilter({
      entry: (severity, message, fields) =>
        lines.push(`${severity} ${message}${fields ? ` ${JSON.stringify(fields)}` : ""}`),
      raw: (line) => lines.push(`raw ${line}`),
    });
    chunks.forEach((chunk) => filter.write(chunk));
    filter.flush();
    return lines;
  };

  it("keeps the functions' structured lines, across chunk boundaries", () => {
    expect(run(['>  {"severity":"INFO","message":"job st', 'arted","jobId":"j1"}\n'])).toEqual([
      'INFO job started {"jobId":"j1"}',
    ]);
  });

  it("shortens requests and drops probes, banners and parameter prompts", () => {
    const lines = run([
      'i  hosting: 127.0.0.1 - - [01/Dec/2026:09:42:29 +0000] "GET / HTTP/1.1" 200 213 "-" "node"\n',
      'i  hosting: 127.0.0.1 - - [01/Dec/2026:09:43:34 +0000] "GET /api/health HTTP/1.1" 200 352 "-" "curl/7.88.1"\n',
      'i  functions: Beginning execution of "us-central1-health"\n',
      'i  functions: Finished "us-central1-health" in 208.07045ms\n',
      "Prompting for parameters for codebase default:\n\nHEALTH_CHECK_TIMEOUT_MS: Timeout\n",
      "┌────────┐\n│ ✔  All emulators ready! │\n",
      "⚠  functions: Your function timed out\n",
      "Error: something else\n",
    ]);
    expect(lines).toEqual([
      "INFO GET /api/health → 200",
      "DEBUG health finished in 208 ms",
      "WARNING [functions] Your function timed out",
      "raw Error: something else",
    ]);
  });
});
