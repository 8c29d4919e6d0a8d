import { fork, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import type { FromSim, SimProcessConfig, SimStats, ToSim } from './protocol';
import { addCounts } from './stats';

export interface FleetOptions extends Omit<SimProcessConfig, 'namePrefix'> {
  /** Load-generator processes (the fleet is split evenly among them). */
  processes: number;
  /** Heap of each generator process (a channel per agent costs memory). */
  maxOldSpaceMiB?: number;
}

export interface GrowResult {
  enrollMs: number[];
  failed: number;
  agents: number;
  wallMs: number;
}

/** One sim-agents process and the answer it owes, if any. */
class SimProcess {
  private waiting: { type: FromSim['type']; resolve: (m: FromSim) => void; reject: (e: Error) => void } | undefined;
  private exited = false;

  constructor(readonly child: ChildProcess) {
    child.on('message', (msg: FromSim) => {
      if (this.waiting?.type !== msg.type) return;
      const w = this.waiting;
      this.waiting = undefined;
      w.resolve(msg);
    });
    child.once('exit', (code, signal) => {
      this.exited = true;
      this.waiting?.reject(new Error(`sim-agents process ${child.pid} exited (${code ?? signal})`));
      this.waiting = undefined;
    });
  }

  request<T extends FromSim['type']>(msg: ToSim | undefined, answer: T): Promise<Extract<FromSim, { type: T }>> {
    if (this.exited) return Promise.reject(new Error(`sim-agents process ${this.child.pid} is gone`));
    return new Promise((resolve, reject) => {
      this.waiting = { type: answer, resolve: (m) => resolve(m as Extract<FromSim, { type: T }>), reject };
      if (msg) this.child.send(msg);
    });
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.send({ type: 'stop' } satisfies ToSim);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await gone;
    clearTimeout(timer);
  }
}

/**
 * A simulated fleet spread over several load-generator processes (bench/fleet/sim-agents.ts), each
 * agent with its own gRPC connection. The bench process only steers it and gathers the samples.
 */
export class Fleet {
  private constructor(private readonly procs: SimProcess[]) {}

  static async start(o: FleetOptions): Promise<Fleet> {
    const main = path.join(__dirname, 'sim-agents.js');
    const procs = Array.from({ length: o.processes }, (_, i) => {
      const config: SimProcessConfig = {
        target: o.target,
        enrollToken: o.enrollToken,
        pool: o.pool,
        leaseWaitMs: o.leaseWaitMs,
        ...(o.caPem !== undefined ? { caPem: o.caPem } : {}),
        namePrefix: `sim-${o.pool}-g${i}`,
      };
      const child = fork(main, [JSON.stringify(config)], {
        execArgv: [`--max-old-space-size=${o.maxOldSpaceMiB ?? 4_096}`],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      return new SimProcess(child);
    });
    const fleet = new Fleet(procs);
    try {
      await Promise.all(procs.map((p) => p.request(undefined, 'ready')));
    } catch (err) {
      await fleet.stop();
      throw err;
    }
    return fleet;
  }

  get pids(): number[] {
    return this.procs.map((p) => p.child.pid ?? -1);
  }

  /**
   * Grows the fleet to `total` agents (split evenly), enrolling `enrollConcurrency` at a time overall;
   * after `deadlineMs` the agents not enrolled yet are given up (counted as failed).
   */
  async grow(total: number, enrollConcurrency: number, deadlineMs: number): Promise<GrowResult> {
    const started = performance.now();
    const k = this.procs.length;
    const answers = await Promise.all(
      this.procs.map((p, i) => {
        const to = Math.floor(total / k) + (i < total % k ? 1 : 0);
        return p.request(
          { type: 'grow', to, enrollConcurrency: Math.max(1, Math.ceil(enrollConcurrency / k)), deadlineMs },
          'grown',
        );
      }),
    );
    return {
      enrollMs: answers.flatMap((a) => a.enrollMs),
      failed: answers.reduce((s, a) => s + a.failed, 0),
      agents: answers.reduce((s, a) => s + a.agents, 0),
      wallMs: performance.now() - started,
    };
  }

  /** Everything measured since the last collect, merged over the processes (and reset there). */
  async collect(): Promise<SimStats> {
    const all = await Promise.all(this.procs.map((p) => p.request({ type: 'collect' }, 'stats')));
    return {
      heartbeatMs: all.flatMap((s) => s.heartbeatMs),
      assignments: all.flatMap((s) => s.assignments),
      errors: all.reduce((acc, s) => addCounts(acc, s.errors), {} as Record<string, number>),
      okCalls: all.reduce((n, s) => n + s.okCalls, 0),
      loopDelayP99Ms: Math.max(0, ...all.map((s) => s.loopDelayP99Ms)),
      agents: all.reduce((s, a) => s + a.agents, 0),
    };
  }

  async stop(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.stop()));
  }
}
