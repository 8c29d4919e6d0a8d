import { z } from 'zod';
import { parseDurationMs } from './duration';

/**
 * Service levels (CONTRACT "Service levels"): the objectives file (`JR_SLO_FILE`, YAML, shaped after
 * OpenSLO: `apiVersion`, `kind`, `metadata`, `spec`) and what `GET /v1/slo` and `GET /v1/incidents` answer.
 * parseSloDocument is the one way in; the API reads the file once at start and refuses a bad one.
 */

/** The indicators jr measures itself, from its own records and metrics. */
export const BUILTIN_SLIS = ['submissions_accepted', 'pickup_latency', 'canary_success'] as const;
export type BuiltinSli = (typeof BUILTIN_SLIS)[number];

/** What an incident is about. The first three are outages (count as downtime); the others degrade. */
export const INCIDENT_CAUSES = [
  'dependency_down',
  'intake_refusing',
  'sli_violated',
  'replica_lost',
  'breaker_open',
] as const;
export type IncidentCause = (typeof INCIDENT_CAUSES)[number];
export const OUTAGE_CAUSES: ReadonlySet<IncidentCause> = new Set([
  'dependency_down',
  'intake_refusing',
  'sli_violated',
]);

/** Thresholds a latency SLI may use: the bucket boundaries of the histogram its rules read. */
export const PICKUP_THRESHOLDS_S = [0.25, 0.5, 1, 2, 2.5, 5, 10] as const;
export const CANARY_THRESHOLDS_S = [1, 2, 5, 10, 30, 60, 120] as const;

export const SLO_LIMITS = { maxObjectives: 50, minWindowMs: 3_600_000, maxWindowMs: 90 * 86_400_000 } as const;

const name = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,62}$/, 'lower-case letters, digits and "-", starting with a letter, at most 63');
const duration = (what: string, min = 1, max = Number.MAX_SAFE_INTEGER) =>
  z.union([z.string(), z.number()]).transform((v, ctx) => {
    const ms = parseDurationMs(v);
    if (ms === undefined || ms < min || ms > max) {
      ctx.addIssue({
        code: 'custom',
        message: `${what}: a duration such as "30s" or "30d" between ${min} and ${max} ms`,
      });
      return z.NEVER;
    }
    return ms;
  });
const target = z.number().gt(0).lt(1, 'a ratio below 1 (0.999 is 99.9 %)');

const builtinIndicator = z.strictObject({
  builtin: z.enum(BUILTIN_SLIS),
  /** Latency indicators: the event is good within this time (a bucket boundary, see *_THRESHOLDS_S). */
  threshold: duration('threshold').optional(),
  /** Restrict to one pool (pickup_latency, canary_success). */
  pool: z.string().min(1).max(128).optional(),
});
const ratioIndicator = z.strictObject({
  /** PromQL returning the rate of good (or bad) events and of all events, `[$window]` is replaced. */
  ratioMetric: z.strictObject({
    good: z.string().min(1).max(2_000).optional(),
    bad: z.string().min(1).max(2_000).optional(),
    total: z.string().min(1).max(2_000),
  }),
});

const objective = z.strictObject({
  metadata: z.strictObject({ name, displayName: z.string().min(1).max(200).optional() }),
  spec: z.strictObject({
    description: z.string().max(2_000).optional(),
    indicator: z.union([builtinIndicator, ratioIndicator]),
    target,
    /** Rolling window of the objective; default: the document's. */
    timeWindow: duration('timeWindow', SLO_LIMITS.minWindowMs, SLO_LIMITS.maxWindowMs).optional(),
    /** Alerts stay silent while the long window holds fewer events than this (low traffic). */
    minEvents: z.number().int().min(0).max(1_000_000).optional(),
  }),
});

const sloDocument = z.strictObject({
  apiVersion: z.literal('jr/v1'),
  kind: z.literal('ServiceLevels'),
  metadata: z.strictObject({ name: name.optional() }).optional(),
  spec: z.strictObject({
    timeWindow: duration('timeWindow', SLO_LIMITS.minWindowMs, SLO_LIMITS.maxWindowMs).default(30 * 86_400_000),
    minEvents: z.number().int().min(0).max(1_000_000).default(10),
    /** Published availability of what jr depends on, for the theoretical model (product of them all). */
    dependencies: z
      .array(z.strictObject({ name: z.string().min(1).max(64), availability: target }))
      .max(50)
      .default([]),
    objectives: z.array(objective).min(1).max(SLO_LIMITS.maxObjectives),
  }),
});

export interface SloIndicator {
  builtin?: BuiltinSli;
  thresholdMs?: number;
  pool?: string;
  ratioMetric?: { good?: string; bad?: string; total: string };
}
export interface SloObjective {
  name: string;
  displayName: string;
  description?: string;
  indicator: SloIndicator;
  target: number;
  windowMs: number;
  minEvents: number;
}
export interface SloDocument {
  name: string;
  windowMs: number;
  dependencies: Array<{ name: string; availability: number }>;
  objectives: SloObjective[];
}

export class SloDocumentError extends Error {}

