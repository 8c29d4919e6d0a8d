/**
 * What an API token may do. Every REST route declares the one scope it needs (the bootstrap
 * JR_ADMIN_TOKEN holds them all); a token without it gets a 403 problem document naming it.
 */
export const SCOPES = [
  'jobs:submit',
  'jobs:read',
  'jobs:cancel',
  'agents:read',
  'agents:admin',
  'tokens:admin',
  'metrics:read',
  'schedules:admin',
] as const;

export type Scope = (typeof SCOPES)[number];

export function isScope(value: unknown): value is Scope {
  return typeof value === 'string' && (SCOPES as readonly string[]).includes(value);
}

/** Token ids: `t_` + 20 lowercase base32 characters (public: listed, audited, revoked by). */
export const TOKEN_ID_RE = /^t_[0-9a-z]{20}$/;

/**
 * An API token as shown once at creation: `jrt_<id>_<secret>` (secret: 32 random bytes, base64url).
 * The id lets the API find the row without scanning; only SHA-256(secret) is stored.
 */
export const API_TOKEN_RE = /^jrt_(t_[0-9a-z]{20})_([A-Za-z0-9_-]{43})$/;

/** The longest lifetime a token may be given (`--ttl`), and the one it gets without one. */
export const TOKEN_TTL_MAX_MS = 366 * 24 * 3600 * 1000;
export const TOKEN_TTL_DEFAULT = '30d';

/** The bootstrap admin token's minimum length (JR_ADMIN_TOKEN). */
export const ADMIN_TOKEN_MIN_LENGTH = 32;
