import { randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { z } from 'zod';
import {
  DomainError,
  ENROLL_TOKEN_ID_RE,
  newEnrollTokenId,
  parseDurationMs,
  POOL_RE,
  unstorableStrings,
} from '@jr/contracts';
import { APP_CONFIG, CLOCK, type AppConfig, type Clock } from '../config/app-config';
import { bearerToken, ExpectedToken, hashSecret } from '../auth/tokens';
import { labelsSchema } from '../grpc/request-validation';
import type { EnrollGrant } from './enroll-policy';
import { EnrollTokensRepository, type EnrollTokenRow } from './enroll-tokens.repository';

/** Operator enroll tokens start with this, so a leaked one is recognisable (secret scanners, logs). */
export const ENROLL_TOKEN_PREFIX = 'jre_';
const TTL_MIN_MS = 60_000;
const TTL_MAX_MS = 366 * 86_400_000;
const MAX_USES = 10_000;
const LIST_LIMIT = 1_000;

/** `GET /v1/enroll-tokens` and the answers of create/revoke: never the token itself. */
export interface EnrollTokenView {
  id: string;
  name: string;
  pool: string;
  labels: Record<string, string>;
  uses: number;
  used: number;
  /** Agents enrolled with it still on record (`jr agents rm` removes them). */
  agents?: number;
  createdAt: string;
  expiresAt: string;
  revokedAt: string | null;
  state: 'active' | 'expired' | 'used_up' | 'revoked';
}

const createSchema = z.strictObject({
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.\- ]{0,99}$/, 'name: 1-100 letters, digits, spaces, _ . -')
    .optional(),
  pool: z.string().regex(POOL_RE, 'pool: lowercase letters, digits, _ . -, at most 63'),
  labels: labelsSchema.optional(),
  uses: z.number().int().min(1, `uses must be 1..${MAX_USES}`).max(MAX_USES, `uses must be 1..${MAX_USES}`),
  ttl: z.union([z.string().max(32), z.number()]).transform((v, ctx) => {
    const ms = parseDurationMs(v);
    if (ms === undefined || ms < TTL_MIN_MS || ms > TTL_MAX_MS) {
      ctx.addIssue({ code: 'custom', message: 'ttl: a duration like 30m, 1h, 7d between 1m and 366d' });
      return z.NEVER;
    }
    return ms;
  }),
});

/** Operator enroll tokens: made, listed and revoked over REST; resolved on every Enroll. */
@Injectable()
export class EnrollTokensService {
  private readonly bootstrap: ExpectedToken;

  constructor(
    private readonly tokens: EnrollTokensRepository,
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {
    this.bootstrap = new ExpectedToken(config.enrollToken);
  }

  /** The token is in the answer once; only its hash is kept. */
  async create(body: unknown): Promise<EnrollTokenView & { token: string }> {
    const input = parseCreate(body);
    const token = `${ENROLL_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
    const now = this.clock.now();
    const row = await this.tokens.create({
      id: newEnrollTokenId(),
      name: input.name ?? '',
      token_hash: hashSecret(token),
      pool: input.pool,
      labels: input.labels ?? {},
      uses: input.uses,
      created_at: new Date(now),
      expires_at: new Date(now + input.ttl),
    });
    return { ...toView(row, now), token };
  }

  async list(): Promise<{ items: EnrollTokenView[] }> {
    const now = this.clock.now();
    return { items: (await this.tokens.list(LIST_LIMIT)).map((r) => toView(r, now)) };
  }

  /** Ends the token for future enrolments; agents already enrolled with it keep their credentials. */
  async revoke(id: string): Promise<EnrollTokenView> {
    const row = ENROLL_TOKEN_ID_RE.test(id) ? await this.tokens.revoke(id, new Date(this.clock.now())) : undefined;
    if (!row)
      throw new DomainError(
        'NOT_FOUND',
        `no enroll token ${ENROLL_TOKEN_ID_RE.test(id) ? id : JSON.stringify(id.slice(0, 64))}`,
      );
    return toView(row, this.clock.now());
  }

  /**
   * What the Enroll call's bearer token allows: the bootstrap JR_ENROLL_TOKEN, or a live operator token.
   * An expired, revoked or unknown token is UNAUTHENTICATED; a used-up one FORBIDDEN (counted again at the write).
   */
  async grantFor(authorization: string | undefined): Promise<EnrollGrant> {
    const token = bearerToken(authorization);
    if (token === undefined) throw refused('Enroll needs authorization: Bearer <enroll token>');
    if (this.bootstrap.matches(token)) return { kind: 'bootstrap' };
    const row = token.startsWith(ENROLL_TOKEN_PREFIX) ? await this.tokens.findByHash(hashSecret(token)) : undefined;
    if (!row) throw refused('unknown enroll token');
    const now = this.clock.now();
    const state = tokenState(row, now);
    if (state === 'revoked') throw refused(`enroll token ${row.id} was revoked by an operator`);
    if (state === 'expired') throw refused(`enroll token ${row.id} expired at ${row.expires_at.toISOString()}`);
    return { kind: 'operator', tokenId: row.id, pool: row.pool, labels: row.labels };
  }
}

export function usedUp(tokenId: string): DomainError {
  return new DomainError('FORBIDDEN', `enroll token ${tokenId} is used up: it admits no more agents`, {
    refusal: 'token_used_up',
  });
}

/** An enroll token that is not (or no longer) one. */
function refused(message: string): DomainError {
  return new DomainError('UNAUTHENTICATED', message, { refusal: 'token_refused' });
}

function parseCreate(body: unknown): z.output<typeof createSchema> {
  const text = unstorableStrings(body, [], 8);
  if (text.length > 0) throw new DomainError('INVALID_INPUT', text.map((i) => `${i.path}: ${i.message}`).join('; '));
  const r = createSchema.safeParse(body ?? {});
  if (r.success) return r.data;
  throw new DomainError(
    'INVALID_INPUT',
    r.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '),
  );
}

function tokenState(row: EnrollTokenRow, nowMs: number): EnrollTokenView['state'] {
  if (row.revoked_at) return 'revoked';
  if (row.expires_at.getTime() <= nowMs) return 'expired';
  return row.used >= row.uses ? 'used_up' : 'active';
}

function toView(row: EnrollTokenRow & { agents?: number }, nowMs: number): EnrollTokenView {
  return {
    id: row.id,
    name: row.name,
    pool: row.pool,
    labels: row.labels,
    uses: row.uses,
    used: row.used,
    ...(row.agents === undefined ? {} : { agents: row.agents }),
    createdAt: row.created_at.toISOString(),
    expiresAt: row.expires_at.toISOString(),
    revokedAt: row.revoked_at?.toISOString() ?? null,
    state: tokenState(row, nowMs),
  };
}
