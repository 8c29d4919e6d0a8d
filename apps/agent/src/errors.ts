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
    /** The API's `grpc-retry-pushback-ms` (rate limited): wait at least this long before the next try. */
    readonly pushbackMs?: number,
  ) {
    super(`${method} failed with ${Status[code] ?? code}${details ? `: ${details}` : ''}`);
  }
}

/**
 * A call the agent cancelled itself because it failed over to another endpoint (a Lease long poll parked
 * on the failing one): not a failure of the API; the loop calls again at once, on the new endpoint.
 */
export class EndpointSwitchedError extends Error {
  override readonly name = 'EndpointSwitchedError';
  constructor(readonly method: AgentMethod) {
    super(`${method} abandoned: the agent failed over to another API endpoint`);
  }
}

export function isEndpointSwitched(err: unknown): err is EndpointSwitchedError {
  return err instanceof Error && err.name === 'EndpointSwitchedError';
}

/** Longest push-back honoured: a broken or hostile answer must not park the agent for days. */
export const MAX_PUSHBACK_MS = 3_600_000;

/** The wait before retrying after `err`: our own backoff, or the API's push-back when it asks for longer. */
export function retryDelayMs(err: unknown, backoffMs: number): number {
  const pushback = isApiCallError(err) ? (err.pushbackMs ?? 0) : 0;
  return Math.max(backoffMs, Math.min(pushback, MAX_PUSHBACK_MS));
}

/** gRFC A6: a non-negative integer in the trailers; anything else (or a negative value) means none. */
export function pushbackFrom(values: ReadonlyArray<string | Buffer>): number | undefined {
  const v = values[0];
  if (typeof v !== 'string' || !/^\d{1,10}$/.test(v)) return undefined;
  return Number(v);
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
  | 'root_jobs_refused'
  | 'job_user_unusable'
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
