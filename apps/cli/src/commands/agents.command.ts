import type { Command } from 'commander';
import type { AgentAnswer } from '../api-schemas';
import { UsageError } from '../cli-error';
import type { Context, SetExit } from '../context';
import { EXIT } from '../exit-codes';
import { parseId } from '../options';
import { age, clean, formatLabels, formatTable, printJson, say } from '../output';
import { formatDurationMs } from '@jr/contracts';

export function registerAgents(program: Command, ctx: Context, setExit: SetExit): void {
  const agents = program
    .command('agents')
    .description(
      'agents: pool, labels, state (active, draining, stale, lost), last heartbeat, running jobs, reporting breaker, spool depth',
    )
    .option('--json', 'print the agents as one JSON document')
    .action(async (opts: { json?: boolean }) => {
      const list = await ctx.api().agents();
      if (opts.json) printJson(ctx.io, list);
      else if (list.items.length === 0) say(ctx.io, 'no agents');
      else ctx.io.stdout.write(renderAgents(list.items, ctx.clock.now()));
      setExit(EXIT.OK);
    });

  agents
    .command('enable-reporting')
    .description("re-enable an agent's status reporting after its breaker opened (ID, or --all)")
    .argument('[id]', 'agent id', parseId)
    .option('--all', 'every agent')
    .action(async (id: string | undefined, opts: { all?: boolean }) => {
      if ((id === undefined) === !opts.all) throw new UsageError('give an agent id or --all (not both)');
      await ctx.api().enableReporting(id);
      say(ctx.io, `reporting re-enable requested for ${id === undefined ? 'every agent' : clean(id)}`);
      setExit(EXIT.OK);
    });

  agents
    .command('drain')
    .description('stop leasing new jobs to an agent')
    .argument('<id>', 'agent id', parseId)
    .action(async (id: string) => {
      await ctx.api().drain(id);
      say(ctx.io, `drain requested for ${clean(id)} (undo: jr agents undrain ${clean(id)})`);
      setExit(EXIT.OK);
    });

  agents
    .command('undrain')
    .description('undo a drain: the agent leases jobs again from its next heartbeat')
    .argument('<id>', 'agent id', parseId)
    .action(async (id: string) => {
      const { state } = await ctx.api().undrain(id);
      const heartbeating = state === 'active' || state === 'draining';
      say(
        ctx.io,
        `undrained ${clean(id)}: ${heartbeating ? 'it leases jobs again from its next heartbeat' : `it is ${clean(state)}, and leases jobs again once it heartbeats`}`,
      );
      setExit(EXIT.OK);
    });

  agents
    .command('revoke')
    .description(
      'end every credential of an agent at its next call: it exits 77, its running jobs go to other agents, and it cannot enroll again until removed (jr agents rm)',
    )
    .argument('<id>', 'agent id', parseId)
    .action(async (id: string) => {
      const { attemptsEnded } = await ctx.api().revokeAgent(id);
      const ended =
        attemptsEnded > 0 ? `; ${attemptsEnded} running attempt(s) ended lost, their jobs queued again` : '';
      say(ctx.io, `revoked agent ${clean(id)}${ended} (to let the machine enroll again: jr agents rm ${clean(id)})`);
      setExit(EXIT.OK);
    });

  agents
    .command('rm')
    .description(
      "remove an agent's record (its credential ends); refused while it heartbeats or runs attempts, unless --force",
    )
    .argument('<id>', 'agent id', parseId)
    .option('--force', 'remove it anyway: its running attempts end lost and their jobs go back to the queue')
    .action(async (id: string, opts: { force?: boolean }) => {
      const { attemptsEnded } = await ctx.api().removeAgent(id, opts.force === true);
      const ended =
        attemptsEnded > 0 ? `; ${attemptsEnded} running attempt(s) end lost and their jobs go back to the queue` : '';
      say(ctx.io, `removed agent ${clean(id)}${ended}`);
      setExit(EXIT.OK);
    });
}

export function renderAgents(items: readonly AgentAnswer[], now: number): string {
  const rows = items.map((a) => [
    clean(a.id),
    clean(a.name, 30),
    clean(a.pool),
    clean(formatLabels(a.labels), 40),
    clean(agentState(a)),
    heartbeat(a, now),
    `${a.running ?? '-'}/${a.slots ?? '-'}`,
    clean(a.breakerState),
    spool(a),
  ]);
  return formatTable(['ID', 'NAME', 'POOL', 'LABELS', 'STATE', 'HEARTBEAT', 'RUNNING', 'BREAKER', 'SPOOL'], rows);
}

/** `revoked`; `draining`, or the state with `,draining` when a drained agent is also stale or lost. */
function agentState(a: AgentAnswer): string {
  if (a.revokedAt) return 'revoked';
  return a.draining && a.state !== 'draining' ? `${a.state},draining` : a.state;
}

/** The age by the API's clock when it says (a skewed local clock cannot hide a silent agent); else from the timestamp. */
function heartbeat(a: AgentAnswer, now: number): string {
  if (a.heartbeatAgeMs !== null && Number.isFinite(a.heartbeatAgeMs) && a.heartbeatAgeMs >= 0)
    return `${formatDurationMs(a.heartbeatAgeMs)} ago`;
  return a.lastHeartbeatAt ? age(a.lastHeartbeatAt, now) : 'never';
}

function spool(a: AgentAnswer): string {
  if (a.spoolDepth === undefined) return '-';
  if (a.spoolDepth === 0 || !a.spoolOldestAgeMs) return String(a.spoolDepth);
  return `${a.spoolDepth} (oldest ${formatDurationMs(a.spoolOldestAgeMs)})`;
}
