import { z } from 'zod';
import {
  DomainError,
  isScope,
  parseDurationMs,
  POOL_RE,
  SCOPES,
  TOKEN_TTL_DEFAULT,
  TOKEN_TTL_MAX_MS,
  type Scope,
} from '@jr/contracts';

/** POST /v1/tokens, validated: unknown fields, unknown scopes, duplicates and odd names are a 400. */
export interface TokenRequest {
  name: string | null;
  scopes: Scope[];
  pool: string | null;
  ttlMs: number;
}

const NAME_RE = /^[\x20-\x7e]{1,100}$/;

const schema = z.strictObject({
  name: z.string().regex(NAME_RE, 'name: 1-100 printable ASCII characters').optional(),
  scopes: z
    .array(z.string().refine(isScope, { message: `scope: one of ${SCOPES.join(', ')}` }))
    .min(1, 'scopes: at least one')
    .max(SCOPES.length * 4)
    .refine((s) => new Set(s).size === s.length, 'scopes: each at most once'),
  pool: z.string().regex(POOL_RE, 'pool: lowercase letters, digits, _ . -, at most 63').optional(),
  ttl: z
    .union([z.string().max(32), z.number()])
    .optional()
    .transform((v, ctx) => {
      const ms = parseDurationMs(v ?? TOKEN_TTL_DEFAULT);
      if (ms === undefined || ms < 60_000 || ms > TOKEN_TTL_MAX_MS) {
        ctx.addIssue({ code: 'custom', message: 'ttl: a duration like 12h, 30d between 1m and 366d' });
        return z.NEVER;
      }
      return ms;
    }),
});

export function parseTokenRequest(body: unknown): TokenRequest {
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const errors = parsed.error.issues.map((i) => ({ path: i.path.join('.') || '(body)', message: i.message }));
    throw new DomainError('INVALID_INPUT', 'invalid token request', { errors });
  }
  const { name, scopes, pool, ttl } = parsed.data;
  return { name: name?.trim() || null, scopes, pool: pool ?? null, ttlMs: ttl };
}
