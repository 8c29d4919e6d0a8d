import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value.length > 4096) return undefined;
  const m = /^Bearer[ ]+([\x21-\x7e]+)\s*$/i.exec(value);
  return m?.[1];
}

/** Constant-time comparison that does not leak the length either (both sides hashed first). */
export function tokensEqual(presented: string, expected: string): boolean {
  return timingSafeEqual(sha256(presented), expectedDigest(expected));
}

/** The configured tokens (admin, enroll) are checked on every request: their digests are computed once. */
const expectedDigests = new Map<string, Buffer>();

function expectedDigest(expected: string): Buffer {
  let digest = expectedDigests.get(expected);
  if (!digest) {
    digest = sha256(expected);
    if (expectedDigests.size >= 8) expectedDigests.clear(); // only the configuration's few tokens ever come here
    expectedDigests.set(expected, digest);
  }
  return digest;
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
