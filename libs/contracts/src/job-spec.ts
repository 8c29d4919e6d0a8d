import { z } from 'zod';
import { parseDurationMs } from './duration';
import { parseFleetFields, type FleetSpec } from './fleet-spec';
import type { JobSpec } from './generated/jobrunner/v1/JobSpec';
import { jobSignatureSchema, type JobSignature } from './job-signature';
import { printable, unstorableStrings } from './storable-text';

/** Input limits: anything larger is refused with a clear error rather than stored. */
export const LIMITS = {
  maxBodyBytes: 256 * 1024,
  maxSteps: 100,
  maxRunBytes: 64 * 1024,
  maxArgs: 1024,
  maxLabels: 32,
  maxEnv: 256,
  maxEnvValueBytes: 32 * 1024,
  maxUses: 32,
  maxTimeoutMs: 7 * 24 * 3_600_000,
  maxRetries: 10,
  maxIdempotencyKeyLength: 200,
  maxSecrets: 64,
  /** UTF-8 bytes of one secret value (a PEM key or a kubeconfig fits). */
  maxSecretValueBytes: 16 * 1024,
  /**
   * Shortest secret value accepted. Masking a 3-letter value would blank every "dev" in the output and
   * tell a reader where it stands; values this short are refused rather than half-protected.
   */
  minSecretLength: 6,
} as const;

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.\- ]{0,199}$/;
/** Pools name queues: no ':' (BullMQ), no spaces. */
export const POOL_RE = /^[a-z0-9][a-z0-9_.-]{0,62}$/;
const LABEL_KEY_RE = /^[A-Za-z0-9][A-Za-z0-9_./-]{0,62}$/;
const LABEL_VALUE_RE = /^[A-Za-z0-9_./:-]{0,63}$/;
const ENV_KEY_RE = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const RESERVED_ENV = new Set(['JR_JOB_ID', 'JR_ATTEMPT']);

const duration = z.union([z.string().max(32), z.number()]).transform((value, ctx) => {
  const ms = parseDurationMs(value);
  if (ms === undefined || ms <= 0 || ms > LIMITS.maxTimeoutMs) {
    ctx.addIssue({
      code: 'custom',
      message: `not a duration between 1ms and 7d (use 90s, 5m, 1h or seconds): ${JSON.stringify(value)}`,
    });
    return z.NEVER;
  }
  return ms;
});

const retries = z.number().int().min(0).max(LIMITS.maxRetries);

const labels = z
  .record(
    z.string().regex(LABEL_KEY_RE, 'label keys: letters, digits, _ . / -, at most 63'),
    z.string().regex(LABEL_VALUE_RE, 'label values: letters, digits, _ . / : -, at most 63'),
  )
  .refine((r) => Object.keys(r).length <= LIMITS.maxLabels, `at most ${LIMITS.maxLabels} labels`);

const env = z
  .record(
    z
      .string()
      .regex(ENV_KEY_RE, 'environment names: letters, digits and _, not starting with a digit')
      .refine((k) => !RESERVED_ENV.has(k), 'JR_JOB_ID and JR_ATTEMPT are set by jobrunner'),
    z.string().max(LIMITS.maxEnvValueBytes),
  )
  .refine((r) => Object.keys(r).length <= LIMITS.maxEnv, `at most ${LIMITS.maxEnv} environment variables`);

/**
 * Write-only values the steps see as environment variables: names as for `env` (and not also in `env`),
 * values at least `minSecretLength` characters. Never shown again (answers list the names only).
 */
const secrets = z
  .record(
    // names are checked in jobSpecSchema's refinement, where the message can say what is wrong
    z.string(),
    z
      .string()
      .min(
        LIMITS.minSecretLength,
        `secret values need at least ${LIMITS.minSecretLength} characters (masking shorter ones means nothing)`,
      )
      .refine(
        (v) => Buffer.byteLength(v, 'utf8') <= LIMITS.maxSecretValueBytes,
        `secret values: at most ${LIMITS.maxSecretValueBytes} bytes`,
      ),
  )
  .refine((r) => Object.keys(r).length <= LIMITS.maxSecrets, `at most ${LIMITS.maxSecrets} secrets`);

