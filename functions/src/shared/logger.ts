/**
 * Structured logging: one JSON line per entry (Cloud Logging's structured format), with a scope
 * (`jobId`, `provider`, `endpoint`, ...) merged into every line. Callers pass identifiers and
 * counts, never credentials: tokens and secrets must not reach this module.
 */
import * as functionsLogger from "firebase-functions/logger";

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(scope: LogFields): Logger;
}

export function createLogger(scope: LogFields = {}): Logger {
  const entry = (fields?: LogFields): LogFields => ({ ...scope, ...fields });
  return {
    debug: (message, fields) => functionsLogger.debug(message, entry(fields)),
    info: (message, fields) => functionsLogger.info(message, entry(fields)),
    warn: (message, fields) => functionsLogger.warn(message, entry(fields)),
    error: (message, fields) => functionsLogger.error(message, entry(fields)),
    child: (childScope) => createLogger({ ...scope, ...childScope }),
  };
}
