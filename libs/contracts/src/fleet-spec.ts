import { z } from 'zod';
import { parseDurationMs } from './duration';
import { AGENT_ID_RE } from './ids';
import { printable, unstorableReason, unstorableStrings } from './storable-text';

/**
 * Fleet jobs (CONTRACT "Fleet jobs"): `targets` says which agents a job runs on, once each; `rollout` how
 * many at a time and when to stop. parseFleetFields is the one way in for both fields of a job document.
 */

/** Per-target states of the contract. */
export const TARGET_STATES = [
  'pending',
  'running',
  'succeeded',
  'failed',
  'timed_out',
  'cancelled',
  'undelivered',
  'skipped',
] as const;
export type TargetState = (typeof TARGET_STATES)[number];

export const FLEET_LIMITS = {
  /** Entries of an explicit `agents` list (10,000 ids are about 250 KB: the body limit is 256 KiB). */
  maxAgents: 10_000,
  /** Largest count for batch, maxFailures, minSample and minSucceeded: a sanity bound, not a fleet size. */
  maxCount: 1_000_000,
  maxLabels: 32,
  minDeliveryTimeoutMs: 1_000,
  maxDurationMs: 7 * 86_400_000,
  /** Problems listed for one `agents` list; past this, one more issue says there are more. */
  maxAgentIssues: 20,
} as const;

/** A number of targets, or a share of all of them (`p` in percent, one decimal at most). */
export type Amount = { kind: 'count'; n: number } | { kind: 'percent'; p: number };

/** An entry of `targets.agents`: text shaped like an agent id (AGENT_ID_RE) is an id, anything else a name. */
export type AgentRef = { kind: 'id'; id: string } | { kind: 'name'; name: string };

/**
 * Which agents a fleet job runs on, always within one pool (`targets.pool`, else the job's pool):
 *  - match: every agent of the pool carrying all `labels` (`{}` only from `all: true`: the whole pool);
 *    `continuous` adds agents that match later, for as long as the job runs;
 *  - agents: exactly these agents, each of which must be in the pool (checked when they are resolved).
 */
export type TargetSelector =
  | { kind: 'match'; pool: string; labels: Record<string, string>; continuous: boolean }
  | { kind: 'agents'; pool: string; agents: AgentRef[] };

/** The rollout, defaults applied and durations in ms (see the field comments of rolloutSchema). */
export interface RolloutSpec {
  batch: Amount;
  mode: 'batching' | 'rolling';
  maxFailures: Amount;
  minSample: number;
  deliveryTimeoutMs: number;
  pauseMs: number;
  undeliveredCountsAsFailure: boolean;
  /** null: the job succeeds only when every target succeeded. */
  successCriteria: { minSucceeded: Amount } | null;
}

export interface FleetSpec {
  targets: TargetSelector;
  rollout: RolloutSpec;
}

export interface FleetIssue {
  path: string;
  message: string;
}

/** `fleet: null`: neither field was given (a job for one agent, as before). */
export type FleetParseResult = { ok: true; fleet: FleetSpec | null } | { ok: false; issues: FleetIssue[] };

// The patterns of job-spec.ts (pool, labels) and of the API's Enroll (agent names). Copied, not imported:
// job-spec.ts is the module that will call parseFleetFields, and imports may not go both ways.
const POOL_RE = /^[a-z0-9][a-z0-9_.-]{0,62}$/;
const LABEL_KEY_RE = /^[A-Za-z0-9][A-Za-z0-9_./-]{0,62}$/;
const LABEL_VALUE_RE = /^[A-Za-z0-9_./:-]{0,63}$/;
const AGENT_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.\- ]{0,199}$/;
/** 0 to 999 with at most one decimal and no leading zero, then "%"; the range is checked after. */
const PERCENT_RE = /^(?:0|[1-9]\d{0,2})(?:\.\d)?%$/;
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
/** `targets` and `rollout` are three levels deep at most; deeper is hostile. */
const MAX_DEPTH = 6;

