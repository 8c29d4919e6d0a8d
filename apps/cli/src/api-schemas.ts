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