/** Every string value of a parsed job, and the names in env and labels: a secret's value must not be among them. */
function stringsOf(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (typeof value !== 'object' || value === null) return [];
  return Object.values(value).flatMap(stringsOf);
}

function secretNameIssue(name: string, env: Record<string, string> | undefined): string | undefined {
  if (!ENV_KEY_RE.test(name)) return 'secret names: letters, digits and _, not starting with a digit';
  if (RESERVED_ENV.has(name)) return 'JR_JOB_ID and JR_ATTEMPT are set by jobrunner';
  if (env && Object.hasOwn(env, name)) return 'also set in env: a name is env or a secret';
  return undefined;
}

// NUL and unpaired surrogates are refused for every string at once, by parseJobSpec (storable-text.ts)
const run = z.union([
  z.string().min(1, 'run cannot be empty').max(LIMITS.maxRunBytes),
  z.array(z.string().max(LIMITS.maxRunBytes)).min(1, 'run needs at least the program').max(LIMITS.maxArgs),
]);

/** Steps the agent runs itself, without a process: `noop` (what canary jobs run). */
export const BUILTIN_STEPS = ['noop'] as const;

export const stepSchema = z
  .strictObject({
    name: z.string().regex(NAME_RE, 'step names: up to 200 letters, digits, spaces, _ . -').optional(),
    run: run.optional(),
    builtin: z.enum(BUILTIN_STEPS, { error: `builtin is one of ${BUILTIN_STEPS.join(', ')}` }).optional(),
    timeout: duration.optional(),
    retries: retries.optional(),
  })
  .refine((s) => (s.run === undefined) !== (s.builtin === undefined), {
    message: 'a step has run (a command) or builtin, exactly one',
  });

export const artifactSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: 'uses[].url must be an http(s) URL' }).max(2048),
  sha256: z.string().regex(/^[a-f0-9]{64}$/, 'sha256 must be 64 lowercase hex digits'),
});

/** The job document of the contract (`POST /v1/jobs`, and `jr submit -f job.yaml`). */
export const jobSpecSchema = z
  .strictObject({
    name: z.string().regex(NAME_RE, 'name: up to 200 letters, digits, spaces, _ . -').optional(),
    pool: z.string().regex(POOL_RE, 'pool: lowercase letters, digits, _ . -, at most 63').optional(),
    labels: labels.optional(),
    timeout: duration.optional(),
    retries: retries.optional(),
    env: env.optional(),
    secrets: secrets.optional(),
    uses: z.array(artifactSchema).max(LIMITS.maxUses).optional(),
    steps: z.array(stepSchema).min(1, 'a job needs at least one step').max(LIMITS.maxSteps),
    /** The submitter's Ed25519 signature (job-signature.ts): stored with the job, passed on unchanged. */
    signature: jobSignatureSchema.optional(),
    /** Never run twice: an attempt whose agent vanished ends the job `failed`, reason `lost`, instead of a rerun. */
    atMostOnce: z.boolean({ error: 'atMostOnce is true or false' }).optional(),
    /** A synthetic job of the API's own canaries: kept out of lists by default, pruned, measured. */
    canary: z.boolean({ error: 'canary is true or false' }).optional(),
    /** A fleet job: run once on every target agent, with rollout control (fleet-spec.ts checks both). */
    targets: z.unknown().optional(),
    rollout: z.unknown().optional(),
  })
  .superRefine((spec, ctx) => {
    const { secrets: values = {}, ...rest } = spec;
    const texts =
      Object.keys(values).length > 0
        ? [...stringsOf(rest), ...Object.keys(rest.env ?? {}), ...Object.keys(rest.labels ?? {})]
        : [];
    for (const [name, value] of Object.entries(values)) {
      const message =
        secretNameIssue(name, spec.env) ??
        (texts.some((t) => t.includes(value))
          ? 'its value is also written elsewhere in the job, which is stored and shown as written'
          : undefined);
      if (message) ctx.addIssue({ code: 'custom', path: ['secrets', name], message });
    }
  });