const DEFAULT_ROLLOUT: RolloutSpec = {
  // no rollout asked for: every target at once, as Ansible without `serial`
  batch: { kind: 'percent', p: 100 },
  mode: 'rolling',
  // 0: stop at the first failure (SSM's MaxErrors 0). A fleet command that fails once is suspect; an
  // operator who tolerates failures says how many.
  maxFailures: { kind: 'count', n: 0 },
  minSample: 0,
  deliveryTimeoutMs: 600_000,
  pauseMs: 0,
  // SSM's rule: an unreachable machine says nothing about the command, so it does not stop the rollout; it
  // still keeps the job from succeeding unless successCriteria allow for it
  undeliveredCountsAsFailure: false,
  successCriteria: null,
};

function shown(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(printable(value, 40));
  if (typeof value === 'number' || value === null) return String(value);
  return value === undefined ? 'nothing' : Array.isArray(value) ? 'a list' : `a ${typeof value}`;
}

/** A count (whole number, `min` or more) or a percent string from `min`% to 100%, one decimal at most. */
export function parseAmount(value: unknown, min: 0 | 1): Amount | { issue: string } {
  if (Number.isSafeInteger(value) && (value as number) >= min && (value as number) <= FLEET_LIMITS.maxCount)
    return { kind: 'count', n: value as number };
  if (typeof value === 'string' && PERCENT_RE.test(value)) {
    const p = Number(value.slice(0, -1));
    if (p >= min && p <= 100) return { kind: 'percent', p };
  }
  return {
    issue: `a whole number (${min} or more) or a percent from ${min}% to 100% like "25%" or "12.5%", not ${shown(value)}`,
  };
}

function amount(min: 0 | 1) {
  return z.unknown().transform((value, ctx): Amount => {
    const parsed = parseAmount(value, min);
    if ('issue' in parsed) {
      ctx.addIssue({ code: 'custom', message: parsed.issue });
      return z.NEVER;
    }
    return parsed;
  });
}

function duration(minMs: number, example: string) {
  return z.unknown().transform((value, ctx): number => {
    const ms =
      typeof value === 'number' || (typeof value === 'string' && value.length <= 32)
        ? parseDurationMs(value)
        : undefined;
    if (ms === undefined || ms < minMs || ms > FLEET_LIMITS.maxDurationMs) {
      const range = minMs === 0 ? '0 and 7d' : '1s and 7d';
      ctx.addIssue({ code: 'custom', message: `a duration between ${range} like ${example}, not ${shown(value)}` });
      return z.NEVER;
    }
    return ms;
  });
}

const wholeNumber = z
  .number({ error: 'a whole number (0 or more)' })
  .int({ error: 'a whole number (0 or more)' })
  .min(0, { error: 'a whole number (0 or more)' })
  .max(FLEET_LIMITS.maxCount, { error: `at most ${FLEET_LIMITS.maxCount}` });

const flag = (name: string) => z.boolean({ error: `${name} is true or false` });

const labelsSchema = z
  .record(
    z.string().regex(LABEL_KEY_RE, 'label keys: letters, digits, _ . / -, at most 63'),
    z.string({ error: 'label values are text' }).regex(LABEL_VALUE_RE, 'label values: letters, digits, _ . / : -'),
    { error: 'labels is an object of label: value' },
  )
  .refine((r) => Object.keys(r).length > 0, 'at least one label (all: true targets every agent of the pool)')
  .refine((r) => Object.keys(r).length <= FLEET_LIMITS.maxLabels, `at most ${FLEET_LIMITS.maxLabels} labels`);

const targetsSchema = z.strictObject(
  {
    pool: z
      .string({ error: 'pool is text' })
      .regex(POOL_RE, 'pool: lowercase letters, digits, _ . -, at most 63')
      .optional(),
    labels: labelsSchema.optional(),
    agents: z.unknown().optional(), // checked by agentRefs: a long list gets a short answer
    all: flag('all').optional(),
    continuous: flag('continuous').optional(),
  },
  { error: 'targets is an object: {"labels": {…}}, {"all": true} or {"agents": […]}' },
);

