import { z } from 'zod';
import type { HttpClient, JsonAnswer } from './api-client';
import { ApiError } from './cli-error';
import { EXIT } from './exit-codes';

const seg = encodeURIComponent;
const nullableString = z.string().nullable().optional();

/*
 * Shapes of the schedule answers (ScheduleView and friends in libs/contracts/src/rest.ts), checked
 * loosely as api-schemas.ts does: what we read must be there, policies a newer API adds are shown as
 * text, unknown fields are kept for --json.
 */
export const missedFireSchema = z.looseObject({ fireTime: z.string(), reason: z.string() });

export const scheduleViewSchema = z.looseObject({
  id: z.string().min(1),
  name: z.string(),
  cron: nullableString,
  rrule: nullableString,
  timezone: z.string(),
  exclusions: z.array(z.unknown()).optional(),
  overlap: z.string(),
  catchup: z.looseObject({ policy: z.string(), window: z.union([z.string(), z.number()]).optional() }).optional(),
  dst: z.looseObject({ ambiguous: z.string(), gap: z.string() }).optional(),
  paused: z.boolean(),
  /** The job each fire makes (NormalizedJob); only glanced at for `show`, printed whole with --json. */
  job: z.record(z.string(), z.unknown()).optional(),
  createdAt: z.string().optional(),
  updatedAt: z.string().optional(),
  lastFireAt: nullableString,
  nextFireAt: nullableString,
  nextFireTimes: z.array(z.string()).default([]),
  missed: z.array(missedFireSchema).default([]),
  missedOmitted: z.number().int().nonnegative().default(0),
  bufferedFireAt: nullableString,
  activeJobs: z.array(z.string()).default([]),
});

const schedulePageSchema = z.looseObject({ items: z.array(scheduleViewSchema) });
const createdSchema = z.looseObject({ id: z.string().min(1) });
const triggeredSchema = z.looseObject({ id: z.string(), jobId: z.string().min(1), fireTime: z.string() });

export type ScheduleAnswer = z.output<typeof scheduleViewSchema>;
export type ScheduleCreatedAnswer = z.output<typeof createdSchema>;
export type ScheduleTriggeredAnswer = z.output<typeof triggeredSchema>;

/** `/v1/schedules`: `ref` is a schedule id (`s_…`) or name wherever the API takes either. */
export class SchedulesApi {
  constructor(private readonly http: HttpClient) {}

  /**
   * 201 made, 200 when a schedule of this name and this very document exists. Retried as usual: the
   * name makes a repeated create answer the same schedule, never a second one.
   */
  async create(body: string): Promise<JsonAnswer<ScheduleCreatedAnswer>> {
    try {
      return await this.http.json('v1/schedules', createdSchema, {
        method: 'POST',
        body,
        conflict: (said) =>
          `the name is taken by a different schedule${said ? `: ${said}` : ''} (jr schedule show NAME; delete it or choose another name)`,
      });
    } catch (err) {
      // 409 is "already ended" (5) by default; a taken name is the caller's input clashing, as a reused
      // idempotency key on jr submit is: a usage error (64), fixed by another name or a delete
      if (err instanceof ApiError && err.status === 409)
        throw new ApiError(EXIT.USAGE, err.message, 409, err.problem, err.details);
      throw err;
    }
  }

  async list(): Promise<ScheduleAnswer[]> {
    return (await this.http.json('v1/schedules', schedulePageSchema)).value.items;
  }

  async get(ref: string): Promise<ScheduleAnswer> {
    return (await this.http.json(`v1/schedules/${seg(ref)}`, scheduleViewSchema, { notFound: unknown(ref) })).value;
  }

  /** One try with a short deadline: a glance after a create that must not fail it. */
  async peek(id: string, timeoutMs: number): Promise<ScheduleAnswer> {
    const options = { notFound: unknown(id), retries: 0, timeoutMs };
    return (await this.http.json(`v1/schedules/${seg(id)}`, scheduleViewSchema, options)).value;
  }

  async pause(id: string): Promise<ScheduleAnswer> {
    return this.post(id, 'pause');
  }

  async resume(id: string): Promise<ScheduleAnswer> {
    return this.post(id, 'resume');
  }

  /** Runs the job now (202); never retried: each trigger that got through made a job. */
  async trigger(id: string): Promise<ScheduleTriggeredAnswer> {
    const { value } = await this.http.json(`v1/schedules/${seg(id)}/trigger`, triggeredSchema, {
      method: 'POST',
      notFound: unknown(id),
      retries: 0,
      conflict: (said) => `cannot trigger schedule ${id}${said ? `: ${said}` : ''}`,
    });
    return value;
  }

  async remove(id: string): Promise<void> {
    await this.http.raw(`v1/schedules/${seg(id)}`, { method: 'DELETE', notFound: unknown(id) });
  }

  private async post(id: string, action: 'pause' | 'resume'): Promise<ScheduleAnswer> {
    const options = { method: 'POST' as const, notFound: unknown(id) };
    return (await this.http.json(`v1/schedules/${seg(id)}/${action}`, scheduleViewSchema, options)).value;
  }
}

function unknown(ref: string): string {
  return `unknown schedule ${ref}`;
}
