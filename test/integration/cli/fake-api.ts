import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  newJobId,
  parseJobSpec,
  problemFor,
  type AgentView,
  type JobReason,
  type JobState,
  type JobView,
  type Problem,
  type WaitingView,
} from '@jr/contracts';

/** How a submitted job ends, and after how many GETs it gets there. */
export interface Outcome {
  state: JobState;
  reason: JobReason | null;
  exitCode: number | null;
}

interface FakeJob {
  view: JobView;
  /** States the job goes through, one per GET; the last one stays. */
  timeline: Outcome[];
  gets: number;
}

/** What `GET /v1/jobs/:id/logs?follow=1` does on its n-th connection (the last entry repeats). */
export interface FollowScript {
  /** Log chunks (text or raw bytes) sent on this connection, in order; the server replays from the start. */
  chunks: Array<string | Buffer>;
  /** After the chunks: 'end' sends `event: end`, 'drop' destroys the socket, 'hang' leaves it open. */
  then: 'end' | 'drop' | 'hang';
  /** As jr-api: event n (1-based) carries `id: n`, and a `Last-Event-ID: k` connection gets the chunks after the k-th. */
  ids?: boolean;
}

/**
 * A small fake of the jr-api REST contract over a real loopback socket, with in-memory state
 * (buildkite-style: the CLI talks real HTTP to it). Knobs let a test script outcomes and faults.
 */
export class FakeApi {
  readonly jobs = new Map<string, FakeJob>();
  readonly requests: Array<{ method: string; url: string; headers: http.IncomingHttpHeaders; body: string }> = [];
  readonly agentCalls: string[] = [];
  token = 'secret';
  outcome: Outcome = { state: 'succeeded', reason: null, exitCode: 0 };
  /** Jobs never leave `running` (for wait timeouts). */
  hold = false;
  /** The next N requests have their socket destroyed before any answer (an outage). */
  dropRequests = 0;
  /** Like dropRequests, but only for `GET /v1/jobs/:id` (an outage while a wait polls). */
  dropJobGets = 0;
  /** The next N requests are answered 503 with Retry-After: 0. */
  busyRequests = 0;
  /** The next submit is refused with this 400 problem (validation only the server does). */
  refuseNextSubmit: Problem | undefined;
  /** Never answer (a hung server); the socket stays open until stop(). */
  stall = false;
  /** Answer raw text with this status instead of routing (a broken proxy). */
  garbage: { status: number; body: string } | undefined;
  readonly logs = new Map<string, Array<string | Buffer>>();
  /** The log of the next submitted job. */
  submitLogs: Array<string | Buffer> | undefined;
  readonly follow = new Map<string, FollowScript[]>();
  readonly followConnections = new Map<string, number>();
  readonly agents: AgentView[] = [];
  /** Submitted jobs say this while they are queued (no agent can take them). */
  waiting: WaitingView | null = null;
  /** Bodies of the next GET /v1/jobs answers instead of the real page (a misbehaving server). */
  readonly pages: unknown[] = [];
  private server: http.Server | undefined;
  private readonly keys = new Map<string, string>();
  private readonly hanging = new Set<http.ServerResponse>();

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** Adds a job directly, already in `state`. */
  addJob(state: JobState, patch: Partial<JobView> = {}): JobView {
    const id = newJobId();
    const view = this.view(id, { steps: [{ run: ['true'] }] }, state);
    Object.assign(view, patch);
    this.jobs.set(id, { view, timeline: [{ state, reason: view.reason, exitCode: view.exitCode }], gets: 0 });
    return view;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await readAll(req);
    this.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
    if (this.dropRequests > 0) {
      this.dropRequests--;
      req.socket.destroy();
      return;
    }
    if (this.dropJobGets > 0 && req.method === 'GET' && /^\/v1\/jobs\/[^/?]+$/.test(req.url ?? '')) {
      this.dropJobGets--;
      req.socket.destroy();
      return;
    }
    if (this.busyRequests > 0) {
      this.busyRequests--;
      return send(res, 503, problemFor('NOT_ACCEPTING', 'journal full'), { 'retry-after': '0' });
    }
    if (this.stall) {
      this.hanging.add(res);
      return;
    }
    if (this.garbage) {
      res.writeHead(this.garbage.status, { 'content-type': 'text/html' });
      res.end(this.garbage.body);
      return;
    }
    if (req.headers.authorization !== `Bearer ${this.token}`)
      return send(res, 401, problemFor('UNAUTHENTICATED', 'missing or invalid bearer token'));
    this.route(req, res, body);
  }

