import { z } from 'zod';
import type { HttpClient } from './api-client';

const seg = encodeURIComponent;

export const createdTokenSchema = z.looseObject({
  id: z.string(),
  token: z.string(),
  name: z.string().optional(),
  scopes: z.array(z.string()),
  pool: z.string().nullable().optional(),
  expiresAt: z.string(),
});

export const tokenViewSchema = z.looseObject({
  id: z.string(),
  name: z.string(),
  scopes: z.array(z.string()),
  pool: z.string().nullable(),
  state: z.string(),
  createdAt: z.string(),
  expiresAt: z.string(),
  revokedAt: z.string().nullable(),
  lastUsedAt: z.string().nullable(),
  lastUsedAddress: z.string().nullable(),
});

export const tokenListSchema = z.looseObject({ items: z.array(tokenViewSchema) });

export const auditEntrySchema = z.looseObject({
  seq: z.string(),
  at: z.string(),
  actor: z.string(),
  actorName: z.string().nullable(),
  action: z.string(),
  target: z.string().nullable(),
  address: z.string().nullable(),
  outcome: z.string(),
  detail: z.record(z.string(), z.unknown()).nullable(),
});

export const auditPageSchema = z.looseObject({ items: z.array(auditEntrySchema), nextCursor: z.string().nullable() });

export type CreatedTokenAnswer = z.output<typeof createdTokenSchema>;
export type TokenViewAnswer = z.output<typeof tokenViewSchema>;
export type AuditEntryAnswer = z.output<typeof auditEntrySchema>;
export type AuditPageAnswer = z.output<typeof auditPageSchema>;

export interface TokenCreateRequest {
  scopes: string[];
  pool?: string;
  ttl?: string;
  name?: string;
}

export interface AuditQuery {
  limit?: number;
  action?: string;
  actor?: string;
  target?: string;
  since?: string;
  cursor?: string;
}

/** The API token and audit routes (`jr tokens …`, `jr audit`). */
export class AdminApi {
  constructor(private readonly http: HttpClient) {}

  async createToken(req: TokenCreateRequest): Promise<CreatedTokenAnswer> {
    // never retried: a lost answer would leave a token nobody saw (the operator lists and revokes it instead)
    const { value } = await this.http.json('v1/tokens', createdTokenSchema, {
      method: 'POST',
      body: JSON.stringify(req),
      retries: 0,
    });
    return value;
  }

  async listTokens(): Promise<TokenViewAnswer[]> {
    return (await this.http.json('v1/tokens', tokenListSchema)).value.items;
  }

  async revokeToken(id: string): Promise<TokenViewAnswer> {
    const { value } = await this.http.json(`v1/tokens/${seg(id)}/revoke`, tokenViewSchema, {
      method: 'POST',
      notFound: `unknown token ${id}`,
    });
    return value;
  }

  async audit(query: AuditQuery): Promise<AuditPageAnswer> {
    return (await this.http.json('v1/audit', auditPageSchema, { query: { ...query } })).value;
  }
}
