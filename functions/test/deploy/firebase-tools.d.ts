/**
 * Types for the parts of firebase-tools' internals (its compiled `lib/`, which ships no
 * declarations) that the deploy tests call: only the members they use, as firebase-tools 15
 * defines them. These are not a public API; a firebase-tools upgrade may move them, and the
 * deploy tests then fail to load rather than pass vacuously.
 */
declare module "firebase-tools/lib/deploy/functions/build" {
  import type { Backend } from "firebase-tools/lib/deploy/functions/backend";

  export interface Param {
    name: string;
    type: "string" | "int" | "boolean" | "list" | "secret";
    default?: unknown;
    description?: string;
  }
  export interface SecretEnvVar {
    key: string;
    secret?: string;
    projectId?: string;
  }
  export interface BuildEndpoint {
    platform: string;
    region?: string[];
    project: string;
    runtime?: string;
    entryPoint: string;
    availableMemoryMb?: number | null;
    timeoutSeconds?: number | null;
    secretEnvironmentVariables?: SecretEnvVar[] | null;
    httpsTrigger?: Record<string, unknown>;
    taskQueueTrigger?: Record<string, unknown>;
    scheduleTrigger?: Record<string, unknown>;
    eventTrigger?: {
      eventType: string;
      eventFilters?: Record<string, string>;
      eventFilterPathPatterns?: Record<string, string>;
      retry: unknown;
    };
  }
  export interface Build {
    params: Param[];
    endpoints: Record<string, BuildEndpoint>;
    requiredAPIs: unknown[];
    runtime?: string;
  }
  export interface ParamValue {
    toString(): string;
  }
  export interface ResolveBackendOptions {
    build: Build;
    firebaseConfig: { projectId: string };
    userEnvs: Record<string, string>;
    codebase: string;
    nonInteractive: boolean;
    isEmulator: boolean;
  }
  export function resolveBackend(opts: ResolveBackendOptions): Promise<{
    backend: Backend;
    envs: Record<string, ParamValue>;
    secretRefs: Record<string, string>;
  }>;
}

declare module "firebase-tools/lib/deploy/functions/backend" {
  export interface Endpoint {
    id: string;
    region: string;
    platform: string;
    runtime: string;
    secretEnvironmentVariables?: { key: string; secret: string; projectId: string }[] | null;
  }
  export interface Backend {
    endpoints: Record<string, Record<string, Endpoint>>;
  }
  export function allEndpoints(backend: Backend): Endpoint[];
  export function empty(): Backend;
}

declare module "firebase-tools/lib/deploy/functions/runtimes/supported" {
  export const RUNTIMES: Record<
    string,
    { friendly: string; status: string; deprecationDate: string; decommissionDate: string }
  >;
  export function isRuntime(maybe: string): boolean;
  export function isDecommissioned(runtime: string, now?: Date): boolean;
  export function guardVersionSupport(runtime: string, now?: Date): void;
}

declare module "firebase-tools/lib/deploy/functions/runtimes/node/parseRuntimeAndValidateSDK" {
  export function getRuntimeChoice(sourceDir: string, runtimeFromConfig?: string): string;
}

declare module "firebase-tools/lib/deploy/functions/prepare" {
  import type { Backend } from "firebase-tools/lib/deploy/functions/backend";

  export function resolveCpuAndConcurrency(want: Backend): void;
}

declare module "firebase-tools/lib/deploy/functions/validate" {
  import type { Backend } from "firebase-tools/lib/deploy/functions/backend";

  export function endpointsAreValid(want: Backend, existing: Backend): void;
  export function endpointsAreUnique(backends: Record<string, Backend>): void;
}

declare module "firebase-tools/lib/deploy/functions/prepareFunctionsUpload" {
  export function prepareFunctionsUpload(
    projectDir: string,
    sourceDir: string,
    config: { ignore?: string[] },
    additionalSources: string[],
    runtimeConfig?: unknown,
    options?: { exportType?: "zip" | "tar.gz" },
  ): Promise<{ pathToSource: string; hash: string } | undefined>;
}

declare module "firebase-tools/lib/functions/projectConfig" {
  export interface CodebaseConfig {
    source: string;
    codebase: string;
    runtime?: string;
    ignore?: string[];
    predeploy?: string[];
  }
  export function normalizeAndValidate(config: unknown): CodebaseConfig[];
  export function configForCodebase(config: CodebaseConfig[], codebase: string): CodebaseConfig;
}

declare module "firebase-tools/lib/functions/env" {
  export function parseStrict(data: string): Record<string, string>;
  export function loadUserEnvs(opts: {
    functionsSource: string;
    projectId: string;
    projectDir: string;
  }): Record<string, string>;
  export function loadFirebaseEnvs(
    firebaseConfig: { projectId: string },
    projectId: string,
  ): Record<string, string>;
}

declare module "firebase-tools/lib/gcp/secretManager" {
  export interface SecretMetadata {
    secret?: { projectId: string; name: string };
    secretVersion?: { versionId: string; state: string };
  }
  export function getSecretMetadata(
    projectId: string,
    secretName: string,
    version: string,
  ): Promise<SecretMetadata>;
  export function createSecret(projectId: string, name: string, labels: unknown): Promise<unknown>;
  export function addVersion(projectId: string, name: string, value: string): Promise<unknown>;
}

declare module "firebase-tools/lib/prompt" {
  type Prompt = (options: { message: string; default?: unknown }) => Promise<unknown>;
  export const input: Prompt;
  export const password: Prompt;
  export const confirm: Prompt;
  export const select: Prompt;
  export const checkbox: Prompt;
  export const number: Prompt;
}

declare module "firebase-tools/lib/utils" {
  export function logLabeledWarning(label: string, message: string): void;
}

declare module "firebase-tools/lib/emulator/tasksEmulator" {
  export class TasksEmulator {
    constructor(args: { host: string; port: number; projectId: string });
    start(): Promise<void>;
    stop(): Promise<void>;
  }
}
