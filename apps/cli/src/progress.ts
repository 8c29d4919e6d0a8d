import { formatDurationMs } from '@jr/contracts';
import type { JobAnswer } from './api-schemas';
import { clean, type OutStream } from './output';

/** What a wait shows on stderr while it polls. */
export interface Progress {
  update(job: JobAnswer): void;
  note(line: string): void;
  finish(line: string): void;
  stop(): void;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const CLEAR_LINE = '\r\x1b[2K';

/** A spinner line rewritten in place on a TTY; otherwise one plain line per state change. */
export function createProgress(stderr: OutStream, id: string, now: () => number = Date.now): Progress {
  return stderr.isTTY ? new SpinnerProgress(stderr, id, now) : new LineProgress(stderr, id);
}

export function describe(job: JobAnswer): string {
  const attempt = job.attempts.length > 0 ? `, attempt ${job.attempts.length}` : '';
  return `${clean(job.state)}${job.reason ? ` (${clean(job.reason)})` : ''}${attempt}`;
}

class LineProgress implements Progress {
  private last = '';
  constructor(
    private readonly out: OutStream,
    private readonly id: string,
  ) {}

  update(job: JobAnswer): void {
    const line = `${clean(this.id)} ${describe(job)}`;
    if (line === this.last) return;
    this.last = line;
    this.out.write(`${line}\n`);
  }

  note(line: string): void {
    this.out.write(`${line}\n`);
  }

  finish(line: string): void {
    this.out.write(`${line}\n`);
  }

  stop(): void {}
}

class SpinnerProgress implements Progress {
  private frame = 0;
  private status = 'waiting';
  private readonly startedAt: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly out: OutStream,
    private readonly id: string,
    private readonly now: () => number,
  ) {
    this.startedAt = now();
    this.timer = setInterval(() => this.render(), 100);
    this.timer.unref();
    this.render();
  }

  update(job: JobAnswer): void {
    this.status = describe(job);
    this.render();
  }

  note(line: string): void {
    this.out.write(`${CLEAR_LINE}${line}\n`);
    this.render();
  }

  finish(line: string): void {
    this.stop();
    this.out.write(`${line}\n`);
  }

  stop(): void {
    if (this.timer === undefined) return;
    clearInterval(this.timer);
    this.timer = undefined;
    this.out.write(CLEAR_LINE);
  }

  private render(): void {
    if (this.timer === undefined) return;
    const spinner = FRAMES[this.frame++ % FRAMES.length] ?? '*';
    const elapsed = formatDurationMs(this.now() - this.startedAt);
    this.out.write(`${CLEAR_LINE}${spinner} ${clean(this.id)} ${this.status} · ${elapsed}`);
  }
}
