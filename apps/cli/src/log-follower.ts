import { bodyChunks } from './api-client';
import { ApiError, CliError, UnreachableError } from './cli-error';
import { EXIT, isTransientStatus } from './exit-codes';
import type { JobsApi } from './jobs-api';
import { clean, writeAll, type OutStream } from './output';
import { SseParser, SseTooLargeError } from './sse-parser';
import { Backoff, type Clock } from './timing';

/** How long the stream may stay lost (no successful reconnect) before `jr logs -f` gives up with 69. */
export const FOLLOW_GIVE_UP_MS = 5 * 60_000;

type Outcome = 'ended' | 'dropped';

export interface FollowOptions {
  /** Ask for `--- step N/M: NAME ---` lines (`jr logs`); raw output otherwise. */
  markers?: boolean;
  /** Say "the job ended: STATE" at the end (off when a wait prints its own outcome line). */
  announceEnd?: boolean;
  /** Stops following (the output so far stays printed). */
  signal?: AbortSignal;
  /** Right after a submit the job may not be visible yet: a 404 is retried for this long. */
  notFoundGraceMs?: number;
}

/**
 * `jr logs ID -f` (and the output of `--wait`): prints the SSE stream's `log` events until `end`,
 * reconnecting with backoff when the stream drops first. jr-api gives every event an id; a reconnect
 * sends the last one as `Last-Event-ID` and the API goes on right after it. Text after the last id
 * (a server that sends none replays from the start) is counted and skipped: every chunk appears
 * exactly once across reconnects.
 */
export class LogFollower {
  private lastId: string | undefined;
  /** Characters written after the event that carried `lastId`. */
  private sinceId = 0;
  private connected = false;

  constructor(
    private readonly api: JobsApi,
    private readonly out: OutStream,
    private readonly notify: (line: string) => void,
    private readonly clock: Clock,
    private readonly options: FollowOptions = {},
  ) {}

  async follow(id: string): Promise<void> {
    const backoff = new Backoff(250, 5_000);
    const startedAt = this.clock.now();
    let lostSince: number | undefined;
    while (!this.options.signal?.aborted) {
      const before = { id: this.lastId, since: this.sinceId };
      const { outcome, connected } = await this.connectOnce(id, startedAt);
      if (outcome === 'ended' || this.options.signal?.aborted) return;
      const now = this.clock.now();
      if (connected) {
        this.notify('the log stream dropped; reconnecting');
        if (this.lastId !== before.id || this.sinceId > before.since) backoff.reset();
        lostSince = now;
      }
      lostSince ??= now;
      if (now - lostSince > FOLLOW_GIVE_UP_MS) {
        throw new UnreachableError(`the log stream stayed lost for ${FOLLOW_GIVE_UP_MS / 60_000} minutes`);
      }
      await this.clock.sleep(backoff.next());
    }
  }

  private async connectOnce(id: string, startedAt: number): Promise<{ outcome: Outcome; connected: boolean }> {
    let response: Response;
    try {
      const { markers, signal } = this.options;
      response = await this.api.followLogs(id, {
        markers: markers ?? false,
        lastEventId: this.lastId,
        ...(signal ? { signal } : {}),
      });
    } catch (err) {
      if (this.options.signal?.aborted) return { outcome: 'ended', connected: false };
      if ((this.connected && isRecoverable(err)) || this.notVisibleYet(err, startedAt))
        return { outcome: 'dropped', connected: false };
      throw err;
    }
    this.connected = true;
    const type = response.headers.get('content-type') ?? '';
    const outcome = type.includes('text/event-stream')
      ? await this.consumeEvents(response)
      : await this.consumePlain(response);
    return { outcome, connected: true };
  }

  private notVisibleYet(err: unknown, startedAt: number): boolean {
    return (
      err instanceof ApiError &&
      err.status === 404 &&
      this.clock.now() - startedAt < (this.options.notFoundGraceMs ?? 0)
    );
  }

  private async consumeEvents(response: Response): Promise<Outcome> {
    const parser = new SseParser();
    let skip = this.sinceId;
    const outcome = await this.read(response, async (text) => {
      for (const event of parser.feed(text)) {
        if (event.event === 'end') {
          this.announceEnd(event.data);
          return 'ended';
        }
        if (event.event !== 'log') continue;
        const fresh = event.data.slice(Math.min(skip, event.data.length));
        skip = Math.max(0, skip - event.data.length);
        await this.write(fresh);
        // the parser repeats the last id on events without one: only a new id moves the resume point
        if (event.id !== undefined && event.id !== this.lastId) {
          this.lastId = event.id;
          this.sinceId = 0;
        }
      }
      return undefined;
    });
    return outcome === 'eof' ? 'dropped' : outcome;
  }

  /** A server that answers follow with plain text: print what is new, and that is the end. */
  private async consumePlain(response: Response): Promise<Outcome> {
    let text = '';
    const outcome = await this.read(response, async (chunk) => {
      text += chunk;
      return undefined;
    });
    if (outcome !== 'eof') return 'dropped';
    await this.write(text.slice(this.sinceId));
    return 'ended';
  }

  /** Feeds decoded text to `onText` until it returns an outcome ('eof' when the body ends, 'dropped' on a broken connection). */
  private async read(
    response: Response,
    onText: (text: string) => Promise<Outcome | undefined>,
  ): Promise<Outcome | 'eof'> {
    const decoder = new TextDecoder('utf-8');
    const chunks = bodyChunks(response);
    try {
      for (;;) {
        const next = await chunks.next().catch(() => undefined);
        if (next === undefined) return this.options.signal?.aborted ? 'ended' : 'dropped';
        if (next.done) return (await onText(decoder.decode())) ?? 'eof';
        const outcome = await onText(decoder.decode(next.value, { stream: true })).catch((err: unknown) => {
          throw err instanceof SseTooLargeError
            ? new CliError(EXIT.BAD_ANSWER, `the log stream is unusable: ${err.message}`)
            : err;
        });
        if (outcome !== undefined) return outcome;
      }
    } finally {
      await chunks.return(undefined);
    }
  }

  private async write(text: string): Promise<void> {
    if (text === '') return;
    this.sinceId += text.length;
    await writeAll(this.out, text);
  }

  private announceEnd(data: string): void {
    if (this.options.announceEnd === false) return;
    try {
      const final = JSON.parse(data) as { state?: unknown };
      if (typeof final.state === 'string') this.notify(`the job ended: ${clean(final.state)}`);
    } catch {
      // the end event's data is informative only
    }
  }
}

function isRecoverable(err: unknown): boolean {
  return err instanceof UnreachableError || (err instanceof ApiError && isTransientStatus(err.status));
}
