import { z } from 'zod';
import { JOB_STATES } from '@jr/contracts';

/*
 * Shapes of the API's answers (libs/contracts/src/rest.ts), checked loosely: fields we read must be
 * there with the right types, fields we do not know are kept (a newer server may add some) and
 * printed as they came with --json.
 */
const nullableString = z
  .string()
  .nullable()
  .optional()
  .transform((v) => v ?? null);
const nullableInt = z
  .number()
  .int()
  .nullable()
  .optional()
  .transform((v) => v ?? null);
const record = z.record(z.string(), z.string());

export const submitResultSchema = z.looseObject({ id: z.string().min(1), state: z.enum(JOB_STATES) });

export const attemptSchema = z.looseObject({
  n: z.number().int(),
  agentId: z.string().nullable().optional(),
  state: z.string(),
  exitCode: nullableInt,
  reason: nullableString,
  startedAt: nullableString,
  endedAt: nullableString,
});

/** A step of the latest attempt; its state is one of STEP_STATES or a newer one, shown as text. */
export const stepSchema = z.looseObject({
  index: z.number().int(),
  name: z.string(),
  state: z.string(),
  exitCode: nullableInt,
  startedAt: nullableString,
  endedAt: nullableString,
  durationMs: z
    .number()
    .nullable()
    .optional()
    .transform((v) => v ?? null),
});

/**
 * `targets` of a fleet job's view: counts by state (a state a newer API adds is counted and shown as text),
 * the highest batch begun, and whether the rollout was aborted.
 */
export const fleetProgressSchema = z.looseObject({
  total: z.number().int().nonnegative(),
  byState: z.record(z.string(), z.number().int().nonnegative()).default({}),
  batch: z.number().int().nonnegative().default(0),
  aborted: z.boolean().default(false),
});

export const jobViewSchema = z.looseObject({
  id: z.string().min(1),
  name: z.string().optional(),
  state: z.enum(JOB_STATES),
  /** A JobReason of @jr/contracts, or one a newer API added: shown as text, never an error. */
  reason: nullableString,
  pool: z.string().optional(),
  labels: record.optional(),
  /** Only what `jr status` shows of the spec: the names of the job's secrets (their values are never sent), who signed it. */
  spec: z
    .looseObject({
      secrets: z.array(z.string()).optional().catch(undefined),
      signature: z.looseObject({ keyId: z.string(), notAfter: z.string() }).optional().catch(undefined),
      atMostOnce: z.boolean().optional().catch(undefined),
    })
    .optional()
    .catch(undefined),
  attempts: z.array(attemptSchema).default([]),
  exitCode: nullableInt,
  createdAt: z.string().optional(),
  updatedAt: z.string().optional(),
  steps: z.array(stepSchema).default([]),
  failedStep: z
    .looseObject({ index: z.number().int(), name: z.string() })
    .nullable()
    .optional()
    .transform((v) => v ?? null),
  waiting: z
    .looseObject({ code: z.string(), message: z.string() })
    .nullable()
    .optional()
    .transform((v) => v ?? null),
  startedAt: nullableString,
  endedAt: nullableString,
  durationMs: z
    .number()
    .nullable()
    .optional()
    .transform((v) => v ?? null),
  /** On a job a schedule made: the schedule's id and the fire time it stands for (absent on others). */
  scheduleId: z.string().nullable().optional(),
  fireTime: z.string().nullable().optional(),
  /** On a fleet job (absent on others). */
  targets: fleetProgressSchema.nullable().optional(),
  /** On one target's run of a fleet job: the fleet job, and the agent the run is pinned to. */
  parentId: z.string().nullable().optional(),
  targetAgent: z.string().nullable().optional(),
});

/** One target of a fleet job (`GET /v1/jobs/:id/targets`); its state may be one a newer API added. */
export const targetViewSchema = z.looseObject({
  agentId: z.string().min(1),
  name: z.string().default(''),
  state: z.string(),
  exitCode: nullableInt,
  batch: nullableInt,
  jobId: nullableString,
  startedAt: nullableString,
  endedAt: nullableString,
});

