/**
 * Domain errors carry a stable string `code` and a `retryable` flag; the edges map them to HTTP
 * problem documents and gRPC status codes. Classify by `code` (errors cross process boundaries),
 * not only by `instanceof`.
 */
export const ERROR_CODES = {
  INVALID_INPUT: { http: 400, retryable: false, title: 'Invalid input' },
  UNAUTHENTICATED: { http: 401, retryable: false, title: 'Unauthenticated' },
  FORBIDDEN: { http: 403, retryable: false, title: 'Forbidden' },
  NOT_FOUND: { http: 404, retryable: false, title: 'Not found' },
  CONFLICT: { http: 409, retryable: false, title: 'Conflict' },
  ALREADY_TERMINAL: { http: 409, retryable: false, title: 'Job already terminal' },
  SUPERSEDED: { http: 409, retryable: false, title: 'Lease superseded' },
  PAYLOAD_TOO_LARGE: { http: 413, retryable: false, title: 'Payload too large' },
  RATE_LIMITED: { http: 429, retryable: true, title: 'Rate limited' },
  /** A cap an operator set (pools, agents per enroll token) is reached: retrying changes nothing until they act. */
  QUOTA_EXCEEDED: { http: 409, retryable: false, title: 'Quota exceeded' },
  NOT_ACCEPTING: { http: 503, retryable: true, title: 'Not accepting requests' },
  DEPENDENCY_DOWN: { http: 503, retryable: true, title: 'Dependency unavailable' },
  INTERNAL: { http: 500, retryable: true, title: 'Internal error' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class DomainError extends Error {
  readonly retryable: boolean;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'DomainError';
    this.retryable = ERROR_CODES[code].retryable;
  }
}

export function isDomainError(err: unknown): err is DomainError {
  return (
    err instanceof DomainError ||
    (typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'DomainError')
  );
}

/** RFC 9457 problem document. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code?: ErrorCode;
  errors?: Array<{ path: string; message: string }>;
  /** On a 403: the scope the token lacks. */
  missingScope?: string;
}

export const PROBLEM_TYPE_BASE = 'https://jobrunner.dev/problems/';

export function problemFor(code: ErrorCode, detail: string, extra: Partial<Problem> = {}): Problem {
  const spec = ERROR_CODES[code];
  return {
    type: `${PROBLEM_TYPE_BASE}${code.toLowerCase().replace(/_/g, '-')}`,
    title: spec.title,
    status: spec.http,
    detail,
    code,
    ...extra,
  };
}
