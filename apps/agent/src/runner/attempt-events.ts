import type { pb } from '@jr/contracts';

export type StepOutcome = 'succeeded' | 'failed' | 'timed_out' | 'cancelled';
export type OutputStream = 'stdout' | 'stderr';

/**
 * Numbers an attempt's events: StepStarted, LogChunk and StepFinished share one sequence, from 1,
 * without gaps, in the order they happen. The sink gets them already numbered.
 */
export class AttemptEventLog {
  private seq = 0;

  constructor(
    private readonly sink: (event: pb.AttemptEvent) => void,
    private readonly now: () => number = Date.now,
  ) {}

  get lastSeq(): number {
    return this.seq;
  }

  stepStarted(step: number, name: string, attemptTry: number): void {
    this.push({ kind: 'stepStarted', stepStarted: { step, name, try: attemptTry } });
  }

  stepFinished(step: number, exitCode: number, signal: string, outcome: StepOutcome): void {
    this.push({ kind: 'stepFinished', stepFinished: { step, exitCode, signal, outcome } });
  }

  log(step: number, stream: OutputStream, data: Buffer): void {
    this.push({ kind: 'log', log: { step, stream, data } });
  }

  private push(event: Omit<pb.AttemptEvent, 'seq' | 'atMs'>): void {
    this.seq += 1;
    this.sink({ seq: this.seq, atMs: this.now(), ...event });
  }
}
