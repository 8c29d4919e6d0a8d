import { InvalidArgumentError, Option, type Command } from 'commander';
import { FLEET_LIMITS, parseAmount, parseDurationMs } from '@jr/contracts';
import { UsageError } from './cli-error';
import { collect, parseLabel, type Pair } from './options';

/**
 * `jr submit` flags of a fleet job (CONTRACT "Fleet jobs"): which agents (`targets`) and how many at a time
 * (`rollout`). Values are checked here, one line each (exit 64); the document keeps them as written.
 */
export interface FleetFlags {
  /** --target k=v (repeatable): targets.labels */
  labels?: readonly Pair[];
  /** --target-agent NAME|ID (repeatable): targets.agents */
  agents?: readonly string[];
  /** --all: targets.all */
  all?: boolean;
  continuous?: boolean;
  batch?: number | string;
  mode?: 'batching' | 'rolling';
  maxFailures?: number | string;
  minSample?: number;
  deliveryTimeout?: string;
  pause?: string;
}

/** The options as commander hands them to the action. */
export interface FleetOptions {
  target?: Pair[];
  targetAgent?: string[];
  all?: boolean;
  continuous?: boolean;
  batch?: number | string;
  rollout?: 'batching' | 'rolling';
  maxFailures?: number | string;
  minSample?: number;
  deliveryTimeout?: string;
  pause?: string;
}

/** The rollout flags, by the document field each one sets (named in messages as the flag). */
const ROLLOUT_FLAGS = [
  ['batch', '--batch'],
  ['mode', '--rollout'],
  ['maxFailures', '--max-failures'],
  ['minSample', '--min-sample'],
  ['deliveryTimeout', '--delivery-timeout'],
  ['pause', '--pause'],
] as const;

const TARGET_HINT = '--target k=v, --target-agent NAME or --all (or targets in the job file)';

// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\x00-\x1f\x7f]/;

export function addFleetOptions(cmd: Command): Command {
  const mode = new Option('--rollout <mode>', 'fleet: batching (a batch starts when the last ended) or rolling');
  return cmd
    .option(
      '--target <k=v>',
      'fleet job: run on every agent of the pool with this label (repeatable)',
      collect(parseLabel),
    )
    .option('--target-agent <name|id>', 'fleet job: run on this agent (repeatable)', collectAgent)
    .option('--all', 'fleet job: run on every agent of the pool')
    .option('--continuous', 'fleet job (--target or --all): also run on agents that join while the job runs')
    .option('--batch <n|n%>', 'fleet: targets at a time, a count or a percent of all (default 100%)', parseBatch)
    .addOption(mode.choices(['batching', 'rolling']))
    .option('--max-failures <n|n%>', 'fleet: failures tolerated before the rollout stops (default 0)', parseMaxFailures)
    .option('--min-sample <n>', 'fleet: targets that must end before --max-failures is looked at', parseMinSample)
    .option(
      '--delivery-timeout <duration>',
      'fleet: how long a target waits for its offline agent (10m)',
      parseDelivery,
    )
    .option(
      '--pause <duration>',
      'fleet: wait between batches (rolling: before a freed slot is used again)',
      parsePause,
    );
}

/** The commander options as FleetFlags (undefined fields for flags not given). */
export function fleetFlagsOf(opts: FleetOptions): FleetFlags {
  return {
    labels: opts.target,
    agents: opts.targetAgent,
    all: opts.all,
    continuous: opts.continuous,
    batch: opts.batch,
    mode: opts.rollout,
    maxFailures: opts.maxFailures,
    minSample: opts.minSample,
    deliveryTimeout: opts.deliveryTimeout,
    pause: opts.pause,
  };
}

function collectAgent(value: string, previous: readonly string[] | undefined): string[] {
  if (value.trim() === '' || CONTROL_RE.test(value) || value.length > 200)
    throw new InvalidArgumentError('expected an agent name or id (a_…).');
  return [...(previous ?? []), value];
}

/** `3` or `25%`: the count as a number (as a job file has it), the percent as text. */
function amountFlag(value: string, min: 0 | 1): number | string {
  const text = value.trim();
  const raw = /^\d+$/.test(text) ? Number(text) : text;
  const parsed = parseAmount(raw, min);
  if ('issue' in parsed) throw new InvalidArgumentError(`expected ${parsed.issue}.`);
  return raw;
}

