import { z } from 'zod';
import { DomainError, JOB_ID_RE, POOL_RE, LIMITS, type pb } from '@jr/contracts';

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.\- ]{0,199}$/;
const LABEL_KEY_RE = /^[A-Za-z0-9][A-Za-z0-9_./-]{0,62}$/;
const LABEL_VALUE_RE = /^[A-Za-z0-9_./:-]{0,63}$/;
const AGENT_ID_OR_EMPTY = /^(a_[0-9a-z]{20})?$/;

const labels = z
  .record(z.string().regex(LABEL_KEY_RE, 'label keys: letters, digits, _ . / -, at most 63'), z.string().regex(LABEL_VALUE_RE, 'label values: letters, digits, _ . / : -, at most 63'))
  .refine((r) => Object.keys(r).length <= LIMITS.maxLabels, `at most ${LIMITS.maxLabels} labels`);

const enroll = z.object({
  name: z.string().regex(NAME_RE, 'name: 1-200 letters, digits, spaces, _ . -'),
  pool: z.string().regex(POOL_RE, 'pool: lowercase letters, digits, _ . -, at most 63'),
  labels,
  slots: z.number().int().min(1, 'slots must be 1..256').max(256, 'slots must be 1..256'),
  version: z.string().max(200, 'version: at most 200 characters'),
  previousAgentId: z.string().regex(AGENT_ID_OR_EMPTY, 'previous_agent_id: an agent id or empty'),
});

const attemptRef = {
  jobId: z.string().regex(JOB_ID_RE, 'job_id: not a job id'),
  attempt: z.number().int().min(1, 'attempt must be >= 1'),
  leaseToken: z.string().regex(/^[0-9a-f]{32}$/, 'lease_token: 32 hex digits'),
};

const heartbeat = z.object({
  running: z.array(z.object(attemptRef)).max(1_024, 'at most 1024 running attempts'),
  state: z
    .object({
      slots: z.number().int().min(0).max(256, 'state.slots must be 0..256'),
      running: z.number().int().min(0).max(1_024),
      breakerState: z.string().max(32, 'state.breaker_state: at most 32 characters'),
      outboxDepth: z.number().int().min(0),
      outboxOldestAgeMs: z.number().int().min(0),
    })
    .nullable(),
});

const lease = z.object({ freeSlots: z.number().int().min(0).max(256), waitMs: z.number().int().min(0, 'wait_ms must be >= 0') });

const event = z.object({
  seq: z.number().int().min(1, 'events[].seq must be >= 1'),
  atMs: z.number().int().min(0),
  kind: z.enum(['stepStarted', 'stepFinished', 'log'], { error: 'events[] needs step_started, step_finished or log' }),
});

const report = z.object({ ...attemptRef, events: z.array(event).max(10_000, 'at most 10000 events per report') });

const complete = z.object({
  ...attemptRef,
  outcome: z.enum(['OUTCOME_SUCCEEDED', 'OUTCOME_FAILED', 'OUTCOME_TIMED_OUT', 'OUTCOME_CANCELLED'], { error: 'outcome must be set' }),
  reason: z.string().max(200, 'reason: at most 200 characters'),
  startedAtMs: z.number().int().min(0),
  endedAtMs: z.number().int().min(0),
});

function check<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const msg = r.error.issues.map((i) => `${i.path.join('.') || 'request'}: ${i.message}`).join('; ');
  throw new DomainError('INVALID_INPUT', msg);
}

export const validateEnroll = (r: pb.EnrollRequest__Output) => check(enroll, r);
export const validateHeartbeat = (r: pb.HeartbeatRequest__Output) => check(heartbeat, r);
export const validateLease = (r: pb.LeaseRequest__Output) => check(lease, r);
export const validateReport = (r: pb.ReportRequest__Output) => check(report, r);
export const validateComplete = (r: pb.CompleteRequest__Output) => check(complete, r);
