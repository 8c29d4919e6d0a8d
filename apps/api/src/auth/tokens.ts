import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value.length > 4096) return undefined;
  const m = /^Bearer[ ]+([\x21-\x7e]+)\s*$/i.exec(value);
  return m?.[1];
}

/**
 * A configured token (admin, enroll), checked on every request: its digest is computed once, and a
 * presented token is compared in constant time without leaking the length (both sides hashed).
 */
export class ExpectedToken {
  private readonly digest: Buffer;

  constructor(token: string) {
    this.digest = sha256(token);
  }

  matches(presented: string): boolean {
    return timingSafeEqual(sha256(presented), this.digest);
  }
}

/** Constant-time comparison of two tokens (see ExpectedToken for one checked repeatedly). */
export function tokensEqual(presented: string, expected: string): boolean {
  return new ExpectedToken(expected).matches(presented);
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Agent credentials are `<agentId>.<secret>`; only sha256(secret) is stored. */
export interface AgentCredential {
  agentId: string;
  secret: string;
}

export function newAgentSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function hashSecret(secret: string): string {
  return sha256(secret).toString('hex');
}

export function parseAgentCredential(token: string): AgentCredential | undefined {
  const m = /^(a_[0-9a-z]{20})\.([A-Za-z0-9_-]{16,128})$/.exec(token);
  return m ? { agentId: m[1] as string, secret: m[2] as string } : undefined;
}

export function secretMatches(secret: string, storedHash: string): boolean {
  const presented = Buffer.from(hashSecret(secret), 'hex');
  const stored = Buffer.from(storedHash, 'hex');
  return presented.length === stored.length && timingSafeEqual(presented, stored);
}

/** A lease token: 128 random bits, hex. */
export function newLeaseToken(): string {
  return randomBytes(16).toString('hex');
}

/** Prefix of the canary submitter's token (canaryToken). */
export const CANARY_TOKEN_PREFIX = 'jrc_';

/**
 * The token the API's canaries submit with: derived from JR_ADMIN_TOKEN (HMAC-SHA256, so every replica
 * computes the same one and it never needs storing), shown nowhere, and worth only jobs:submit and
 * jobs:read: a canary takes the same public way as a user's job, authentication included.
 */
export function canaryToken(adminToken: string): string {
  return `${CANARY_TOKEN_PREFIX}${createHmac('sha256', adminToken).update('jobrunner canary token v1').digest('base64url')}`;
}
