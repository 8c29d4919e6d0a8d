import { StringDecoder } from 'node:string_decoder';
import { Injectable } from '@nestjs/common';
import { DomainError, JOB_ID_RE, isTerminal } from '@jr/contracts';
import { DomainEvents } from '../common/events';
import { PendingSubmissions } from '../intake/pending-submissions';
import { JobsRepository, type LogChunkRow } from './jobs.repository';

const PAGE = 500;
/** Fallback re-check when no wake-up arrives (another API replica handled the change). */
const RECHECK_MS = 2_000;

/** Where a follower's output goes: an SSE response in production. */
export interface LogSink {
  /** Aborted when the client goes away. */
  readonly closed: AbortSignal;
  event(name: 'log' | 'end', data: string): void;
}

@Injectable()
export class JobLogsService {
  constructor(
    private readonly jobs: JobsRepository,
    private readonly events: DomainEvents,
    private readonly pending: PendingSubmissions,
  ) {}

  /** 404 for unknown ids, before any output is written. A job still on its way to Postgres exists. */
  async assertExists(id: string): Promise<void> {
    if (!JOB_ID_RE.test(id)) throw new DomainError('NOT_FOUND', `no job ${id.slice(0, 64)}`);
    if (this.pending.get(id) || (await this.jobs.stateOf(id))) return;
    throw new DomainError('NOT_FOUND', `no job ${id.slice(0, 64)}`);
  }

  /**
   * The attempts' output in seq order, with `--- attempt N ---` before the output of every attempt
   * after the first. The header depends only on the stored chunks, so a follower that reconnects
   * sees exactly the same text as one that stayed connected.
   */
  async text(id: string): Promise<Buffer> {
    if (!JOB_ID_RE.test(id)) throw new DomainError('NOT_FOUND', `no job ${id.slice(0, 64)}`);
    if (this.pending.get(id)) return Buffer.alloc(0);
    const info = await this.jobs.stateOf(id);
    if (!info) throw new DomainError('NOT_FOUND', `no job ${id.slice(0, 64)}`);
    const parts: Buffer[] = [];
    let cursor = { attempt: 0, seq: 0 };
    for (;;) {
      const rows = await this.jobs.logChunks(info.id, cursor, PAGE);
      for (const r of rows) {
        if (needsHeader(r.attempt, cursor.attempt)) parts.push(Buffer.from(attemptHeader(r.attempt)));
        parts.push(r.data);
        cursor = { attempt: r.attempt, seq: Number(r.seq) };
      }
      if (rows.length < PAGE) return Buffer.concat(parts);
    }
  }

  /** Streams output as it arrives until the job is terminal and everything is sent, then an `end` event. */
  async follow(id: string, sink: LogSink): Promise<void> {
    while (this.pending.get(id) && !sink.closed.aborted) await this.pending.whenApplied(id, RECHECK_MS);
    const jobId = (await this.jobs.stateOf(id))?.id;
    if (jobId === undefined) return;
    let cursor = { attempt: 0, seq: 0 };
    const decoder = new StringDecoder('utf8');
    while (!sink.closed.aborted) {
      const wake = this.wakeUp(jobId, sink.closed);
      const info = await this.jobs.stateOf(jobId);
      if (!info) return;
      const rows = await this.jobs.logChunks(jobId, cursor, PAGE);
      if (rows.length > 0) {
        cursor = this.send(rows, cursor, decoder, sink);
        wake.cancel();
        continue;
      }
      if (isTerminal(info.state)) {
        const view = await this.jobs.findView(jobId);
        sink.event('end', JSON.stringify({ id: jobId, state: info.state, exitCode: view?.exitCode ?? null, reason: view?.reason ?? null }));
        wake.cancel();
        return;
      }
      await wake.promise;
    }
  }

  private send(rows: LogChunkRow[], from: { attempt: number; seq: number }, decoder: StringDecoder, sink: LogSink): { attempt: number; seq: number } {
    let cursor = from;
    let text = '';
    for (const r of rows) {
      if (needsHeader(r.attempt, cursor.attempt)) text += attemptHeader(r.attempt);
      text += decoder.write(r.data);
      cursor = { attempt: r.attempt, seq: Number(r.seq) };
    }
    if (text.length > 0) sink.event('log', text);
    return cursor;
  }

  private wakeUp(id: string, closed: AbortSignal): { promise: Promise<void>; cancel: () => void } {
    let done!: () => void;
    const promise = new Promise<void>((resolve) => (done = resolve));
    const off = this.events.onJob(id, () => finish());
    const timer = setTimeout(() => finish(), RECHECK_MS);
    const finish = (): void => {
      off();
      clearTimeout(timer);
      closed.removeEventListener('abort', finish);
      done();
    };
    closed.addEventListener('abort', finish, { once: true });
    return { promise, cancel: finish };
  }
}

function needsHeader(attempt: number, previous: number): boolean {
  return attempt > 1 && attempt !== previous;
}

function attemptHeader(n: number): string {
  return `--- attempt ${n} ---\n`;
}
