import { z } from 'zod';
import { DomainError, JOB_ID_RE, POOL_RE, LIMITS, unstorableStrings, type pb } from '@jr/contracts';

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.\- ]{0,199}$/;
const LABEL_KEY_RE = /^[A-Za-z0-9][A-Za-z0-9_./-]{0,62}$/;
const LABEL_VALUE_RE = /^[A-Za-z0-9_./:-]{0,63}$/;
const AGENT_ID_OR_EMPTY = /^(a_[0-9a-z]{20})?$/;

/** Agent labels (Enroll, and the labels an operator enroll token fixes). */
export const labelsSchema = z
  .record(
    z.string().regex(LABEL_KEY_RE, 'label keys: letters, digits, _ . / -, at most 63'),
    z.string().regex(LABEL_VALUE_RE, 'label values: letters, digits, _ . / : -, at most 63'),
  )
  .refine((r) => Object.keys(r).length <= LIMITS.maxLabels, `at most ${LIMITS.maxLabels} labels`);

const enroll = z.object({
  name: z.string().regex(NAME_RE, 'name: 1-200 letters, digits, spaces, _ . -'),
  pool: z.string().regex(POOL_RE, 'pool: lowercase letters, digits, _ . -, at most 63'),
  labels: labelsSchema,
  slots: z.number().int().min(1, 'slots must be 1..256').max(256, 'slots must be 1..256'),
  version: z.string().max(200, 'version: at most 200 characters'),
  previousAgentId: z.string().regex(AGENT_ID_OR_EMPTY, 'previous_agent_id: an agent id or empty'),
  previousCredential: z.string().max(4096, 'previous_credential: at most 4096 characters'),
  credentialSecret: z
    .string()
    .regex(/^([A-Za-z0-9_-]{43,128})?$/, 'credential_secret: 43-128 base64url characters or empty'),
  csrPem: csrPem(),
});

function csrPem() {
  return z.string().max(16 * 1024, 'csr_pem: at most 16 KiB');
}

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
  csrPem: csrPem(),
});

const lease = z.object({
  freeSlots: z.number().int().min(0).max(256),
  waitMs: z.number().int().min(0, 'wait_ms must be >= 0'),
});

/**
 * Timestamps an agent sends (0: "now", the API's clock): from 2001-09-09 (1e12 ms) to a day past the
 * API's clock (skew). Anything else is a bug or hostile, and Postgres would refuse or misstore it.
 */
export const TIMESTAMP_MIN_MS = 1e12;
export const TIMESTAMP_MAX_SKEW_MS = 24 * 3_600_000;
/**
 * The API's clock for the parse under way. The schemas are built once (building a zod schema compiles
 * it: per call that was a tenth of the API's CPU under load); parsing is synchronous, so the time set
 * right before a parse is the one its refinements read.
 */
let parseNowMs = 0;
const timestamp = (what: string) =>
  z
    .number()
    .int()
    .refine(
      (ms) => ms === 0 || (ms >= TIMESTAMP_MIN_MS && ms <= parseNowMs + TIMESTAMP_MAX_SKEW_MS),
      `${what}: 0 or a time in ms since 1970 between 2001-09-09 and a day from now`,
    );

const step = z.number().int().min(0, 'step index cannot be negative');
const event = z.object({
  seq: z.number().int().min(1, 'events[].seq must be >= 1'),
  atMs: timestamp('events[].at_ms'),
  kind: z.enum(['stepStarted', 'stepFinished', 'log'], {
    error: 'events[] needs step_started, step_finished or log',
  }),
  stepStarted: z.object({ step, try: z.number().int().min(0) }).nullish(),
  stepFinished: z.object({ step }).nullish(),
  log: z.object({ step, stream: z.enum(['stdout', 'stderr'], { error: 'log.stream: stdout or stderr' }) }).nullish(),
});

/** Seqs of one report strictly increase: a duplicate or a step back inside one request is refused, not half-dropped. */
const report = z
  .object({ ...attemptRef, events: z.array(event).max(10_000, 'at most 10000 events per report') })
  .superRefine((r, ctx) => {
    for (let i = 1; i < r.events.length; i++) {
      const [prev, cur] = [r.events[i - 1]?.seq ?? 0, r.events[i]?.seq ?? 0];
      if (cur > prev) continue;
      ctx.addIssue({
        code: 'custom',
        path: ['events', i, 'seq'],
        message: `seq ${cur} after ${prev}: seqs within one report must strictly increase`,
      });
      return;
    }
  });

const complete = z.object({
  ...attemptRef,
  outcome: z.enum(['OUTCOME_SUCCEEDED', 'OUTCOME_FAILED', 'OUTCOME_TIMED_OUT', 'OUTCOME_CANCELLED'], {
    error: 'outcome must be set',
  }),
  exitCode: z.number().int(),
  reason: z.string().max(200, 'reason: at most 200 characters'),
  startedAtMs: timestamp('started_at_ms'),
  endedAtMs: timestamp('ended_at_ms'),
  lastSeq: z.number().int().min(0, 'last_seq cannot be negative'),
});

/**
 * Every string of a request must be storable (no NUL, no unpaired surrogate: Postgres refuses both),
 * whatever field it is in; then the message's own schema. Byte fields (log data) are not text.
 */
function check<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const text = unstorableStrings(value, [], 8);
  if (text.length > 0) throw new DomainError('INVALID_INPUT', text.map((i) => `${i.path}: ${i.message}`).join('; '));
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const msg = r.error.issues.map((i) => `${i.path.join('.') || 'request'}: ${i.message}`).join('; ');
  throw new DomainError('INVALID_INPUT', msg);
}

export const validateEnroll = (r: pb.EnrollRequest__Output) => check(enroll, r);
export const validateHeartbeat = (r: pb.HeartbeatRequest__Output) => check(heartbeat, r);
export const validateLease = (r: pb.LeaseRequest__Output) => check(lease, r);
export const validateReport = (r: pb.ReportRequest__Output, nowMs: number) => checkAt(nowMs, report, r);
export const validateComplete = (r: pb.CompleteRequest__Output, nowMs: number) => checkAt(nowMs, complete, r);

function checkAt<S extends z.ZodType>(nowMs: number, schema: S, value: unknown): z.output<S> {
  parseNowMs = nowMs;
  return check(schema, value);
}

/** The step index an event names (every kind names one). */
const stepOf = (e: pb.AttemptEvent__Output): number => (e.kind ? (e[e.kind]?.step ?? 0) : 0);

/** Step indexes of a report's events must name steps of the job (`steps`: its number of steps, when known). */
export function checkStepIndexes(events: readonly pb.AttemptEvent__Output[], steps: number | undefined): void {
  if (steps === undefined) return;
  const bad = events.findIndex((e) => stepOf(e) >= steps);
  const e = events[bad];
  if (e) throw new DomainError('INVALID_INPUT', `events.${bad}: step ${stepOf(e)} is past the job's ${steps} step(s)`);
}