export type JobSpecInput = z.input<typeof jobSpecSchema>;
export type ParsedJobSpec = z.output<typeof jobSpecSchema>;

/** The normalized job as stored and dispatched: defaults applied, durations in ms. */
export interface NormalizedJob {
  name: string;
  pool: string;
  labels: Record<string, string>;
  timeoutMs: number;
  retries: number;
  env: Record<string, string>;
  /** Names of the job's secrets, sorted; absent when it has none. The values never travel in the job. */
  secrets?: string[];
  uses: Array<{ url: string; sha256: string }>;
  /** Each step has run (a command) or builtin. */
  steps: Array<{ name: string; run?: string | string[]; builtin?: 'noop'; timeoutMs: number; retries: number }>;
  /** Absent on an unsigned job. */
  signature?: JobSignature;
  /** Set (true) on an at-most-once job; absent otherwise, so other jobs' stored form is unchanged. */
  atMostOnce?: true;
  /** Set (true) on a canary job; absent otherwise. */
  canary?: true;
  /** Set on a fleet job: its targets and rollout, normalized (absent on a job for one agent). */
  fleet?: FleetSpec;
}

export interface SpecIssue {
  path: string;
  message: string;
}

/** `secrets`: the values by name (plaintext, in memory only: the API seals them before anything is written). */
export type ParseResult =
  { ok: true; job: NormalizedJob; secrets: Record<string, string> } | { ok: false; issues: SpecIssue[] };

/**
 * The one way in for a job document (POST /v1/jobs, `jr submit`): hostile shapes first (prototype
 * keys, depth, strings Postgres cannot store — NUL and unpaired surrogates, in any key or value of any
 * field), then the schema.
 */
export function parseJobSpec(input: unknown): ParseResult {
  const forbidden = forbiddenKeys(input, []);
  if (forbidden.length > 0) return { ok: false, issues: forbidden };
  const unstorable = unstorableStrings(input, [], MAX_DEPTH);
  const parsed = jobSpecSchema.safeParse(input);
  if (!parsed.success || unstorable.length > 0) {
    // every issue at once; a field whose text cannot be stored is named for that, not for its pattern too
    const named = new Set(unstorable.map((i) => i.path));
    const schemaIssues = (parsed.error?.issues ?? []).map((i) => ({
      path: i.path.map((p) => printable(String(p))).join('.') || '(root)',
      message: i.message,
    }));
    return {
      ok: false,
      issues: [
        ...unstorable,
        ...schemaIssues.filter(
          (i) => ![...named].some((n) => n === i.path || n.startsWith(`${i.path}.`) || i.path.startsWith(`${n}.`)),
        ),
      ],
    };
  }
  const fleet = fleetOf(parsed.data);
  if (!fleet.ok) return { ok: false, issues: fleet.issues };
  const job = normalize(parsed.data);
  return { ok: true, job: fleet.fleet ? { ...job, fleet: fleet.fleet } : job, secrets: { ...parsed.data.secrets } };
}

/** The fleet fields, checked with the job they belong to: one pool, and targets that say which agents. */
function fleetOf(spec: ParsedJobSpec): { ok: true; fleet: FleetSpec | null } | { ok: false; issues: SpecIssue[] } {
  if (spec.targets === undefined && spec.rollout === undefined) return { ok: true, fleet: null };
  const r = parseFleetFields({ targets: spec.targets, rollout: spec.rollout }, spec.pool ?? 'default');
  if (!r.ok) return r;
  const issues: SpecIssue[] = [];
  if (r.fleet && spec.pool !== undefined && r.fleet.targets.pool !== spec.pool)
    issues.push({ path: 'targets.pool', message: `the job names pool ${spec.pool}: give the pool once` });
  if (r.fleet && spec.labels !== undefined && Object.keys(spec.labels).length > 0)
    issues.push({ path: 'labels', message: 'a fleet job picks its agents with targets.labels, not labels' });
  return issues.length > 0 ? { ok: false, issues } : r;
}

