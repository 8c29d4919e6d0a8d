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

/**
 * `jr logs ID -f`: prints the SSE stream's `log` events until `end`, reconnecting with backoff when
 * the stream drops first. The API replays the whole text on every connection (it cannot resume
 * from an offset), so we count the characters already written and print only what lies beyond
 * them: every chunk appears exactly once across reconnects.
 */
export class LogFollower {
  private written = 0;
  private connected = false;

  constructor(
    private readonly api: JobsApi,
    private readonly out: OutStream,
    private readonly notify: (line: string) => void,
    private readonly clock: Clock,
  ) {}

  async follow(id: string): Promise<void> {
    const backoff = new Backoff(250, 5_000);
    let lostSince: number | undefined;
    for (;;) {
      const before = this.written;
      const { outcome, connected } = await this.connectOnce(id);
      if (outcome === 'ended') return;
      const now = this.clock.now();
      if (connected) {
        this.notify('the log stream dropped; reconnecting');
        if (this.written > before) backoff.reset();
        lostSince = now;
      }
      lostSince ??= now;
      if (now - lostSince > FOLLOW_GIVE_UP_MS) {
        throw new UnreachableError(`the log stream stayed lost for ${FOLLOW_GIVE_UP_MS / 60_000} minutes`);
      }
      await this.clock.sleep(backoff.next());
    }
  }

  private async connectOnce(id: string): Promise<{ outcome: Outcome; connected: boolean }> {
    let response: Response;
    try {
      response = await this.api.followLogs(id);
    } catch (err) {
      if (this.connected && isRecoverable(err)) return { outcome: 'dropped', connected: false };
      throw err;
    }
    this.connected = true;
    const type = response.headers.get('content-type') ?? '';
    const outcome = type.includes('text/event-stream') ? await this.consumeEvents(response) : await this.consumePlain(response);
    return { outcome, connected: true };
  }

  private async consumeEvents(response: Response): Promise<Outcome> {
    const parser = new SseParser();
    let skip = this.written;
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
    await this.write(text.slice(this.written));
    return 'ended';
  }

  /** Feeds decoded text to `onText` until it returns an outcome ('eof' when the body ends, 'dropped' on a broken connection). */
  private async read(response: Response, onText: (text: string) => Promise<Outcome | undefined>): Promise<Outcome | 'eof'> {
    const decoder = new TextDecoder('utf-8');
    const chunks = bodyChunks(response);
    try {
      for (;;) {
        const next = await chunks.next().catch(() => undefined);
        if (next === undefined) return 'dropped';
        if (next.done) return (await onText(decoder.decode())) ?? 'eof';
        const outcome = await onText(decoder.decode(next.value, { stream: true })).catch((err: unknown) => {
          throw err instanceof SseTooLargeError ? new CliError(EXIT.BAD_ANSWER, `the log stream is unusable: ${err.message}`) : err;
        });
        if (outcome !== undefined) return outcome;
      }
    } finally {
      await chunks.return(undefined);
    }
  }

  private async write(text: string): Promise<void> {
    if (text === '') return;
    this.written += text.length;
    await writeAll(this.out, text);
  }

  private announceEnd(data: string): void {
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
