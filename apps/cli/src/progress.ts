import { formatDurationMs } from '@jr/contracts';
import type { JobAnswer } from './api-schemas';
import { fleetProgressLine } from './fleet-render';
import { clean, type OutStream } from './output';

/** What a wait shows on stderr while it polls. */
export interface Progress {
  update(job: JobAnswer): void;
  note(line: string): void;
  finish(line: string): void;
  stop(): void;
  /** `out` with the spinner (if any) moved out of the way of what is written to it. */
  beside(out: OutStream): OutStream;
}

/** `--quiet`: nothing at all. */
export const silentProgress: Progress = {
  update: () => undefined,
  note: () => undefined,
  finish: () => undefined,
  stop: () => undefined,
  beside: (out) => out,
};

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const CLEAR_LINE = '\r\x1b[2K';

/** A spinner line rewritten in place on a TTY; otherwise one plain line per state change. */
export function createProgress(stderr: OutStream, id: string, now: () => number = Date.now): Progress {
  return stderr.isTTY ? new SpinnerProgress(stderr, id, now) : new LineProgress(stderr, id);
}

/** The job's state as the wait shows it; of a fleet job its progress (`12/40 done, 2 failed, batch 3`). */
export function describe(job: JobAnswer): string {
  if (job.targets) return fleetProgressLine(job, job.targets);
  const attempt = job.attempts.length > 0 ? `, attempt ${job.attempts.length}` : '';
  // why it cannot be placed (no active agent of its pool has its labels, …), while that holds
  const waiting = job.waiting ? ` · waiting: ${clean(job.waiting.message, 160)}` : '';
  return `${clean(job.state)}${job.reason ? ` (${clean(job.reason)})` : ''}${attempt}${waiting}`;
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

  beside(out: OutStream): OutStream {
    return out;
  }
}

class SpinnerProgress implements Progress {
  private frame = 0;
  /** Output on the terminal ended mid-line: drawing the spinner (and clearing it) would overwrite it. */
  private hidden = false;
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
    this.out.write(`${this.hidden ? '\n' : CLEAR_LINE}${line}\n`);
    this.hidden = false;
    this.render();
  }

  finish(line: string): void {
    this.stop();
    this.out.write(`${this.hidden ? '\n' : ''}${line}\n`);
    this.hidden = false;
  }

  stop(): void {
    if (this.timer === undefined) return;
    clearInterval(this.timer);
    this.timer = undefined;
    if (!this.hidden) this.out.write(CLEAR_LINE);
  }

  /** Output for the same terminal (stdout a TTY): cleared spinner, the text, the spinner again on the next line. */
  beside(out: OutStream): OutStream {
    if (!out.isTTY) return out;
    return {
      isTTY: true,
      write: (chunk) => {
        if (!this.hidden && this.timer !== undefined) this.out.write(CLEAR_LINE);
        const ok = out.write(chunk);
        const last = typeof chunk === 'string' ? chunk.charCodeAt(chunk.length - 1) : chunk[chunk.length - 1];
        if (chunk.length > 0) this.hidden = last !== 0x0a;
        this.render();
        return ok;
      },
      ...(out.once ? { once: (event: 'drain', listener: () => void) => out.once?.(event, listener) } : {}),
    };
  }

  private render(): void {
    if (this.timer === undefined || this.hidden) return;
    const spinner = FRAMES[this.frame++ % FRAMES.length] ?? '*';
    const elapsed = formatDurationMs(this.now() - this.startedAt);
    this.out.write(`${CLEAR_LINE}${spinner} ${clean(this.id)} ${this.status} · ${elapsed}`);
  }
}
