import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { isDomainError, type ErrorCode } from '@jr/contracts';

/** The one mapping from domain error codes to gRPC status codes (the agent's retry table keys on these). */
export const GRPC_STATUS: Record<ErrorCode, status> = {
  INVALID_INPUT: status.INVALID_ARGUMENT,
  UNAUTHENTICATED: status.UNAUTHENTICATED,
  FORBIDDEN: status.PERMISSION_DENIED,
  NOT_FOUND: status.NOT_FOUND,
  CONFLICT: status.ALREADY_EXISTS,
  ALREADY_TERMINAL: status.FAILED_PRECONDITION,
  SUPERSEDED: status.FAILED_PRECONDITION,
  PAYLOAD_TOO_LARGE: status.RESOURCE_EXHAUSTED,
  RATE_LIMITED: status.RESOURCE_EXHAUSTED,
  NOT_ACCEPTING: status.UNAVAILABLE,
  DEPENDENCY_DOWN: status.UNAVAILABLE,
  INTERNAL: status.INTERNAL,
};

/** Errors from a dependency being unreachable: the agent should retry, so UNAVAILABLE. */
const CONNECTION_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', '57P01', '57P03', '53300', '08006', '08001']);

export function toGrpcError(err: unknown): Partial<ServiceError> {
  if (isDomainError(err)) return { code: GRPC_STATUS[err.code], details: err.message, metadata: codeMetadata(err.code) };
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  const message = err instanceof Error ? err.message : '';
  if ((typeof code === 'string' && CONNECTION_ERRORS.has(code)) || /Connection terminated|timeout exceeded when trying to connect|Connection is closed/i.test(message)) {
    return { code: status.UNAVAILABLE, details: 'a dependency of the API is unavailable; retry', metadata: codeMetadata('DEPENDENCY_DOWN') };
  }
  return { code: status.INTERNAL, details: 'internal error', metadata: codeMetadata('INTERNAL') };
}

function codeMetadata(code: ErrorCode): Metadata {
  const md = new Metadata();
  md.set('jr-error-code', code);
  return md;
}
