import { DomainError } from '@jr/contracts';
import { toProblemResponse } from './problem';

describe('toProblemResponse', () => {
  it('maps domain errors by code, with their detail and issues', () => {
    const r = toProblemResponse(
      new DomainError('INVALID_INPUT', 'bad job', { errors: [{ path: 'steps', message: 'required' }] }),
    );
    expect(r.status).toBe(400);
    expect(r.problem).toMatchObject({
      status: 400,
      title: 'Invalid input',
      detail: 'bad job',
      code: 'INVALID_INPUT',
      errors: [{ path: 'steps', message: 'required' }],
    });
    expect(r.problem.type).toMatch(/^https:\/\/.+invalid-input$/);
  });

  it.each([
    ['ALREADY_TERMINAL', 409],
    ['NOT_FOUND', 404],
    ['UNAUTHENTICATED', 401],
    ['PAYLOAD_TOO_LARGE', 413],
  ] as const)('%s => %i', (code, status) => {
    expect(toProblemResponse(new DomainError(code, 'x')).status).toBe(status);
  });

  it('adds Retry-After to "not accepting" answers', () => {
    const r = toProblemResponse(new DomainError('NOT_ACCEPTING', 'journal full', { retryAfterSeconds: 5 }));
    expect(r.status).toBe(503);
    expect(r.headers['Retry-After']).toBe('5');
  });

  it('recognises domain errors that crossed a boundary by name and code', () => {
    const foreign = Object.assign(new Error('gone'), { name: 'DomainError', code: 'NOT_FOUND' });
    expect(toProblemResponse(foreign).status).toBe(404);
  });

  it('maps framework HTTP errors (unknown routes) to problems', () => {
    const notFound = { getStatus: () => 404, message: 'Cannot GET /nope' };
    expect(toProblemResponse(notFound)).toMatchObject({ status: 404, problem: { code: 'NOT_FOUND' } });
  });

  it('hides anything unexpected behind a generic 500', () => {
    const r = toProblemResponse(new TypeError('secret stack detail'));
    expect(r.status).toBe(500);
    expect(JSON.stringify(r.problem)).not.toContain('secret');
  });

  it('answers 503 + Retry-After when a dependency is unreachable (Postgres down), without its message', () => {
    for (const err of [
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
      Object.assign(new Error('terminating connection'), { code: '57P01' }),
    ]) {
      const r = toProblemResponse(err);
      expect(r).toMatchObject({ status: 503, problem: { code: 'DEPENDENCY_DOWN' }, headers: { 'Retry-After': '2' } });
      expect(JSON.stringify(r.problem)).not.toContain('127.0.0.1');
    }
  });
});
