import { randomBytes } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { API_TOKEN_RE, DomainError, newTokenId, TOKEN_ID_RE, type Scope } from '@jr/contracts';
import { LOGGER, type Logger } from '../common/logger';
import { CLOCK, type Clock } from '../config/app-config';
import { hashSecret, secretMatches } from '../auth/tokens';
import type { Principal } from '../auth/principal';
import { TokensRepository, type TokenRow } from './tokens.repository';
import type { TokenRequest } from './token-request';

/**
 * How long a token's row is trusted from memory. Bounds how late a revocation made on another
 * replica takes effect (on this replica, revoke drops the entry at once); expiry is checked on
 * every request against the clock, whatever the cache holds.
 */
export const TOKEN_CACHE_MS = 1_000;
/** last_used_at / last_used_address are written at most this often per token (unless the address changes). */
export const TOKEN_TOUCH_MS = 60_000;
const CACHE_MAX = 10_000;

export interface CreatedToken {
  id: string;
  token: string;
  name: string;
  scopes: Scope[];
  pool: string | null;
  expiresAt: string;
}

export interface TokenView {
  id: string;
  name: string;
  scopes: Scope[];
  pool: string | null;
  state: 'active' | 'expired' | 'revoked';
  createdAt: string;
  createdBy: string;
  expiresAt: string;
  revokedAt: string | null;
  lastUsedAt: string | null;
  lastUsedAddress: string | null;
}

@Injectable()
export class TokensService {
  private readonly cache = new Map<string, { row: TokenRow; readAt: number }>();
  private readonly touched = new Map<string, { at: number; address: string }>();

  constructor(
    private readonly repo: TokensRepository,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  /** A caller may only grant what it holds: its own scopes, and its own pool if it is restricted to one. */
  async create(req: TokenRequest, caller: Principal): Promise<CreatedToken> {
    const missing = req.scopes.find((s) => !caller.scopes.has(s));
    if (missing)
      throw new DomainError('FORBIDDEN', `cannot grant scope ${missing}: the calling token does not hold it`, {
        missingScope: missing,
      });
    if (caller.pool !== null && req.pool !== caller.pool)
      throw new DomainError(
        'FORBIDDEN',
        `the calling token is restricted to pool ${caller.pool}: so is every token it makes`,
      );
    const now = this.clock.now();
    const id = newTokenId();
    const secret = randomBytes(32).toString('base64url');
    const name = req.name ?? id;
    const expiresAt = new Date(now + req.ttlMs);
    await this.repo.insert({
      id,
      name,
      secretSha256: hashSecret(secret),
      scopes: req.scopes,
      pool: req.pool,
      createdAt: new Date(now),
      createdBy: caller.id,
      expiresAt,
    });
    return {
      id,
      token: `jrt_${id}_${secret}`,
      name,
      scopes: req.scopes,
      pool: req.pool,
      expiresAt: expiresAt.toISOString(),
    };
  }

  async list(limit = 1000): Promise<{ items: TokenView[] }> {
    const now = this.clock.now();
    return { items: (await this.repo.list(limit)).map((r) => view(r, now)) };
  }

  async revoke(id: string): Promise<TokenView> {
    if (!TOKEN_ID_RE.test(id)) throw new DomainError('NOT_FOUND', `no token ${id.slice(0, 64)}`);
    const row = await this.repo.revoke(id, new Date(this.clock.now()));
    this.cache.delete(id);
    if (!row) throw new DomainError('NOT_FOUND', `no token ${id}`);
    return view(row, this.clock.now());
  }

  /** A presented `jrt_…` token as a principal; unknown, wrong, revoked or expired: UNAUTHENTICATED. */
  async authenticate(presented: string, address: string): Promise<Principal> {
    const m = API_TOKEN_RE.exec(presented);
    if (!m) throw new DomainError('UNAUTHENTICATED', 'invalid bearer token');
    const [, id = '', secret = ''] = m;
    const row = await this.row(id);
    if (!row || !secretMatches(secret, row.secretSha256))
      throw new DomainError('UNAUTHENTICATED', 'invalid bearer token');
    const now = this.clock.now();
    if (row.revokedAt !== null) throw new DomainError('UNAUTHENTICATED', `token ${id} was revoked`);
    if (row.expiresAt.getTime() <= now) throw new DomainError('UNAUTHENTICATED', `token ${id} has expired`);
    this.touch(id, now, address);
    return { kind: 'token', id, name: row.name, scopes: new Set(row.scopes), pool: row.pool, address };
  }

  private async row(id: string): Promise<TokenRow | undefined> {
    const now = this.clock.now();
    const hit = this.cache.get(id);
    if (hit && now - hit.readAt < TOKEN_CACHE_MS && now >= hit.readAt) return hit.row;
    const row = await this.repo.find(id);
    if (this.cache.size >= CACHE_MAX) this.cache.clear();
    if (row) this.cache.set(id, { row, readAt: now });
    else this.cache.delete(id);
    return row;
  }

  /** Records where and when a token was used, off the request path and at most once a minute per address. */
  private touch(id: string, now: number, address: string): void {
    const last = this.touched.get(id);
    if (last && last.address === address && now - last.at < TOKEN_TOUCH_MS) return;
    if (this.touched.size >= CACHE_MAX) this.touched.clear();
    this.touched.set(id, { at: now, address });
    this.repo
      .touch(id, new Date(now), address)
      .catch((err: unknown) => this.log.warn({ err: String(err), tokenId: id }, 'could not record token use'));
  }
}

function view(r: TokenRow, now: number): TokenView {
  const state = r.revokedAt !== null ? 'revoked' : r.expiresAt.getTime() <= now ? 'expired' : 'active';
  return {
    id: r.id,
    name: r.name,
    scopes: r.scopes,
    pool: r.pool,
    state,
    createdAt: r.createdAt.toISOString(),
    createdBy: r.createdBy,
    expiresAt: r.expiresAt.toISOString(),
    revokedAt: r.revokedAt?.toISOString() ?? null,
    lastUsedAt: r.lastUsedAt?.toISOString() ?? null,
    lastUsedAddress: r.lastUsedAddress,
  };
}
