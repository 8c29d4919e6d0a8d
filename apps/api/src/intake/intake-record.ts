import { createHash } from 'node:crypto';
import { JOB_ID_RE, type NormalizedJob } from '@jr/contracts';
import type { TraceCarrier } from '@jr/telemetry';

/** Who submitted (the audit row's actor): the bootstrap admin or an API token, and the client address. */
export interface RecordActor {
  id: string;
  name: string | null;
  address: string | null;
}

/** What the intake journal holds for each accepted submission. */
export interface SubmittedRecord {
  type: 'job.submitted';
  id: string;
  job: NormalizedJob;
  idempotencyKey: string | null;
  requestHash: string;
  /** The job's secrets sealed (secret-box.ts envelopes) by name; absent when it has none. Never plaintext. */
  secrets?: Record<string, string>;
  at: number;
  /** W3C context of the journal-append span (absent in records written before tracing): the relay continues it. */
  trace?: TraceCarrier;
  /** The submitter, for the audit row the relay writes with the job row (absent in records written before the audit log). */
  actor?: RecordActor;
}

export function encodeRecord(r: SubmittedRecord): Buffer {
  return Buffer.from(JSON.stringify(r), 'utf8');
}

/** Decodes and re-checks a journal record; throws on anything that is not one we wrote. */
export function decodeRecord(data: Buffer): SubmittedRecord {
  const r = JSON.parse(data.toString('utf8')) as Partial<SubmittedRecord>;
  if (
    r.type !== 'job.submitted' ||
    typeof r.id !== 'string' ||
    !JOB_ID_RE.test(r.id) ||
    typeof r.at !== 'number' ||
    typeof r.requestHash !== 'string'
  ) {
    throw new Error('not a job.submitted record');
  }
  if (r.idempotencyKey !== null && typeof r.idempotencyKey !== 'string')
    throw new Error('bad idempotencyKey in record');
  if (typeof r.job !== 'object' || r.job === null || !Array.isArray(r.job.steps)) throw new Error('bad job in record');
  if (r.secrets !== undefined && !isStringRecord(r.secrets)) throw new Error('bad secrets in record');
  const { trace, actor, ...rest } = r as SubmittedRecord & { trace?: unknown; actor?: unknown };
  // tolerant: a missing or malformed carrier only loses the trace link (extractFromCarrier checks the values)
  const withTrace = isCarrierShaped(trace) ? { ...rest, trace } : rest;
  return isActorShaped(actor) ? { ...withTrace, actor } : withTrace;
}

function isActorShaped(value: unknown): value is RecordActor {
  const a = value as Partial<RecordActor> | null;
  return (
    typeof a === 'object' &&
    a !== null &&
    typeof a.id === 'string' &&
    (a.name === null || typeof a.name === 'string') &&
    (a.address === null || typeof a.address === 'string')
  );
}

function isCarrierShaped(value: unknown): value is TraceCarrier {
  return isStringRecord(value);
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((v) => typeof v === 'string')
  );
}

/**
 * Same job document => same hash, whatever the key order of the request. The signature is left out:
 * `jr submit` signs anew (a new notAfter) each time, and a repeat with the same Idempotency-Key is the
 * same job, not a conflict. (With secrets: SecretsService.requestHash over unsignedJson.)
 */
export function requestHash(job: NormalizedJob): string {
  return createHash('sha256')
    .update(canonicalJson(unsignedJob(job)))
    .digest('hex');
}

/** The job without its signature: what a repeated submission must match. */
export function unsignedJob(job: NormalizedJob): Omit<NormalizedJob, 'signature'> {
  const { signature: _signature, ...unsigned } = job;
  return unsigned;
}

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

const IDEMPOTENCY_KEY_RE = /^[\x20-\x7e]{1,200}$/;

/** The Idempotency-Key header: absent, or 1-200 printable ASCII characters. */
export function parseIdempotencyKey(
  header: string | string[] | undefined,
): { ok: true; key: string | null } | { ok: false; message: string } {
  if (header === undefined) return { ok: true, key: null };
  if (Array.isArray(header)) return { ok: false, message: 'send one Idempotency-Key header' };
  if (!IDEMPOTENCY_KEY_RE.test(header))
    return { ok: false, message: 'Idempotency-Key must be 1-200 printable ASCII characters' };
  return { ok: true, key: header };
}
