import { createHash } from 'node:crypto';
import { JOB_ID_RE, type NormalizedJob } from '@jr/contracts';
import type { TraceCarrier } from '@jr/telemetry';

/** What the intake journal holds for each accepted submission. */
export interface SubmittedRecord {
  type: 'job.submitted';
  id: string;
  job: NormalizedJob;
  idempotencyKey: string | null;
  requestHash: string;
  at: number;
  /** W3C context of the journal-append span (absent in records written before tracing): the relay continues it. */
  trace?: TraceCarrier;
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
  const { trace, ...rest } = r as SubmittedRecord & { trace?: unknown };
  // tolerant: a missing or malformed carrier only loses the trace link (extractFromCarrier checks the values)
  return isCarrierShaped(trace) ? { ...rest, trace } : rest;
}

function isCarrierShaped(value: unknown): value is TraceCarrier {
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
 * same job, not a conflict.
 */
export function requestHash(job: NormalizedJob): string {
  const { signature: _signature, ...unsigned } = job;
  return createHash('sha256').update(canonicalJson(unsigned)).digest('hex');
}

function canonicalJson(value: unknown): string {
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
