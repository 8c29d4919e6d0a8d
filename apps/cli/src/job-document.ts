import { LIMITS, parseJobSpec } from '@jr/contracts';
import { UsageError } from './cli-error';
import { applyFleetFlags, type FleetFlags } from './fleet-flags';
import type { Pair } from './options';

/** Submit flags that shape the job document. */
export interface JobFlags {
  name?: string;
  pool?: string;
  labels?: readonly Pair[];
  timeout?: string;
  retries?: number;
  env?: readonly Pair[];
  /** Secret values by name (from --secret/--secret-file), merged over the file's `secrets`. */
  secrets?: readonly Pair[];
  shell?: string;
  /** --target, --batch, …: a fleet job's targets and rollout (fleet-flags.ts). */
  fleet?: FleetFlags;
}

export type JobDocument = Record<string, unknown>;

/**
 * The document for `jr submit [flags] -- CMD ARG…` (one argv step, no shell, even when a single
 * argument contains spaces) or `jr submit --shell "string"` (one step run by /bin/sh -c).
 */
export function documentFromCommand(command: readonly string[], flags: JobFlags): JobDocument {
  if (flags.shell !== undefined && command.length > 0) {
    throw new UsageError('give either --shell "string" or a command after --, not both');
  }
  if (flags.shell === undefined && command.length === 0) {
    throw new UsageError('nothing to run: give a command after --, --shell "string", or -f job.yaml');
  }
  const run: string | string[] = flags.shell ?? [...command];
  return applyFlags({ steps: [{ run }] }, flags);
}

/** A job file's document with the flags laid over it: scalars replace, labels and env merge. */
export function documentFromFile(file: unknown, flags: JobFlags): JobDocument {
  if (!isPlainObject(file))
    throw new UsageError('the job file must hold a mapping (name, pool, steps, …) at the top level');
  if (flags.shell !== undefined) throw new UsageError('--shell cannot be combined with -f; put the steps in the file');
  return applyFlags({ ...file }, flags);
}

function applyFlags(doc: JobDocument, flags: JobFlags): JobDocument {
  const out: JobDocument = { ...doc };
  if (flags.name !== undefined) out.name = flags.name;
  if (flags.pool !== undefined) out.pool = flags.pool;
  if (flags.timeout !== undefined) out.timeout = flags.timeout;
  if (flags.retries !== undefined) out.retries = flags.retries;
  if (flags.labels?.length) out.labels = mergePairs(out.labels, flags.labels);
  if (flags.env?.length) out.env = mergePairs(out.env, flags.env);
  if (flags.secrets?.length) out.secrets = mergePairs(out.secrets, flags.secrets);
  return applyFleetFlags(out, flags.fleet);
}

/** Merges flag pairs over the file's record; a file value that is not a record is left for validation to refuse. */
function mergePairs(base: unknown, pairs: readonly Pair[]): unknown {
  if (base !== undefined && !isPlainObject(base)) return base;
  const merged: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [k, v] of Object.entries(base ?? {})) merged[k] = v as string;
  for (const [k, v] of pairs) merged[k] = v;
  return { ...merged };
}

/**
 * Checks the document with the contract's own schema before sending it, so a mistake is reported
 * as `path: message` lines without a round trip; also refuses bodies over the API's limit.
 */
export function validateDocument(doc: JobDocument): string {
  const parsed = parseJobSpec(doc);
  if (!parsed.ok) {
    throw new UsageError(
      'the job is not valid:',
      parsed.issues.map((i) => `  ${i.path}: ${i.message}`),
    );
  }
  const body = JSON.stringify(doc);
  const bytes = Buffer.byteLength(body);
  if (bytes > LIMITS.maxBodyBytes) {
    throw new UsageError(`the job is ${bytes} bytes as JSON; the API takes at most ${LIMITS.maxBodyBytes / 1024} KiB`);
  }
  return body;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}
