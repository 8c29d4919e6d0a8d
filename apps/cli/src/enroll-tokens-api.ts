import { z } from 'zod';
import type { HttpClient } from './api-client';

const seg = encodeURIComponent;
const labels = z.record(z.string(), z.string());

export const enrollTokenSchema = z.looseObject({
  id: z.string(),
  name: z.string().optional(),
  pool: z.string(),
  labels: labels.optional(),
  uses: z.number(),
  used: z.number(),
  agents: z.number().optional(),
  createdAt: z.string().optional(),
  expiresAt: z.string(),
  revokedAt: z.string().nullable().optional(),
  state: z.string(),
});
const createdSchema = enrollTokenSchema.extend({ token: z.string().min(1) });
const listSchema = z.looseObject({ items: z.array(enrollTokenSchema) });

export type EnrollTokenAnswer = z.output<typeof enrollTokenSchema>;
export type CreatedEnrollToken = z.output<typeof createdSchema>;

export interface NewEnrollToken {
  pool: string;
  labels: Record<string, string>;
  uses: number;
  ttl: string;
  name?: string;
}

/** `/v1/enroll-tokens`: operator enroll tokens. */
export class EnrollTokensApi {
  constructor(private readonly http: HttpClient) {}

  async create(t: NewEnrollToken): Promise<CreatedEnrollToken> {
    const { value } = await this.http.json('v1/enroll-tokens', createdSchema, {
      method: 'POST',
      body: JSON.stringify(t),
      retries: 0, // a retried create could make a second token
    });
    return value;
  }

  async list(): Promise<EnrollTokenAnswer[]> {
    return (await this.http.json('v1/enroll-tokens', listSchema)).value.items;
  }

  async revoke(id: string): Promise<EnrollTokenAnswer> {
    const { value } = await this.http.json(`v1/enroll-tokens/${seg(id)}/revoke`, enrollTokenSchema, {
      method: 'POST',
      notFound: `unknown enroll token ${id}`,
    });
    return value;
  }
}
