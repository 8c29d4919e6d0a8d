import { jittered } from '@jr/resilience';
import type { Logger } from '../common/logger';

/**
 * The pacing of a leader duty's passes: one pass every `intervalMs` (jittered ±20 %, real time), never two
 * at once, a failed pass logged once until one succeeds again, and a stop that waits for the pass in flight.
 * The pass itself asks for the fence and carries it; this only runs it.
 */
export class DutyLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopping = false;
  private failing = false;

  constructor(
    private readonly name: string,
    private readonly intervalMs: number,
    private readonly pass: () => Promise<unknown>,
    private readonly log: Logger,
  ) {}

  /** True once stop() was called: a pass in flight should end early. */
  get stopped(): boolean {
    return this.stopping;
  }

  start(): void {
    if (this.stopping) return;
    this.timer = setTimeout(
      () => {
        this.running = this.pass()
          .then(() => {
            if (this.failing) this.log.info(`${this.name} pass succeeded again`);
            this.failing = false;
          })
          .catch((err: unknown) => {
            if (!this.failing) this.log.warn({ err: String(err) }, `${this.name} pass failed; retrying`);
            this.failing = true;
          })
          .finally(() => this.start());
      },
      jittered(this.intervalMs, 0.2),
    );
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    await this.running;
  }
}
