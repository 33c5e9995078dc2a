import { readFileSync } from "node:fs";
import { join } from "node:path";

import { z } from "zod";

let cached: string | undefined;

/**
 * The functions package version. Read lazily (no I/O at import time) from the package.json that
 * is deployed with the code: `src/shared` and `lib/shared` are both two levels below it.
 */
export function packageVersion(): string {
  cached ??= z
    .object({ version: z.string() })
    .parse(JSON.parse(readFileSync(join(__dirname, "..", "..", "package.json"), "utf8"))).version;
  return cached;
}
