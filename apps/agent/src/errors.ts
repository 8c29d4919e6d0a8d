import { status as Status } from '@grpc/grpc-js';
import type { AgentMethod, StatusAction } from './api-client/status-policy';

/**
 * A failed API call, classified by the status table. Errors are recognised by `name` as well as
 * `instanceof` (STYLE: errors cross module copies and process boundaries).
 */
export class ApiCallError extends Error {
  override readonly name = 'ApiCallError';
  constructor(
    readonly method: AgentMethod,
    readonly code: Status,
    readonly details: string,
    readonly action: StatusAction,
  ) {
    super(`${method} failed with ${Status[code] ?? code}${details ? `: ${details}` : ''}`);
  }
}

export function isApiCallError(err: unknown): err is ApiCallError {
  return err instanceof ApiCallError || (err instanceof Error && err.name === 'ApiCallError');
}

export type StopReason =
  | 'auth_refused'
  | 'permission_denied'
  | 'unimplemented'
  | 'no_enroll_token'
  | 'state_unreadable'
  | 'data_dir_in_use'
  | 'metrics_unavailable'
  /** The API's certificate cannot be verified (or does not match the pin): exit 76. */
  | 'tls_untrusted';

/** Conditions that end the agent: an operator must act, retrying would only hammer the API. */
export class AgentStopError extends Error {
  override readonly name = 'AgentStopError';
  constructor(
    readonly reason: StopReason,
    message: string,
  ) {
    super(message);
  }

  /** EX_NOPERM (77) for refused credentials, like the CLI; 76 (EX_PROTOCOL) for an API it cannot trust; EX_CONFIG (78) for the rest. */
  get exitCode(): number {
    if (this.reason === 'tls_untrusted') return 76;
    return this.reason === 'auth_refused' || this.reason === 'permission_denied' ? 77 : 78;
  }
}

export function isAgentStopError(err: unknown): err is AgentStopError {
  return err instanceof AgentStopError || (err instanceof Error && err.name === 'AgentStopError');
}

/** Turns an ApiCallError whose action is 'stop' into the agent's stop error. */
export function stopErrorFor(err: ApiCallError): AgentStopError {
  const detail = err.details ? `: ${err.details}` : '';
  if (err.code === Status.UNAUTHENTICATED) {
    return new AgentStopError(
      'auth_refused',
      `the API refused the agent's credential on ${err.method} (UNAUTHENTICATED${detail}); set a valid JR_ENROLL_TOKEN to enroll again`,
    );
  }
  if (err.code === Status.UNAVAILABLE) {
    return new AgentStopError(
      'tls_untrusted',
      `the API's TLS certificate failed verification on ${err.method}${detail}; set JR_CA_FILE to its CA or JR_API_CA_SHA256 to its fingerprint`,
    );
  }
  if (err.code === Status.PERMISSION_DENIED) {
    return new AgentStopError('permission_denied', `the API denied ${err.method} (PERMISSION_DENIED${detail})`);
  }
  return new AgentStopError(
    'unimplemented',
    `the API does not implement ${err.method} (${Status[err.code] ?? err.code}${detail}); agent and API versions differ`,
  );
}
