import { z } from 'zod';
import { JOB_ID_RE } from '@jr/contracts';
import type { AttemptOutcome, ReportEvent } from '../jobs/attempt-writes';

/**
 * What the results journal holds: one record per accepted Report (its events) or Complete. `late`
 * marks a result for an attempt that had already ended lost (applied as `superseded`). `at` is when
 * the API accepted it; the relay uses it as "now", so a replay writes the same timestamps.
 */
interface Base {
  jobId: string;
  attempt: number;
  agentId: string;
  leaseToken: string;
  late: boolean;
  at: number;
}

export interface ReportRecord extends Base {
  type: 'report';
  events: ReportEvent[];
}

export interface CompleteRecord extends Base {
  type: 'complete';
  outcome: AttemptOutcome;
}

export type ResultRecord = ReportRecord | CompleteRecord;

/*
 * Encoding: "JRR" | version 1 | u32 LE length of a JSON header | the header | the events' data blobs
 * back to back (header events carry `len`, -1 for none). Log data stays binary, without base64.
 */
const MAGIC = Buffer.from([0x4a, 0x52, 0x52, 0x01]);
const PREFIX_BYTES = 8;

export function encodeResult(r: ResultRecord): Buffer {
  const blobs: Buffer[] = [];
  const event = ({ data, ...e }: ReportEvent) => {
    if (data) blobs.push(data);
    return { ...e, at: e.at.getTime(), len: data ? data.length : -1 };
  };
  const header =
    r.type === 'report'
      ? { ...r, events: r.events.map(event) }
      : {
          ...r,
          outcome: {
            ...r.outcome,
            startedAt: r.outcome.startedAt?.getTime() ?? null,
            endedAt: r.outcome.endedAt.getTime(),
          },
        };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(PREFIX_BYTES);
  MAGIC.copy(prefix, 0);
  prefix.writeUInt32LE(json.length, 4);
  return Buffer.concat([prefix, json, ...blobs]);
}

const ms = z.number().int().min(0).max(8.64e15);
const base = {
  jobId: z.string().regex(JOB_ID_RE),
  attempt: z.number().int().min(1),
  agentId: z.string().min(1).max(64),
  leaseToken: z.string().regex(/^[0-9a-f]{32}$/),
  late: z.boolean(),
  at: ms,
};
const eventSchema = z.strictObject({
  seq: z.number().int().min(1),
  at: ms,
  kind: z.enum(['log', 'step_started', 'step_finished']),
  step: z.number().int().min(0),
  stream: z.string().max(16).nullable(),
  detail: z.record(z.string(), z.unknown()).nullable(),
  len: z.number().int().min(-1),
});
const headerSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('report'), ...base, events: z.array(eventSchema) }),
  z.strictObject({
    type: z.literal('complete'),
    ...base,
    outcome: z.strictObject({
      end: z.enum(['succeeded', 'failed', 'timed_out', 'cancelled']),
      exitCode: z.number().int().nullable(),
      reason: z.string().max(200).nullable(),
      startedAt: ms.nullable(),
      endedAt: ms,
    }),
  }),
]);

/** Decodes and re-checks a results record; throws on anything that is not one we wrote. */
export function decodeResult(data: Buffer): ResultRecord {
  if (data.length < PREFIX_BYTES || data.compare(MAGIC, 0, 4, 0, 4) !== 0)
    throw new Error('not a results record (bad magic/version)');
  const jsonEnd = PREFIX_BYTES + data.readUInt32LE(4);
  if (jsonEnd > data.length) throw new Error('results record header runs past the record');
  const header = headerSchema.parse(JSON.parse(data.subarray(PREFIX_BYTES, jsonEnd).toString('utf8')));
  if (header.type === 'complete') {
    const o = header.outcome;
    return {
      ...header,
      outcome: { ...o, startedAt: o.startedAt === null ? null : new Date(o.startedAt), endedAt: new Date(o.endedAt) },
    };
  }
  let at = jsonEnd;
  const events = header.events.map(({ len, ...e }) => {
    const blob = len < 0 ? null : Buffer.from(sliceExact(data, at, len));
    at += Math.max(0, len);
    return { ...e, at: new Date(e.at), data: blob };
  });
  if (at !== data.length) throw new Error('results record data does not match its header');
  return { ...header, events };
}

function sliceExact(data: Buffer, at: number, len: number): Buffer {
  if (at + len > data.length) throw new Error('results record data shorter than its header says');
  return data.subarray(at, at + len);
}