  private route(req: http.IncomingMessage, res: http.ServerResponse, body: string): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const route = `${req.method} ${url.pathname}`;
    const seg = '([^/]+)';
    const match = (re: string): string | undefined => {
      const m = new RegExp(`^${re}$`).exec(route);
      return m ? decodeURIComponent(m[1] ?? '') : undefined;
    };
    let id: string | undefined;
    if (route === 'POST /v1/jobs') return this.submit(req, res, body);
    if (route === 'GET /v1/jobs') return this.list(res, url);
    if (route === 'GET /v1/agents') return send(res, 200, { items: this.agents });
    if (route === 'POST /v1/agents/reporting/enable') {
      this.agentCalls.push('reporting/enable *');
      return send(res, 202, {});
    }
    if ((id = match(`GET /v1/jobs/${seg}`)) !== undefined) return this.get(res, id);
    if ((id = match(`POST /v1/jobs/${seg}/cancel`)) !== undefined) return this.cancel(res, id);
    if ((id = match(`GET /v1/jobs/${seg}/logs`)) !== undefined) {
      return url.searchParams.get('follow') === '1' ? this.followLogs(req, res, id) : this.textLogs(res, id);
    }
    if ((id = match(`POST /v1/agents/${seg}/reporting/enable`)) !== undefined)
      return this.agentAction(res, id, 'reporting/enable');
    if ((id = match(`POST /v1/agents/${seg}/drain`)) !== undefined) return this.agentAction(res, id, 'drain');
    if ((id = match(`POST /v1/agents/${seg}/undrain`)) !== undefined) return this.agentAction(res, id, 'undrain');
    if ((id = match(`DELETE /v1/agents/${seg}`)) !== undefined)
      return this.removeAgent(res, id, url.searchParams.get('force') === 'true');
    return send(res, 404, problemFor('NOT_FOUND', `no route ${route}`));
  }

  private submit(req: http.IncomingMessage, res: http.ServerResponse, body: string): void {
    if (this.refuseNextSubmit) {
      const problem = this.refuseNextSubmit;
      this.refuseNextSubmit = undefined;
      return send(res, problem.status, problem);
    }
    let input: unknown;
    try {
      input = JSON.parse(body);
    } catch {
      return send(res, 400, problemFor('INVALID_INPUT', 'malformed JSON'));
    }
    const parsed = parseJobSpec(input);
    if (!parsed.ok) return send(res, 400, problemFor('INVALID_INPUT', 'invalid job', { errors: parsed.issues }));
    const idem = req.headers['idempotency-key'];
    const known = typeof idem === 'string' ? this.keys.get(idem) : undefined;
    if (known) return send(res, 200, { id: known, state: this.jobs.get(known)?.view.state });
    const id = newJobId();
    if (typeof idem === 'string') this.keys.set(idem, id);
    if (this.submitLogs) this.logs.set(id, this.submitLogs);
    const view = this.view(id, input, 'queued');
    view.waiting = this.waiting;
    const end = this.outcome;
    // queued twice: `jr submit` glances at the job once (placement warning) before a --wait polls it
    const queued: Outcome = { state: 'queued', reason: null, exitCode: null };
    const timeline: Outcome[] = [queued, queued, { state: 'running', reason: null, exitCode: null }, end];
    this.jobs.set(id, { view, timeline: this.hold ? timeline.slice(0, -1) : timeline, gets: 0 });
    return send(res, 202, { id, state: 'queued' });
  }

  private get(res: http.ServerResponse, id: string): void {
    const job = this.jobs.get(id);
    if (!job) return send(res, 404, problemFor('NOT_FOUND', `job ${id} not found`));
    const step = job.timeline[Math.min(job.gets++, job.timeline.length - 1)] as Outcome;
    Object.assign(job.view, step, { updatedAt: new Date().toISOString() });
    if (step.state !== 'queued') job.view.waiting = null;
    if (step.state !== 'queued' && job.view.attempts.length === 0) {
      job.view.attempts.push({
        n: 1,
        agentId: 'a_agent1',
        state: 'running',
        exitCode: null,
        reason: null,
        startedAt: new Date().toISOString(),
        endedAt: null,
      });
    }
    const attempt = job.view.attempts[0];
    if (attempt && step.state !== 'running' && step.state !== 'queued')
      Object.assign(attempt, {
        state: step.state,
        exitCode: step.exitCode,
        endedAt: attempt.endedAt ?? new Date().toISOString(),
      });
    return send(res, 200, job.view);
  }

  private list(res: http.ServerResponse, url: URL): void {
    if (this.pages.length > 0) return send(res, 200, this.pages.shift());
    const state = url.searchParams.get('state');
    const limit = Number(url.searchParams.get('limit') ?? 50);
    const cursor = url.searchParams.get('cursor');
    const all = [...this.jobs.values()]
      .map((j) => j.view)
      .filter((v) => !state || v.state === state)
      .reverse();
    const from =
      cursor === null ? 0 : all.findIndex((v) => v.id === Buffer.from(cursor, 'base64url').toString('utf8')) + 1;
    if (from === 0 && cursor !== null)
      return send(
        res,
        400,
        problemFor('INVALID_INPUT', 'bad query parameters', {
          errors: [{ path: 'cursor', message: 'not a cursor from a previous page' }],
        }),
      );
    const items = all.slice(from, from + limit);
    // as jr-api: a full page has a cursor (even when nothing follows)
    const last = items[items.length - 1];
    return send(res, 200, {
      items,
      nextCursor: items.length === limit && last ? Buffer.from(last.id, 'utf8').toString('base64url') : null,
    });
  }

  private cancel(res: http.ServerResponse, id: string): void {
    const job = this.jobs.get(id);
    if (!job) return send(res, 404, problemFor('NOT_FOUND', `job ${id} not found`));
    if (['succeeded', 'failed', 'cancelled', 'timed_out'].includes(job.view.state)) {
      return send(res, 409, problemFor('ALREADY_TERMINAL', `job ${id} is already ${job.view.state}`));
    }
    job.view.state = 'cancelled';
    job.view.reason = 'cancelled';
    job.timeline = [{ state: 'cancelled', reason: 'cancelled', exitCode: null }];
    return send(res, 202, { id, state: 'cancelled' });
  }

  private textLogs(res: http.ServerResponse, id: string): void {
    if (!this.jobs.has(id)) return send(res, 404, problemFor('NOT_FOUND', `job ${id} not found`));
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    for (const chunk of this.logs.get(id) ?? []) res.write(chunk);
    res.end();
  }

  private followLogs(req: http.IncomingMessage, res: http.ServerResponse, id: string): void {
    if (!this.jobs.has(id)) return send(res, 404, problemFor('NOT_FOUND', `job ${id} not found`));
    const n = this.followConnections.get(id) ?? 0;
    this.followConnections.set(id, n + 1);
    const scripts = this.follow.get(id) ?? [{ chunks: this.logs.get(id) ?? [], then: 'end' }];
    const script = scripts[Math.min(n, scripts.length - 1)] as FollowScript;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const after = script.ids ? Number(req.headers['last-event-id'] ?? 0) : 0;
    script.chunks.forEach((chunk, i) => {
      if (i + 1 > after) writeLogEvent(res, chunk, script.ids ? i + 1 : undefined);
    });
    if (script.then === 'end') {
      res.end(`event: end\ndata: ${JSON.stringify({ state: this.jobs.get(id)?.view.state })}\n\n`);
    } else if (script.then === 'drop') {
      setTimeout(() => res.socket?.destroy(), 20);
    } else {
      this.hanging.add(res);
    }
  }

  private agentAction(res: http.ServerResponse, id: string, action: string): void {
    const agent = this.agents.find((a) => a.id === id);
    if (!agent) return send(res, 404, problemFor('NOT_FOUND', `agent ${id} not found`));
    this.agentCalls.push(`${action} ${id}`);
    if (action === 'undrain') agent.draining = false;
    return send(res, 202, action === 'undrain' ? { id, state: agent.state } : {});
  }

  /** Like jr-api: refused (409) unless the agent is lost or `force`; its running attempts end. */
  private removeAgent(res: http.ServerResponse, id: string, force: boolean): void {
    const i = this.agents.findIndex((a) => a.id === id);
    const agent = this.agents[i];
    if (!agent) return send(res, 404, problemFor('NOT_FOUND', `no agent ${id}`));
    if (!force && agent.state !== 'lost')
      return send(
        res,
        409,
        problemFor('CONFLICT', `agent ${id} is ${agent.state}: stop it first, or remove it with --force`),
      );
    this.agents.splice(i, 1);
    this.agentCalls.push(`rm ${id}${force ? ' --force' : ''}`);
    return send(res, 200, { id, removed: true, attemptsEnded: agent.running });
  }

  private view(id: string, spec: unknown, state: JobState): JobView {
    const parsed = parseJobSpec(spec);
    if (!parsed.ok) throw new Error('fake: bad spec');
    const now = new Date().toISOString();
    return {
      id,
      name: parsed.job.name,
      state,
      reason: null,
      pool: parsed.job.pool,
      labels: parsed.job.labels,
      spec: parsed.job,
      attempts: [],
      exitCode: null,
      createdAt: now,
      updatedAt: now,
      steps: [],
      failedStep: null,
      waiting: null,
      startedAt: null,
      endedAt: null,
      durationMs: null,
    };
  }
}

/** One SSE `log` event, encoded as jr-api does (data lines split at LF); raw Buffers are written as they are. */
function writeLogEvent(res: http.ServerResponse, chunk: string | Buffer, id?: number): void {
  if (Buffer.isBuffer(chunk)) {
    res.write(chunk);
    return;
  }
  res.write(
    `${id === undefined ? '' : `id: ${id}\n`}event: log\n${chunk
      .split('\n')
      .map((l) => `data: ${l}`)
      .join('\n')}\n\n`,
  );
}

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const isProblem = status >= 400;
  res.writeHead(status, { 'content-type': isProblem ? 'application/problem+json' : 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function readAll(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => resolve(''));
  });
}
