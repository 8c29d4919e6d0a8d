import type { pb } from '@jr/contracts';
import type { TraceCarrier } from '@jr/telemetry';
import { z } from 'zod';
import type { AttemptRef, Completion } from './reporter';

/** One attempt event as the outbox keeps it (the runner's pb.AttemptEvent, normalised). */
export interface OutboxEvent {
  seq: number;
  atMs: number;
  kind: 'stepStarted' | 'stepFinished' | 'log';
  stepStarted?: { step: number; name: string; try: number };
  stepFinished?: { step: number; exitCode: number; signal: string; outcome: string };
  log?: { step: number; stream: string; data: Buffer };
  /** Set on a gap marker: the log bytes it stands for (dropped because the outbox was full). */
  gapBytes?: number;
}

export type SettleStatus = 'completed' | 'superseded' | 'dropped' | 'orphaned';

/** What the outbox journal holds, one record each. */
export type OutboxRecord =
  /**
   * An event to report, in seq order per attempt. `trace`: the attempt span's W3C context, so the
   * Report spans continue the job's trace even when they are sent after a restart.
   */
  | { type: 'event'; ref: AttemptRef; event: OutboxEvent; trace?: TraceCarrier }
  /** The attempt's outcome, sent once every event before it is acknowledged. */
  | { type: 'complete'; ref: AttemptRef; completion: Completion; trace?: TraceCarrier }
  /** The API holds this attempt's events up to `seq`. */
  | { type: 'acked'; jobId: string; attempt: number; seq: number }
  /** Nothing more of this attempt will be sent. */
  | { type: 'settled'; jobId: string; attempt: number; status: SettleStatus };

const VERSION = 1;
const TYPE_CODES = { event: 0x45, complete: 0x43, acked: 0x41, settled: 0x53 } as const;
const HEAD_BYTES = 6;
const MAX_HEADER_BYTES = 64 * 1024;

const int = (min: number) => z.number().int().min(min).max(Number.MAX_SAFE_INTEGER);
const text = (max: number) => z.string().max(max);
const ref = z.strictObject({
  jobId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/),
  attempt: int(0),
  leaseToken: text(512),
});
const key = { jobId: ref.shape.jobId, attempt: int(0) };
/**
 * A trace carrier is only a hint: one that is malformed is forgotten, never a reason to lose the record
 * (telemetry's extractFromCarrier sanitises it again where it is used).
 */
const trace = z
  .partialRecord(z.enum(['traceparent', 'tracestate']), z.string().max(8_192))
  .optional()
  .catch(undefined);

const eventHeader = z.strictObject({
  ref,
  seq: int(1),
  atMs: int(0),
  kind: z.enum(['stepStarted', 'stepFinished', 'log']),
  stepStarted: z.strictObject({ step: int(0), name: text(4096), try: int(0) }).optional(),
  stepFinished: z
    .strictObject({ step: int(0), exitCode: z.number().int(), signal: text(64), outcome: text(64) })
    .optional(),
  log: z.strictObject({ step: int(0), stream: text(16) }).optional(),
  gapBytes: int(0).optional(),
  trace,
});

const OUTCOMES = [
  'OUTCOME_UNSPECIFIED',
  'OUTCOME_SUCCEEDED',
  'OUTCOME_FAILED',
  'OUTCOME_TIMED_OUT',
  'OUTCOME_CANCELLED',
] as const;
const completeHeader = z.strictObject({
  ref,
  completion: z.strictObject({
    outcome: z.enum(OUTCOMES),
    exitCode: z.number().int(),
    reason: text(200),
    startedAtMs: int(0),
    endedAtMs: int(0),
    lastSeq: int(0),
  }),
  trace,
});
const ackedHeader = z.strictObject({ ...key, seq: int(0) });
const settledHeader = z.strictObject({ ...key, status: z.enum(['completed', 'superseded', 'dropped', 'orphaned']) });

/** Bytes: [version][type][u32 header length][JSON header][payload: log data of an event]. */
export function encodeRecord(record: OutboxRecord): Buffer {
  const { header, payload } = split(record);
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const head = Buffer.alloc(HEAD_BYTES);
  head.writeUInt8(VERSION, 0);
  head.writeUInt8(TYPE_CODES[record.type], 1);
  head.writeUInt32LE(json.length, 2);
  return Buffer.concat([head, json, payload]);
}

function split(record: OutboxRecord): { header: unknown; payload: Buffer } {
  switch (record.type) {
    case 'event': {
      const { log, ...rest } = record.event;
      const header = {
        ref: record.ref,
        ...rest,
        ...(log ? { log: { step: log.step, stream: log.stream } } : {}),
        ...traceField(record.trace),
      };
      return { header, payload: log?.data ?? Buffer.alloc(0) };
    }
    case 'complete':
      return {
        header: { ref: record.ref, completion: record.completion, ...traceField(record.trace) },
        payload: Buffer.alloc(0),
      };
    case 'acked':
      return { header: { jobId: record.jobId, attempt: record.attempt, seq: record.seq }, payload: Buffer.alloc(0) };
    case 'settled':
      return {
        header: { jobId: record.jobId, attempt: record.attempt, status: record.status },
        payload: Buffer.alloc(0),
      };
  }
}

