import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { isDomainError, type ErrorCode } from '@jr/contracts';
import { isDependencyDown } from '../database/db-errors';

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
  QUOTA_EXCEEDED: status.RESOURCE_EXHAUSTED,
  NOT_ACCEPTING: status.UNAVAILABLE,
  DEPENDENCY_DOWN: status.UNAVAILABLE,
  INTERNAL: status.INTERNAL,
};

export function toGrpcError(err: unknown): Partial<ServiceError> {
  if (isDomainError(err)) {
    const metadata = codeMetadata(err.code);
    // gRFC A6 push-back: the client waits this long before trying again (the agent honours it)
    const pushbackMs = err.details?.retryAfterMs;
    if (err.code === 'RATE_LIMITED' && typeof pushbackMs === 'number')
      metadata.set('grpc-retry-pushback-ms', String(Math.max(0, Math.round(pushbackMs))));
    return { code: GRPC_STATUS[err.code], details: err.message, metadata };
  }
  // a dependency being unreachable: the agent should retry, so UNAVAILABLE
  if (isDependencyDown(err)) {
    return {
      code: status.UNAVAILABLE,
      details: 'a dependency of the API is unavailable; retry',
      metadata: codeMetadata('DEPENDENCY_DOWN'),
    };
  }
  return { code: status.INTERNAL, details: 'internal error', metadata: codeMetadata('INTERNAL') };
}

function codeMetadata(code: ErrorCode): Metadata {
  const md = new Metadata();
  md.set('jr-error-code', code);
  return md;
}
