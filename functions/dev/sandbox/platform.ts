/**
 * What a platform module plugs into the sandbox server: its routes, rendered in the platform's
 * real request checks and response formats, and its real signal for each injected fault.
 */
import type { IncomingHttpHeaders } from "node:http";

import type { ProviderId } from "../../src/providers/types";
import type { RequestSubject, SandboxWorld, ThrottleScope } from "./world";

export interface SandboxRequest {
  method: string;
  /** Path below the platform prefix, e.g. `/v25/customers/123/googleAds:searchStream`. */
  path: string;
  /** The raw query string without `?` (LinkedIn's Rest.li encoding must be checked raw). */
  rawQuery: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  rawBody: string;
  /** Parsed JSON or form body (`undefined` when absent or unparseable). */
  body: unknown;
}

export interface SandboxReply {
  status: number;
  headers?: Record<string, string>;
  /** Serialised as JSON unless it is a string (sent as is, e.g. for malformed bodies). */
  body: unknown;
}

export interface PlatformSandbox {
  readonly provider: ProviderId;
  /** Whether a request is a reporting call (faults apply to those, not to token endpoints). */
  isReportingRequest(req: SandboxRequest): boolean;
  handle(req: SandboxRequest, world: SandboxWorld): SandboxReply;
  /** Whom a request is for: the ad account and the access token it names, where it names them. */
  subjectOf(req: SandboxRequest): RequestSubject;
  /** The platform's real rate-limit answer. */
  rateLimited(retryAfterSeconds: number): SandboxReply;
  /**
   * The platform's real answer once a limit of `scope` is reached for `subject`; `undefined`
   * when the platform counts no limit in that scope (`FaultKnobs.throttles`).
   */
  throttled(
    scope: ThrottleScope,
    retryAfterSeconds: number,
    subject: RequestSubject,
  ): SandboxReply | undefined;
  /** The platform's real server-error answer. */
  serverError(): SandboxReply;
}
