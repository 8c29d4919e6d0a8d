import { Injectable } from '@nestjs/common';
import { DomainError, JOB_ID_RE, isTerminal } from '@jr/contracts';
import { DomainEvents } from '../common/events';
import { PendingSubmissions } from '../intake/pending-submissions';
import { UnappliedDirectory } from '../intake/unapplied-directory';
import { JobLogsRepository, type LogJob } from './job-logs.repository';
import { JobsRepository } from './jobs.repository';
import {
  formatCursor,
  incompleteUtf8Tail,
  renderEvent,
  START,
  type LogEventRow,
  type RenderOptions,
  type SseCursor,
} from './log-text';
import type { ByteSink, LogSink } from './sse-sink';

/** A page is at most this many rows and (but for a single larger row) this many bytes: the memory one reader holds. */
const PAGE_ROWS = 500;
const PAGE_BYTES = 128 * 1024;
/** Fallback re-check when no wake-up arrives (another API replica handled the change). */
const RECHECK_MS = 2_000;
/** How long a read waits for a job another replica accepted to reach Postgres before answering 503. */
const READ_WAIT_MS = 1_000;
/** Idle re-checks (of RECHECK_MS at most) before a keep-alive comment goes to a follower. */
const KEEPALIVE_ROUNDS = 7;

export interface FollowRequest {
  markers: boolean;
  /** Where a reconnecting follower left off (its `Last-Event-ID`); from the start when absent. */
  from?: SseCursor;
}

/**
 * A job's output, read page by page from Postgres and written with backpressure: the next page is
 * read only once the client has taken the last one, so memory stays flat however big the log is and
 * however many readers are slow. Text as in log-text.ts.
 */
@Injectable()
export class JobLogsService {
  constructor(
    private readonly logs: JobLogsRepository,
    private readonly jobs: JobsRepository,
    private readonly events: DomainEvents,
    private readonly pending: PendingSubmissions,
    private readonly directory: UnappliedDirectory,
  ) {}

  /**
   * 404 for unknown ids, before any output is written. A job still on its way to Postgres exists: from
   * this replica's journal, or from another replica's (waited for briefly, else 503).
   */
  async assertExists(id: string): Promise<void> {
    if (!JOB_ID_RE.test(id)) throw new DomainError('NOT_FOUND', `no job ${id.slice(0, 64)}`);
    if (this.pending.get(id) || (await this.logs.job(id))) return;
    const found = await this.directory.resolveMiss(
      id,
      READ_WAIT_MS,
      async () => (await this.logs.job(id)) !== undefined,
    );
    if (found === 'absent') throw new DomainError('NOT_FOUND', `no job ${id.slice(0, 64)}`);
  }

  /** The output stored so far, as bytes (a job not yet in Postgres has none). */
  async write(id: string, markers: boolean, sink: ByteSink): Promise<void> {
    const job = this.pending.get(id) ? undefined : await this.logs.job(id);
    if (!job) return;
    const options = renderOptions(job, markers);
    let at = START;
    while (!sink.closed.aborted) {
      const rows = await this.logs.page(job.id, { after: at, markers, maxRows: PAGE_ROWS, maxBytes: PAGE_BYTES });
      if (rows.length === 0) return;
      for (const row of rows) {
        const r = renderEvent(row, at, options);
        for (const piece of r.pieces) await sink.write(piece);
        at = r.next;
      }
    }
  }

  /** Streams output as it arrives until the job is terminal and everything is sent, then an `end` event. */
  async follow(id: string, req: FollowRequest, sink: LogSink): Promise<void> {
    while (this.pending.get(id) && !sink.closed.aborted) await this.pending.whenApplied(id, RECHECK_MS);
    const job = await this.logs.job(id);
    if (!job) return;
    const options = renderOptions(job, req.markers);
    let cursor: SseCursor = req.from ?? { ...START, carry: Buffer.alloc(0) };
    let idle = 0;
    while (!sink.closed.aborted) {
      const wake = this.wakeUp(job.id, sink.closed);
      const state = await this.logs.state(job.id);
      const rows =
        state === undefined
          ? []
          : await this.logs.page(job.id, {
              after: cursor,
              markers: req.markers,
              maxRows: PAGE_ROWS,
              maxBytes: PAGE_BYTES,
            });
      if (rows.length > 0) {
        wake.cancel();
        cursor = await sendPage(rows, cursor, options, sink);
        idle = 0;
        continue;
      }
      if (state === undefined || isTerminal(state)) {
        wake.cancel();
        if (state !== undefined) await this.end(job.id, cursor, sink);
        return;
      }
      await wake.promise;
      if (++idle % KEEPALIVE_ROUNDS === 0) await sink.keepAlive();
    }
  }

  private async end(jobId: string, cursor: SseCursor, sink: LogSink): Promise<void> {
    // a character the output never completed: shown as U+FFFD, as a decoder of the plain text would
    if (cursor.carry.length > 0)
      await sink.event('log', cursor.carry.toString('utf8'), formatCursor({ ...cursor, carry: Buffer.alloc(0) }));
    const view = await this.jobs.findView(jobId);
    await sink.event(
      'end',
      JSON.stringify({
        id: jobId,
        state: view?.state ?? null,
        exitCode: view?.exitCode ?? null,
        reason: view?.reason ?? null,
      }),
    );
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

function renderOptions(job: LogJob, markers: boolean): RenderOptions {
  return { markers, steps: job.steps };
}

/**
 * One `log` event for a page: the UTF-8 decoding of its bytes, less the start of a character the
 * page split (carried in the event's id, so a follower resuming from it loses and repeats nothing).
 */
async function sendPage(
  rows: LogEventRow[],
  from: SseCursor,
  options: RenderOptions,
  sink: LogSink,
): Promise<SseCursor> {
  const parts: Buffer[] = [from.carry];
  let at = { attempt: from.attempt, seq: from.seq, midLine: from.midLine };
  for (const row of rows) {
    const r = renderEvent(row, at, options);
    parts.push(...r.pieces);
    at = r.next;
  }
  const bytes = Buffer.concat(parts);
  const cut = bytes.length - incompleteUtf8Tail(bytes);
  const next = { ...at, carry: Buffer.from(bytes.subarray(cut)) };
  // nothing printable (rows without bytes, or one byte of a character): no event; a follower resuming
  // from its last id reads these rows again, which prints the same
  if (cut === 0) return next;
  await sink.event('log', bytes.subarray(0, cut).toString('utf8'), formatCursor(next));
  return next;
}