/** Keys that would reach an object's prototype: refused, not silently dropped (zod records drop them). */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** A job document is a few levels deep; anything far deeper is hostile. */
const MAX_DEPTH = 16;

function forbiddenKeys(value: unknown, path: string[]): SpecIssue[] {
  if (typeof value !== 'object' || value === null) return [];
  if (path.length > MAX_DEPTH) return [{ path: path.join('.'), message: `nested deeper than ${MAX_DEPTH} levels` }];
  const issues: SpecIssue[] = [];
  for (const key of Object.keys(value)) {
    const here = [...path, printable(key)];
    if (FORBIDDEN_KEYS.has(key))
      issues.push({ path: here.join('.'), message: `the key ${JSON.stringify(key)} is not allowed` });
    else issues.push(...forbiddenKeys((value as Record<string, unknown>)[key], here));
  }
  return issues;
}

function normalize(spec: ParsedJobSpec): NormalizedJob {
  const secretNames = Object.keys(spec.secrets ?? {}).sort();
  return {
    name: spec.name ?? defaultName(spec.steps[0]?.run ?? spec.steps[0]?.builtin),
    pool: spec.pool ?? targetsPool(spec.targets) ?? 'default',
    labels: spec.labels ?? {},
    timeoutMs: spec.timeout ?? 0,
    retries: spec.retries ?? 0,
    env: spec.env ?? {},
    ...(secretNames.length > 0 ? { secrets: secretNames } : {}),
    uses: spec.uses ?? [],
    steps: spec.steps.map((s, i) => ({
      name: s.name ?? `step-${i + 1}`,
      ...(s.run !== undefined ? { run: s.run } : { builtin: s.builtin }),
      timeoutMs: s.timeout ?? 0,
      retries: s.retries ?? 0,
    })),
    ...(spec.signature ? { signature: spec.signature } : {}),
    ...(spec.atMostOnce === true ? { atMostOnce: true as const } : {}),
    ...(spec.canary === true ? { canary: true as const } : {}),
  };
}

function defaultName(run: string | string[] | undefined): string {
  const text = Array.isArray(run) ? run.join(' ') : (run ?? 'job');
  const cleaned = text
    .replace(/[^A-Za-z0-9_.\- ]+/g, ' ')
    .trim()
    .slice(0, 60);
  return cleaned.length > 0 && /^[A-Za-z0-9]/.test(cleaned) ? cleaned : 'job';
}

/** The job as the agent protocol carries it. */
export function toProtoSpec(job: NormalizedJob): JobSpec {
  return {
    name: job.name,
    pool: job.pool,
    labels: job.labels,
    timeoutMs: job.timeoutMs,
    env: job.env,
    uses: job.uses,
    steps: job.steps.map((s) => ({
      name: s.name,
      ...(s.builtin !== undefined
        ? { builtin: s.builtin }
        : Array.isArray(s.run)
          ? { argv: { args: s.run } }
          : { shell: s.run ?? '' }),
      timeoutMs: s.timeoutMs,
      retries: s.retries,
    })),
    ...(job.signature ? { signature: job.signature } : {}),
  };
}

/** True when an agent with `agentLabels` may run a job asking for `jobLabels`. */
export function labelsSatisfy(agentLabels: Record<string, string>, jobLabels: Record<string, string>): boolean {
  return Object.entries(jobLabels).every(([k, v]) => agentLabels[k] === v);
}

/** A fleet job without its own pool runs in its targets' pool. */
function targetsPool(targets: unknown): string | undefined {
  const pool = (targets as { pool?: unknown } | undefined)?.pool;
  return typeof pool === 'string' ? pool : undefined;
}
