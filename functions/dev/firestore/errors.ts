import { status } from "@grpc/grpc-js";

/**
 * An error that reaches the client as the given gRPC status. grpc-js reads `code` and `message`
 * from whatever a handler passes to its callback or emits as 'error'.
 */
export class RpcError extends Error {
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
  }
}

export const invalidArgument = (message: string) => new RpcError(status.INVALID_ARGUMENT, message);
export const aborted = (message: string) => new RpcError(status.ABORTED, message);

/** What grpc-js sends as the status of a failed call: RpcErrors as they are, anything else INTERNAL. */
export function toStatus(error: unknown): RpcError {
  if (error instanceof RpcError) {
    return error;
  }
  console.error("Firestore test server: unexpected error", error);
  return new RpcError(status.INTERNAL, error instanceof Error ? error.message : String(error));
}
