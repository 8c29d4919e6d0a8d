import { z } from 'zod';
import type { Incident, SloReport } from '@jr/contracts';
import { readBody, type HttpClient } from './api-client';

/** The largest rules file the CLI takes (generated rules are a few KB per objective). */
const MAX_RULES_BYTES = 4 * 1024 * 1024;

const distribution = z.looseObject({
  count: z.number(),
  p50Ms: z.number(),
  p90Ms: z.number(),
  maxMs: z.number(),
  meanMs: z.number(),
});
const incident = z.looseObject({
  id: z.string(),
  cause: z.string(),
  scope: z.string(),
  replica: z.string(),
  startedAt: z.string(),
  endedAt: z.string().nullable(),
  durationMs: z.number(),
  outage: z.boolean(),
  detail: z.string(),
});
const objective = z.looseObject({
  name: z.string(),
  displayName: z.string(),
  sli: z.string(),
  target: z.number(),
  good: z.number(),
  total: z.number(),
  attainment: z.number().nullable(),
  budgetRemaining: z.number().nullable(),
  burnRate: z.number().nullable(),
  met: z.boolean().nullable(),
  series: z.array(z.looseObject({ from: z.string(), good: z.number(), total: z.number() })),
});
const report = z.looseObject({
  window: z.looseObject({ from: z.string(), to: z.string(), ms: z.number() }),
  objectives: z.array(objective),
  availability: z.number(),
  availabilityFromMtbf: z.number().nullable(),
  uptimeMs: z.number(),
  downtimeMs: z.number(),
  mtbf: distribution.nullable(),
  mttr: distribution.nullable(),
  theoretical: z.looseObject({
    availability: z.number().nullable(),
    dependencies: z.array(
      z.looseObject({ name: z.string(), availability: z.number(), measured: z.number().nullable() }),
    ),
  }),
  incidents: z.array(incident),
});
const incidentList = z.looseObject({ items: z.array(incident) });

/** `jr slo …` and `jr incidents`: GET /v1/slo, /v1/slo/rules, /v1/incidents. */
export class SloApi {
  constructor(private readonly http: HttpClient) {}

  async report(window?: string): Promise<SloReport> {
    const query = window ? { window } : undefined;
    return (await this.http.json('v1/slo', report, query ? { query } : {})).value as SloReport;
  }

  async incidents(window?: string): Promise<Incident[]> {
    const query = window ? { window } : undefined;
    return (await this.http.json('v1/incidents', incidentList, query ? { query } : {})).value.items as Incident[];
  }

  async rules(): Promise<string> {
    const response = await this.http.open('v1/slo/rules', { accept: 'application/yaml' });
    return (await readBody(response, MAX_RULES_BYTES)).toString('utf8');
  }
}
