import { DomainError } from '@jr/contracts';
import { bearerToken, ExpectedToken } from './tokens';

/** The admin bearer check of every REST route but the public ones; throws UNAUTHENTICATED. */
export function checkAdminToken(
  authorization: string | string[] | undefined,
  adminToken: ExpectedToken | string,
): void {
  const token = bearerToken(authorization);
  if (token === undefined)
    throw new DomainError('UNAUTHENTICATED', 'missing bearer token (Authorization: Bearer <JR_ADMIN_TOKEN>)');
  const expected = typeof adminToken === 'string' ? new ExpectedToken(adminToken) : adminToken;
  if (!expected.matches(token)) throw new DomainError('UNAUTHENTICATED', 'invalid bearer token');
}
