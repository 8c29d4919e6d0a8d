/**
 * Agent footprint: an idle jr-agent (enrolled, heartbeating every 10 s, its Lease long-polls parked)
 * sampled from /proc over a window: mean RSS and CPU% (all threads). Reference: a bare
 * `node -e 'setInterval(()=>{},1e3)'` of the same Node binary, sampled over the same window.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { withStack } from '../lib/bench-stack';
import { onInterrupt } from '../lib/cleanup';
import { round, sleep } from '../lib/load';
import { sampleFootprints } from '../lib/procstat';
import { figure, type BenchContext, type SectionResult } from '../lib/report';

/**
 * Quick mode samples 3 s: with the real 10 s heartbeat an idle agent may not run at all in that window
 * (0 %CPU says nothing), so it heartbeats every second there; the full run uses the 10 s default.
 */
const sizes = (quick: boolean) =>
  quick
    ? { settleSeconds: 1, seconds: 3, heartbeatInterval: '1s' }
    : { settleSeconds: 3, seconds: 30, heartbeatInterval: '10s' };

/** Three significant digits: an idle process's CPU% is small, and must not round to 0. */
const sig = (x: number): number => Number(x.toPrecision(3));

function startBareNode(): ChildProcess {
  return spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e3)'], { stdio: 'ignore' });
}

export async function footprintSection(ctx: BenchContext): Promise<SectionResult> {
  const o = sizes(ctx.quick);
  return withStack({ agents: 1, slots: 4, heartbeatInterval: o.heartbeatInterval }, async (stack) => {
    const agent = stack.agents.get('bench-0');
    if (!agent) throw new Error('the agent did not start');
    const bare = startBareNode();
    const release = onInterrupt(() => void bare.kill('SIGKILL'));
    try {
      await sleep(o.settleSeconds * 1_000);
      if (bare.pid === undefined || bare.exitCode !== null) throw new Error('the bare node process did not start');
      ctx.log(`sampling jr-agent (pid ${agent.pid}) and a bare node (pid ${bare.pid}) for ${o.seconds} s`);
      const [a, b] = await sampleFootprints([agent.pid, bare.pid], o.seconds);
      if (!agent.running) throw new Error(`the agent exited while idle:\n${agent.log().slice(-2_000)}`);
      const figures = [
        figure({
          key: 'footprint.rss',
          label: 'idle jr-agent RSS (mean)',
          value: round(a!.rssMeanMiB),
          unit: 'MiB',
          reference: { label: 'bare node, same binary', value: round(b!.rssMeanMiB) },
        }),
        figure({
          key: 'footprint.cpu',
          label: `idle jr-agent CPU, ${o.seconds} s, heartbeat ${o.heartbeatInterval}`,
          value: sig(a!.cpuPercent),
          unit: '%CPU',
          reference: { label: 'bare node setInterval 1 s', value: sig(b!.cpuPercent) },
        }),
      ];
      return {
        id: 'footprint',
        title: 'Idle agent footprint',
        figures,
        details: { sizes: o, agent: a, bareNode: b, heartbeatInterval: stack.heartbeatInterval },
      };
    } finally {
      release();
      bare.kill('SIGKILL');
    }
  });
}