/** Checks a parsed YAML/JSON value; throws SloDocumentError naming every problem with its path. */
export function parseSloDocument(input: unknown): SloDocument {
  const r = sloDocument.safeParse(input);
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${i.path.join('.') || '(document)'}: ${i.message}`);
    throw new SloDocumentError(problems.join('; '));
  }
  const d = r.data;
  const seen = new Set<string>();
  const objectives = d.spec.objectives.map((o, i): SloObjective => {
    const at = `spec.objectives.${i}`;
    if (seen.has(o.metadata.name)) throw new SloDocumentError(`${at}.metadata.name: "${o.metadata.name}" twice`);
    seen.add(o.metadata.name);
    return {
      name: o.metadata.name,
      displayName: o.metadata.displayName ?? o.metadata.name,
      ...(o.spec.description !== undefined ? { description: o.spec.description } : {}),
      indicator: indicatorOf(o.spec.indicator, at),
      target: o.spec.target,
      windowMs: o.spec.timeWindow ?? d.spec.timeWindow,
      minEvents: o.spec.minEvents ?? d.spec.minEvents,
    };
  });
  return {
    name: d.metadata?.name ?? 'jobrunner',
    windowMs: d.spec.timeWindow,
    dependencies: d.spec.dependencies,
    objectives,
  };
}

function indicatorOf(i: z.infer<typeof objective>['spec']['indicator'], at: string): SloIndicator {
  if ('ratioMetric' in i) {
    const { good, bad, total } = i.ratioMetric;
    if ((good === undefined) === (bad === undefined))
      throw new SloDocumentError(`${at}.spec.indicator.ratioMetric: exactly one of good and bad`);
    return { ratioMetric: { total, ...(good !== undefined ? { good } : { bad: bad as string }) } };
  }
  const allowed =
    i.builtin === 'pickup_latency' ? PICKUP_THRESHOLDS_S : i.builtin === 'canary_success' ? CANARY_THRESHOLDS_S : [];
  if (allowed.length === 0 && i.threshold !== undefined)
    throw new SloDocumentError(`${at}.spec.indicator.threshold: ${i.builtin} has no threshold`);
  if (allowed.length > 0 && (i.threshold === undefined || !allowed.some((s) => s * 1_000 === i.threshold)))
    throw new SloDocumentError(
      `${at}.spec.indicator.threshold: ${i.builtin} needs one of ${allowed.map((s) => `${s}s`).join(', ')}`,
    );
  if (i.builtin === 'submissions_accepted' && i.pool !== undefined)
    throw new SloDocumentError(`${at}.spec.indicator.pool: submissions_accepted counts every pool`);
  return {
    builtin: i.builtin,
    ...(i.threshold !== undefined ? { thresholdMs: i.threshold } : {}),
    ...(i.pool !== undefined ? { pool: i.pool } : {}),
  };
}

/** The objectives jr uses when JR_SLO_FILE is unset (the three of the README). */
export const DEFAULT_SLO_DOCUMENT: SloDocument = parseSloDocument({
  apiVersion: 'jr/v1',
  kind: 'ServiceLevels',
  spec: {
    objectives: [
      {
        metadata: { name: 'submissions-accepted', displayName: '99.9 % of valid submissions accepted' },
        spec: { indicator: { builtin: 'submissions_accepted' }, target: 0.999 },
      },
      {
        metadata: { name: 'pickup-2s', displayName: '99 % of jobs picked up within 2 s' },
        spec: { indicator: { builtin: 'pickup_latency', threshold: '2s' }, target: 0.99 },
      },
      {
        metadata: { name: 'canaries-30s', displayName: '99.9 % of canaries succeed within 30 s' },
        spec: { indicator: { builtin: 'canary_success', threshold: '30s' }, target: 0.999, minEvents: 3 },
      },
    ],
  },
});

// ---- what the API answers ----

export interface Incident {
  id: string;
  cause: IncidentCause;
  /** What it is about: `postgres`, `redis`, `journal`, a replica id, an agent id, an objective's name. */
  scope: string;
  /** Replica that saw it. */
  replica: string;
  startedAt: string;
  /** null while it lasts. */
  endedAt: string | null;
  durationMs: number;
  outage: boolean;
  detail: string;
}

export interface Distribution {
  count: number;
  p50Ms: number;
  p90Ms: number;
  maxMs: number;
  meanMs: number;
}

export interface SloObjectiveReport {
  name: string;
  displayName: string;
  sli: string;
  target: number;
  good: number;
  total: number;
  /** good ÷ total, null without events. */
  attainment: number | null;
  /** 1 − (bad ÷ total) ÷ (1 − target): 1 untouched, 0 spent, negative overspent; null without events. */
  budgetRemaining: number | null;
  /** (bad ÷ total) ÷ (1 − target) over the window: 1 spends the budget exactly in the window. */
  burnRate: number | null;
  met: boolean | null;
  /** Per bucket of the window (oldest first), for the charts. */
  series: Array<{ from: string; good: number; total: number }>;
}

export interface SloReport {
  window: { from: string; to: string; ms: number };
  objectives: SloObjectiveReport[];
  /** uptime ÷ (uptime + downtime), outages only. */
  availability: number;
  /** MTBF ÷ (MTBF + MTTR) with the means; null before the first outage ended. */
  availabilityFromMtbf: number | null;
  uptimeMs: number;
  downtimeMs: number;
  /** Uptime between consecutive outages. */
  mtbf: Distribution | null;
  /** Outage durations. */
  mttr: Distribution | null;
  theoretical: {
    availability: number | null;
    dependencies: Array<{ name: string; availability: number; measured: number | null }>;
  };
  incidents: Incident[];
}
