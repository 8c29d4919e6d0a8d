/**
 * A load-generator process holding part of a simulated fleet (forked by fleet.ts; config as JSON in
 * argv[2]). It grows its agents on request, and hands over what they measured on `collect`.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { FromSim, SimProcessConfig, SimStats, ToSim } from './protocol';
import { SimAgent, type SimSink } from './sim-agent';

const config = JSON.parse(process.argv[2] ?? '{}') as SimProcessConfig;
const agents: SimAgent[] = [];
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();

const fresh = (): Omit<SimStats, 'loopDelayP99Ms' | 'agents'> => ({
  heartbeatMs: [],
  assignments: [],
  errors: {},
  okCalls: 0,
});
let stats = fresh();

const sink: SimSink = {
  heartbeat: (ms) => void stats.heartbeatMs.push(ms),
  assignment: (jobId, at) => void stats.assignments.push([jobId, at]),
  error: (what) => void (stats.errors[what] = (stats.errors[what] ?? 0) + 1),
  ok: () => void stats.okCalls++,
};

function send(msg: FromSim): void {
  process.send?.(msg);
}

async function grow(to: number, concurrency: number, deadlineMs: number): Promise<void> {
  const giveUpAt = Date.now() + deadlineMs;
  const enrollMs: number[] = [];
  let failed = 0;
  let next = agents.length;
  const worker = async (): Promise<void> => {
    while (next < to && Date.now() < giveUpAt) {
      const agent = new SimAgent(`${config.namePrefix}-${next++}`, config, sink);
      try {
        enrollMs.push(await agent.enroll(giveUpAt));
        agents.push(agent);
        agent.start();
      } catch {
        failed++;
        agent.close();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, to - next)) }, worker));
  send({ type: 'grown', enrollMs, failed: failed + Math.max(0, to - next), agents: agents.length });
}

function collect(): void {
  const p99 = loopDelay.percentile(99) / 1e6;
  send({ type: 'stats', ...stats, loopDelayP99Ms: Number.isFinite(p99) ? p99 : 0, agents: agents.length });
  stats = fresh();
  loopDelay.reset();
}

function stop(): void {
  for (const a of agents) a.close();
  process.exit(0);
}

process.on('message', (msg: ToSim) => {
  switch (msg.type) {
    case 'grow':
      void grow(msg.to, msg.enrollConcurrency, msg.deadlineMs);
      return;
    case 'collect':
      return collect();
    case 'stop':
      return stop();
  }
});
// the controller went away: do not linger
process.on('disconnect', stop);
send({ type: 'ready' });
