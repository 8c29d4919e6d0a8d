import { DomainError } from '@jr/contracts';
import { bearerToken, tokensEqual } from './tokens';

/** The admin bearer check of every REST route but the public ones; throws UNAUTHENTICATED. */
export function checkAdminToken(authorization: string | string[] | undefined, adminToken: string): void {
  const token = bearerToken(authorization);
  if (token === undefined) throw new DomainError('UNAUTHENTICATED', 'missing bearer token (Authorization: Bearer <JR_ADMIN_TOKEN>)');
  if (!tokensEqual(token, adminToken)) throw new DomainError('UNAUTHENTICATED', 'invalid bearer token');
}