export function parseBatch(value: string): number | string {
  return amountFlag(value, 1);
}

export function parseMaxFailures(value: string): number | string {
  return amountFlag(value, 0);
}

export function parseMinSample(value: string): number {
  const text = value.trim();
  const n = /^\d{1,7}$/.test(text) ? Number(text) : NaN;
  if (!(n <= FLEET_LIMITS.maxCount))
    throw new InvalidArgumentError(`expected a whole number from 0 to ${FLEET_LIMITS.maxCount}.`);
  return n;
}

function durationFlag(value: string, minMs: number, example: string): string {
  const ms = parseDurationMs(value);
  if (ms === undefined || ms < minMs || ms > FLEET_LIMITS.maxDurationMs)
    throw new InvalidArgumentError(`expected a duration from ${minMs === 0 ? '0s' : '1s'} to 7d, such as ${example}.`);
  return value.trim();
}

export function parseDelivery(value: string): string {
  return durationFlag(value, FLEET_LIMITS.minDeliveryTimeoutMs, '10m');
}

export function parsePause(value: string): string {
  return durationFlag(value, 0, '30s');
}

/**
 * The fleet flags laid over a document (a job file's, or the one built from a command): a selector flag
 * replaces the file's selector (its `targets.pool` is kept), rollout flags replace the file's fields one by
 * one. `targets.pool` is never set from --pool: the job's pool applies.
 */
export function applyFleetFlags(doc: Record<string, unknown>, flags: FleetFlags | undefined): Record<string, unknown> {
  if (!flags) return doc;
  const selector = selectorOf(flags);
  const rollout = rolloutOf(flags);
  if (!selector && !flags.continuous && Object.keys(rollout).length === 0) return doc;
  const out = { ...doc };
  if (selector) out.targets = { ...poolOf(doc.targets), ...selector };
  if (flags.continuous) out.targets = withContinuous(out.targets, flags);
  if (out.targets === undefined) {
    const first = ROLLOUT_FLAGS.find(([field]) => field in rollout)?.[1] ?? '--continuous';
    throw new UsageError(`${first} is for a fleet job: say which agents with ${TARGET_HINT}`);
  }
  if (Object.keys(rollout).length > 0)
    out.rollout = isPlainObject(doc.rollout) ? { ...doc.rollout, ...rollout } : rollout;
  if (isPlainObject(out.labels) && Object.keys(out.labels).length > 0)
    throw new UsageError('a fleet job picks its agents with --target k=v (targets.labels), not --label/labels');
  return out;
}

/** The selector the flags give, or undefined; two kinds at once is a usage error. */
function selectorOf(flags: FleetFlags): Record<string, unknown> | undefined {
  const given = [
    flags.labels?.length ? '--target' : undefined,
    flags.agents?.length ? '--target-agent' : undefined,
    flags.all ? '--all' : undefined,
  ].filter((f) => f !== undefined);
  if (given.length > 1)
    throw new UsageError(`${given.join(' and ')}: give one of --target k=v (repeatable), --target-agent or --all`);
  if (flags.labels?.length) return { labels: pairsToRecord(flags.labels) };
  if (flags.agents?.length) return { agents: [...new Set(flags.agents)] };
  return flags.all ? { all: true } : undefined;
}

function withContinuous(targets: unknown, flags: FleetFlags): unknown {
  if (targets === undefined) return undefined;
  if (flags.agents?.length || (isPlainObject(targets) && targets.agents !== undefined))
    throw new UsageError('--continuous adds agents that join later: with --target or --all, not a list of agents');
  return isPlainObject(targets) ? { ...targets, continuous: true } : targets;
}

function rolloutOf(flags: FleetFlags): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [field] of ROLLOUT_FLAGS) if (flags[field] !== undefined) out[field] = flags[field];
  return out;
}

function poolOf(targets: unknown): Record<string, unknown> {
  return isPlainObject(targets) && targets.pool !== undefined ? { pool: targets.pool } : {};
}

function pairsToRecord(pairs: readonly Pair[]): Record<string, string> {
  const out = Object.create(null) as Record<string, string>;
  for (const [k, v] of pairs) out[k] = v;
  return { ...out };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}