const rolloutSchema = z.strictObject(
  {
    /** Targets at a time: a count, or a percent of all targets rounded up. */
    batch: amount(1).optional(),
    /** batching: a batch starts when the previous one ended; rolling: keep `batch` targets in flight. */
    mode: z.enum(['batching', 'rolling'], { error: 'mode is batching or rolling' }).optional(),
    /** Failures tolerated: one more aborts the rollout. A percent is of all targets, rounded down. */
    maxFailures: amount(0).optional(),
    /** Targets that must have ended (succeeded or failed) before maxFailures is looked at. */
    minSample: wholeNumber.optional(),
    /** How long a due target waits for its offline agent before it ends undelivered. */
    deliveryTimeout: duration(FLEET_LIMITS.minDeliveryTimeoutMs, '10m').optional(),
    /** batching: wait between batches; rolling: bake time before a slot that a target freed is used again. */
    pause: duration(0, '30s').optional(),
    undeliveredCountsAsFailure: flag('undeliveredCountsAsFailure').optional(),
    /** Targets that must succeed for the job to succeed; a percent is of all targets, rounded up. */
    successCriteria: z
      .strictObject({ minSucceeded: amount(0) }, { error: 'successCriteria is {"minSucceeded": N or "N%"}' })
      .optional(),
  },
  { error: 'rollout is an object like {"batch": "25%", "maxFailures": 1}' },
);

/**
 * The fleet fields of a job document, checked together: every problem at once, each with its dotted path
 * (`targets.labels.role`, `rollout.batch`). `jobPool` is the job's pool, the default for `targets.pool`.
 */
export function parseFleetFields(input: { targets?: unknown; rollout?: unknown }, jobPool: string): FleetParseResult {
  const { targets, rollout } = input;
  if (targets === undefined && rollout === undefined) return { ok: true, fleet: null };
  const fields = { ...(targets === undefined ? {} : { targets }), ...(rollout === undefined ? {} : { rollout }) };
  const hostile = hostileText(fields);
  const t = targets === undefined ? undefined : parseTargets(targets, jobPool);
  const r = rolloutSchema.optional().safeParse(rollout);
  const issues = [
    ...(targets === undefined
      ? [{ path: 'rollout', message: 'rollout needs targets (the agents to roll out to)' }]
      : []),
    ...(t && 'issues' in t ? t.issues : []),
    ...(r.success ? [] : schemaIssues(r.error, 'rollout')),
  ];
  if (hostile.length > 0 || issues.length > 0 || !t || 'issues' in t || !r.success)
    return { ok: false, issues: [...hostile, ...issues.filter((i) => !hostile.some((h) => overlaps(h.path, i.path)))] };
  return { ok: true, fleet: { targets: t.selector, rollout: normalizeRollout(r.data) } };
}

function normalizeRollout(data: z.output<typeof rolloutSchema> | undefined): RolloutSpec {
  const d = DEFAULT_ROLLOUT;
  return {
    batch: data?.batch ?? d.batch,
    mode: data?.mode ?? d.mode,
    maxFailures: data?.maxFailures ?? d.maxFailures,
    minSample: data?.minSample ?? d.minSample,
    deliveryTimeoutMs: data?.deliveryTimeout ?? d.deliveryTimeoutMs,
    pauseMs: data?.pause ?? d.pauseMs,
    undeliveredCountsAsFailure: data?.undeliveredCountsAsFailure ?? d.undeliveredCountsAsFailure,
    successCriteria: data?.successCriteria ?? d.successCriteria,
  };
}

function parseTargets(value: unknown, jobPool: string): { selector: TargetSelector } | { issues: FleetIssue[] } {
  const parsed = targetsSchema.safeParse(value);
  if (!parsed.success) return { issues: schemaIssues(parsed.error, 'targets') };
  const { pool = jobPool, labels, agents, all = false, continuous = false } = parsed.data;
  const issues: FleetIssue[] = [];
  const refuse = (field: string, message: string) => issues.push({ path: `targets.${field}`, message });
  if (agents !== undefined && (labels !== undefined || all))
    refuse('agents', 'agents is a list on its own: not with labels or all');
  else if (labels !== undefined && all) refuse('all', 'all: true is every agent of the pool: not with labels');
  else if (agents === undefined && labels === undefined && !all)
    issues.push({
      path: 'targets',
      message: 'say which agents: labels {…}, an agents list, or all: true (the whole pool)',
    });
  if (agents !== undefined && continuous)
    refuse('continuous', 'continuous adds agents that join later: with labels or all, not with an agents list');
  const refs = agents === undefined ? undefined : agentRefs(agents);
  if (refs && 'issues' in refs) issues.push(...refs.issues);
  if (issues.length > 0 || (refs && 'issues' in refs)) return { issues };
  return refs
    ? { selector: { kind: 'agents', pool, agents: refs.refs } }
    : { selector: { kind: 'match', pool, labels: labels ?? {}, continuous } };
}