export const targetPageSchema = z.looseObject({
  items: z.array(targetViewSchema),
  nextCursor: nullableString,
});

/** A number of targets or a share of them, as the normalized rollout stores it. */
const amountSchema = z.discriminatedUnion('kind', [
  z.looseObject({ kind: z.literal('count'), n: z.number().int().nonnegative() }),
  z.looseObject({ kind: z.literal('percent'), p: z.number().nonnegative() }),
]);

/**
 * The normalized job of a fleet job's `spec` (NormalizedJob with `fleet`), as far as `jr retry` rebuilds a
 * document from it: checked strictly enough to re-send, loose otherwise.
 */
export const fleetSpecSchema = z.looseObject({
  name: z.string().default(''),
  pool: z.string(),
  labels: record.default({}),
  timeoutMs: z.number().int().nonnegative().default(0),
  retries: z.number().int().nonnegative().default(0),
  env: record.default({}),
  secrets: z.array(z.string()).default([]),
  uses: z.array(z.looseObject({ url: z.string(), sha256: z.string() })).default([]),
  steps: z.array(
    z.looseObject({
      name: z.string(),
      run: z.union([z.string(), z.array(z.string())]),
      timeoutMs: z.number().int().nonnegative().default(0),
      retries: z.number().int().nonnegative().default(0),
    }),
  ),
  atMostOnce: z.boolean().optional(),
  fleet: z.looseObject({
    targets: z.looseObject({ pool: z.string() }),
    rollout: z.looseObject({
      batch: amountSchema,
      mode: z.string(),
      maxFailures: amountSchema,
      minSample: z.number().int().nonnegative(),
      deliveryTimeoutMs: z.number().int().nonnegative(),
      pauseMs: z.number().int().nonnegative(),
      undeliveredCountsAsFailure: z.boolean(),
      successCriteria: z.looseObject({ minSucceeded: amountSchema }).nullable(),
    }),
  }),
});

export const jobPageSchema = z.looseObject({
  items: z.array(jobViewSchema),
  nextCursor: z.string().nullable().optional(),
});

export const agentViewSchema = z.looseObject({
  id: z.string(),
  name: z.string().optional(),
  pool: z.string().optional(),
  labels: record.optional(),
  state: z.string(),
  draining: z.boolean().optional(),
  heartbeatAgeMs: z
    .number()
    .nullable()
    .optional()
    .transform((v) => v ?? null),
  slots: z.number().optional(),
  running: z.number().optional(),
  lastHeartbeatAt: nullableString,
  breakerState: z.string().optional(),
  spoolDepth: z.number().optional(),
  spoolOldestAgeMs: z.number().optional(),
  revokedAt: nullableString,
});

export const agentListSchema = z.looseObject({ items: z.array(agentViewSchema) });

export const problemSchema = z.looseObject({
  title: z.string().optional(),
  detail: z.string().optional(),
  status: z.number().optional(),
  errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});

export type SubmitAnswer = z.output<typeof submitResultSchema>;
export type JobAnswer = z.output<typeof jobViewSchema>;
export type StepAnswer = z.output<typeof stepSchema>;
export type AttemptAnswer = z.output<typeof attemptSchema>;
export type JobPageAnswer = z.output<typeof jobPageSchema>;
export type AgentAnswer = z.output<typeof agentViewSchema>;
export type AgentListAnswer = z.output<typeof agentListSchema>;
export type FleetProgressAnswer = z.output<typeof fleetProgressSchema>;
export type TargetAnswer = z.output<typeof targetViewSchema>;
export type TargetPageAnswer = z.output<typeof targetPageSchema>;
export type FleetSpecAnswer = z.output<typeof fleetSpecSchema>;
export type AmountAnswer = z.output<typeof amountSchema>;
