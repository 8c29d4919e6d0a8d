import { ERROR_CODES, isDomainError, problemFor, type ErrorCode, type Problem } from '@jr/contracts';
import { isDependencyDown } from '../database/db-errors';

export interface ProblemResponse {
  status: number;
  problem: Problem;
  headers: Record<string, string>;
}

const HTTP_STATUS_CODES: Record<number, ErrorCode> = {
  400: 'INVALID_INPUT',
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  429: 'RATE_LIMITED',
  503: 'NOT_ACCEPTING',
};

/** Something carrying an HTTP status, as Nest's HttpException and http-errors do. */
interface HasStatus {
  getStatus?: () => number;
  status?: unknown;
  statusCode?: unknown;
  message?: unknown;
}

function statusOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as HasStatus;
  const status = typeof e.getStatus === 'function' ? e.getStatus() : (e.status ?? e.statusCode);
  return typeof status === 'number' && status >= 400 && status < 600 ? status : undefined;
}

/** The one mapping from any error to the problem document a REST client sees. Never leaks stacks. */
export function toProblemResponse(err: unknown): ProblemResponse {
  if (isDomainError(err)) {
    const status = ERROR_CODES[err.code].http;
    const errors = err.details?.errors as Problem['errors'] | undefined;
    const missingScope = typeof err.details?.missingScope === 'string' ? err.details.missingScope : undefined;
    const problem = problemFor(err.code, err.message, {
      ...(errors ? { errors } : {}),
      ...(missingScope ? { missingScope } : {}),
    });
    return { status, problem, headers: retryHeaders(err.code, err.details) };
  }
  if (isDependencyDown(err)) {
    return {
      status: 503,
      problem: problemFor('DEPENDENCY_DOWN', 'a dependency of the API is unavailable; retry'),
      headers: retryHeaders('DEPENDENCY_DOWN', { retryAfterSeconds: 2 }),
    };
  }
  const status = statusOf(err);
  if (status === 405)
    return {
      status,
      problem: { ...problemFor('NOT_FOUND', 'method not allowed'), status, title: 'Method not allowed' },
      headers: {},
    };
  const code = status === undefined ? undefined : HTTP_STATUS_CODES[status];
  if (code) {
    const detail = code === 'NOT_FOUND' ? 'no such resource' : ERROR_CODES[code].title;
    return {
      status: ERROR_CODES[code].http,
      problem: problemFor(code, detail),
      headers: retryHeaders(code, undefined),
    };
  }
  return { status: 500, problem: problemFor('INTERNAL', 'internal error'), headers: {} };
}

function retryHeaders(code: ErrorCode, details: Record<string, unknown> | undefined): Record<string, string> {
  if (code !== 'NOT_ACCEPTING' && code !== 'RATE_LIMITED' && code !== 'DEPENDENCY_DOWN') return {};
  const seconds = typeof details?.retryAfterSeconds === 'number' ? details.retryAfterSeconds : 1;
  return { 'Retry-After': String(Math.max(1, Math.ceil(seconds))) };
}