/** The `agents` list: ids or names, 1 to maxAgents, no entry twice (the issue names the first place it is). */
function agentRefs(value: unknown): { refs: AgentRef[] } | { issues: FleetIssue[] } {
  const at = (i?: number) => (i === undefined ? 'targets.agents' : `targets.agents.${i}`);
  if (!Array.isArray(value))
    return { issues: [{ path: at(), message: 'agents is a list of agent ids (a_…) or names' }] };
  if (value.length === 0) return { issues: [{ path: at(), message: 'agents needs at least one agent' }] };
  if (value.length > FLEET_LIMITS.maxAgents)
    return { issues: [{ path: at(), message: `at most ${FLEET_LIMITS.maxAgents} agents, not ${value.length}` }] };
  const issues: FleetIssue[] = [];
  const refs: AgentRef[] = [];
  const seen = new Map<string, number>();
  for (const [i, entry] of (value as unknown[]).entries()) {
    const message = agentRefIssue(entry, seen.get(entry as string));
    if (message) issues.push({ path: at(i), message });
    else if (typeof entry === 'string' && unstorableReason(entry) === undefined) {
      seen.set(entry, i);
      refs.push(AGENT_ID_RE.test(entry) ? { kind: 'id', id: entry } : { kind: 'name', name: entry });
    }
    if (issues.length >= FLEET_LIMITS.maxAgentIssues) {
      issues.push({ path: at(), message: `more problems after targets.agents.${i}: only the first are listed` });
      break;
    }
  }
  return issues.length > 0 ? { issues } : { refs };
}

function agentRefIssue(entry: unknown, firstAt: number | undefined): string | undefined {
  if (typeof entry !== 'string') return `an agent id (a_…) or name, not ${shown(entry)}`;
  if (unstorableReason(entry) !== undefined) return undefined; // said by unstorableStrings
  if (firstAt !== undefined) return `${shown(entry)} is listed twice (first at targets.agents.${firstAt})`;
  if (AGENT_ID_RE.test(entry) || AGENT_NAME_RE.test(entry)) return undefined;
  return `not an agent id (a_ and 20 lowercase letters or digits) nor a name (1-200 letters, digits, spaces, _ . -): ${shown(entry)}`;
}

/** zod's issues as dotted paths under `root`; an unknown key is named by its own path. */
function schemaIssues(error: z.ZodError, root: string): FleetIssue[] {
  return error.issues.flatMap((issue) => {
    const path = [root, ...issue.path.map((p) => printable(String(p)))].join('.');
    if (issue.code === 'unrecognized_keys')
      return issue.keys.map((key) => ({ path: `${path}.${printable(key)}`, message: 'unknown field' }));
    if (issue.code === 'invalid_key') return [{ path, message: issue.issues[0]?.message ?? issue.message }];
    return [{ path, message: issue.message }];
  });
}

/** Prototype keys, depth and text that cannot be stored; an over-long agents list is refused unread, for its length. */
function hostileText(fields: { targets?: unknown; rollout?: unknown }): FleetIssue[] {
  const t = fields.targets as { agents?: unknown } | null | undefined;
  const long = typeof t === 'object' && Array.isArray(t?.agents) && t.agents.length > FLEET_LIMITS.maxAgents;
  const view = long ? { ...fields, targets: { ...t, agents: [] } } : fields;
  return [...forbiddenKeys(view, []), ...unstorableStrings(view, [], MAX_DEPTH)];
}

/** Keys that would reach an object's prototype (zod records drop them silently), and hostile depth. */
function forbiddenKeys(value: unknown, path: string[]): FleetIssue[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return []; // lists hold text only
  if (path.length > MAX_DEPTH) return [{ path: path.join('.'), message: `nested deeper than ${MAX_DEPTH} levels` }];
  return Object.keys(value).flatMap((key) => {
    const here = [...path, printable(key)];
    if (FORBIDDEN_KEYS.has(key))
      return [{ path: here.join('.'), message: `the key ${JSON.stringify(key)} is not allowed` }];
    return forbiddenKeys((value as Record<string, unknown>)[key], here);
  });
}

function overlaps(a: string, b: string): boolean {
  return a === b || a.startsWith(`${b}.`) || b.startsWith(`${a}.`);
}