/** Only a carrier with something in it is written (telemetry disabled: none). */
function traceField(carrier: Partial<TraceCarrier> | undefined): { trace?: TraceCarrier } {
  return carrier && typeof carrier.traceparent === 'string' ? { trace: carrier as TraceCarrier } : {};
}

export class OutboxRecordError extends Error {
  override readonly name = 'OutboxRecordError';
}

/** Decodes a record; throws OutboxRecordError on anything it did not write. */
export function decodeRecord(buf: Buffer): OutboxRecord {
  if (buf.length < HEAD_BYTES) throw new OutboxRecordError(`record of ${buf.length} bytes is shorter than its head`);
  if (buf.readUInt8(0) !== VERSION) throw new OutboxRecordError(`unknown record version ${buf.readUInt8(0)}`);
  const length = buf.readUInt32LE(2);
  if (length > MAX_HEADER_BYTES || HEAD_BYTES + length > buf.length)
    throw new OutboxRecordError(`bad header length ${length}`);
  let header: unknown;
  try {
    header = JSON.parse(buf.subarray(HEAD_BYTES, HEAD_BYTES + length).toString('utf8'));
  } catch {
    throw new OutboxRecordError('header is not JSON');
  }
  const payload = buf.subarray(HEAD_BYTES + length);
  return decodeTyped(buf.readUInt8(1), header, payload);
}

function decodeTyped(type: number, header: unknown, payload: Buffer): OutboxRecord {
  switch (type) {
    case TYPE_CODES.event: {
      const h = parse(eventHeader, header);
      if (!h[h.kind]) throw new OutboxRecordError(`event of kind ${h.kind} without its body`);
      const { ref: r, log, trace: carrier, ...event } = h;
      return {
        type: 'event',
        ref: r,
        event: { ...event, ...(log ? { log: { ...log, data: Buffer.from(payload) } } : {}) },
        ...traceField(carrier),
      };
    }
    case TYPE_CODES.complete: {
      const h = parse(completeHeader, header);
      return { type: 'complete', ref: h.ref, completion: h.completion, ...traceField(h.trace) };
    }
    case TYPE_CODES.acked:
      return { type: 'acked', ...parse(ackedHeader, header) };
    case TYPE_CODES.settled:
      return { type: 'settled', ...parse(settledHeader, header) };
    default:
      throw new OutboxRecordError(`unknown record type ${type}`);
  }
}

function parse<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success)
    throw new OutboxRecordError(
      `malformed record: ${r.error.issues.map((i) => i.path.join('.') || '(root)').join(', ')}`,
    );
  return r.data;
}

/** The runner's event as the outbox keeps it. */
export function toOutboxEvent(e: pb.AttemptEvent): OutboxEvent {
  const base = { seq: Number(e.seq ?? 0), atMs: Number(e.atMs ?? 0) };
  if (e.log) {
    const data = e.log.data;
    const buf = Buffer.isBuffer(data)
      ? data
      : typeof data === 'string'
        ? Buffer.from(data, 'utf8')
        : Buffer.from(data ?? []);
    return { ...base, kind: 'log', log: { step: e.log.step ?? 0, stream: e.log.stream ?? 'stdout', data: buf } };
  }
  if (e.stepStarted) {
    const s = e.stepStarted;
    return { ...base, kind: 'stepStarted', stepStarted: { step: s.step ?? 0, name: s.name ?? '', try: s.try ?? 1 } };
  }
  const f = e.stepFinished ?? {};
  return {
    ...base,
    kind: 'stepFinished',
    stepFinished: { step: f.step ?? 0, exitCode: f.exitCode ?? 0, signal: f.signal ?? '', outcome: f.outcome ?? '' },
  };
}

/** What Report carries (gap markers are ordinary log chunks there). */
export function toProtoEvent(e: OutboxEvent): pb.AttemptEvent {
  const { gapBytes: _gap, ...event } = e;
  return event;
}

/** Bytes an event costs in memory and on disk, roughly (its record and the journal's framing). */
export function eventCost(e: OutboxEvent): number {
  return 160 + (e.log?.data.length ?? 0) + (e.stepStarted?.name.length ?? 0);
}

/** The text a gap marker carries in place of the dropped chunks. */
export function gapText(bytes: number): Buffer {
  return Buffer.from(
    `\n[jr-agent: ${bytes} bytes of output dropped here: the agent's outbox was full while the API could not be reached]\n`,
  );
}
