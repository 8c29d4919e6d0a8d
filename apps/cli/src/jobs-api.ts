import { z } from 'zod';
import type { JobState } from '@jr/contracts';
import type { HttpClient, JsonAnswer } from './api-client';
import { CliError } from './cli-error';
import { EXIT } from './exit-codes';
import { clean } from './output';
import {
  agentListSchema,
  jobPageSchema,
  jobViewSchema,
  submitResultSchema,
  targetPageSchema,
  type AgentListAnswer,
  type JobAnswer,
  type JobPageAnswer,
  type SubmitAnswer,
  type TargetAnswer,
  type TargetPageAnswer,
} from './api-schemas';

const seg = encodeURIComponent;

/** Page size when walking every target: the API's largest, so a big fleet takes few requests. */
const TARGET_PAGE_SIZE = 500;

/** The contract's REST routes, one method each. */
export class JobsApi {
  constructor(readonly http: HttpClient) {}

  submit(body: string, idempotencyKey: string | undefined): Promise<JsonAnswer<SubmitAnswer>> {
    const headers: Record<string, string> = idempotencyKey ? { 'idempotency-key': idempotencyKey } : {};
    return this.http.json('v1/jobs', submitResultSchema, {
      method: 'POST',
      body,
      headers,
      conflict: (said) => `the idempotency key was already used for a different job${said ? `: ${said}` : ''}`,
    });
  }

  async getJob(id: string, retries?: number): Promise<JobAnswer> {
    return (
      await this.http.json(`v1/jobs/${seg(id)}`, jobViewSchema, {
        notFound: `unknown job ${id}`,
        ...(retries === undefined ? {} : { retries }),
      })
    ).value;
  }

  /** One try with a short deadline, for a glance (e.g. the placement warning after a submit). */
  async peekJob(id: string, timeoutMs: number): Promise<JobAnswer> {
    return (
      await this.http.json(`v1/jobs/${seg(id)}`, jobViewSchema, {
        notFound: `unknown job ${id}`,
        retries: 0,
        timeoutMs,
      })
    ).value;
  }

  /** `schedule`: only the jobs that schedule made. */
  async listJobs(query: {
    state?: JobState;
    pool?: string;
    schedule?: string;
    limit?: number;
    cursor?: string;
  }): Promise<JobPageAnswer> {
    return (await this.http.json('v1/jobs', jobPageSchema, { query })).value;
  }

  /** One page of a fleet job's targets, in the rollout's order; `state` keeps one state. */
  async targets(
    id: string,
    query: { state?: string; limit?: number; cursor?: string } = {},
  ): Promise<TargetPageAnswer> {
    return (
      await this.http.json(`v1/jobs/${seg(id)}/targets`, targetPageSchema, { query, notFound: `unknown job ${id}` })
    ).value;
  }

  /** Every target of a fleet job; a server whose cursors go round in circles is an unusable answer, not a hang. */
  async allTargets(id: string, state?: string): Promise<TargetAnswer[]> {
    const items: TargetAnswer[] = [];
    const seen = new Set<string>();
    for (let cursor: string | undefined; ;) {
      const page = await this.targets(id, { state, limit: TARGET_PAGE_SIZE, cursor });
      items.push(...page.items);
      if (!page.nextCursor) return items;
      if (seen.has(page.nextCursor) || page.items.length === 0)
        throw new CliError(
          EXIT.BAD_ANSWER,
          `the API's pages of targets do not end (cursor ${clean(page.nextCursor, 100)} again)`,
        );
      seen.add(page.nextCursor);
      cursor = page.nextCursor;
    }
  }

  async cancel(id: string): Promise<{ state: string | undefined }> {
    const { body } = await this.http.raw(`v1/jobs/${seg(id)}/cancel`, {
      method: 'POST',
      notFound: `unknown job ${id}`,
      conflict: (said) => `cannot cancel: ${said ?? `job ${id} has already ended`}`,
    });
    return { state: stateIn(body) };
  }

  /** `markers`: a `--- step N/M: NAME ---` line before each step's output. */
  logs(id: string, markers = false): Promise<Response> {
    return this.http.open(`v1/jobs/${seg(id)}/logs`, {
      query: { markers: markers ? 1 : undefined },
      accept: 'text/plain',
      notFound: `unknown job ${id}`,
    });
  }

  /** The SSE stream; `lastEventId` resumes after the last event a dropped stream delivered. */
  followLogs(
    id: string,
    options: { markers?: boolean; lastEventId?: string; signal?: AbortSignal } = {},
  ): Promise<Response> {
    const headers: Record<string, string> =
      options.lastEventId === undefined ? {} : { 'last-event-id': options.lastEventId };
    return this.http.open(`v1/jobs/${seg(id)}/logs`, {
      query: { follow: 1, markers: options.markers ? 1 : undefined },
      headers,
      accept: 'text/event-stream',
      notFound: `unknown job ${id}`,
      retries: 0,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  async agents(): Promise<AgentListAnswer> {
    return (await this.http.json('v1/agents', agentListSchema)).value;
  }

  async enableReporting(agentId: string | undefined): Promise<void> {
    const path = agentId === undefined ? 'v1/agents/reporting/enable' : `v1/agents/${seg(agentId)}/reporting/enable`;
    await this.http.raw(path, { method: 'POST', notFound: `unknown agent ${agentId ?? ''}` });
  }

  async drain(agentId: string): Promise<void> {
    await this.http.raw(`v1/agents/${seg(agentId)}/drain`, { method: 'POST', notFound: `unknown agent ${agentId}` });
  }

  /** The agent's state as the API shows it after the undrain (`active`, or `stale`/`lost` when it is not heartbeating). */
  async undrain(agentId: string): Promise<{ state: string }> {
    const { value } = await this.http.json(`v1/agents/${seg(agentId)}/undrain`, undrainAnswerSchema, {
      method: 'POST',
      notFound: `unknown agent ${agentId}`,
    });
    return value;
  }

  /** Revokes the agent: its credentials end at its next call, its live attempts end lost. */
  async revokeAgent(agentId: string): Promise<{ attemptsEnded: number }> {
    const { value } = await this.http.json(`v1/agents/${seg(agentId)}/revoke`, removeAnswerSchema, {
      method: 'POST',
      notFound: `unknown agent ${agentId}`,
    });
    return value;
  }

  /** Forgets the agent (its credential ends); 409 while it heartbeats or runs attempts, unless `force`. */
  async removeAgent(agentId: string, force: boolean): Promise<{ attemptsEnded: number }> {
    const { value } = await this.http.json(`v1/agents/${seg(agentId)}`, removeAnswerSchema, {
      method: 'DELETE',
      query: force ? { force: 'true' } : {},
      notFound: `unknown agent ${agentId}`,
      conflict: (said) => `cannot remove agent ${agentId}: ${said ?? 'it is still in use'}`,
    });
    return value;
  }
}

const undrainAnswerSchema = z.looseObject({ state: z.string() });
const removeAnswerSchema = z.looseObject({
  attemptsEnded: z
    .number()
    .int()
    .nonnegative()
    .optional()
    .transform((v) => v ?? 0),
});

/** The `state` of a `{id,state}` answer, if the body is one. */
function stateIn(body: Buffer): string | undefined {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { state?: unknown };
    return typeof parsed.state === 'string' ? parsed.state : undefined;
  } catch {
    return undefined;
  }
}
