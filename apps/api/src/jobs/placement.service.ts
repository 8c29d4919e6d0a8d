import { Inject, Injectable } from '@nestjs/common';
import { labelsSatisfy, type JobView, type WaitingView } from '@jr/contracts';
import { AgentsRepository, type AgentRow } from '../agents/agents.repository';
import { agentHealth } from '../common/agent-liveness';
import { APP_CONFIG, CLOCK, type AppConfig, type Clock } from '../config/app-config';

type PlacementAgent = Pick<AgentRow, 'pool' | 'labels' | 'state' | 'drain_requested' | 'last_heartbeat_at'>;
type Inactive = 'draining' | 'stale' | 'lost';

/** How long one read of a pool's agents answers for every queued job of that pool. */
const CACHE_MS = 1_000;
/** Pools remembered at once (job pools are user input: the cache must not grow with them). */
const CACHE_POOLS = 1_000;

/**
 * Why a queued job cannot be placed: its pool has no agents, none of them has its labels, or those that
 * have them are all draining, stale (overdue heartbeat) or lost. Null when some matching agent is active,
 * even if busy: the job just waits its turn. Read from the agents table, once per pool per second.
 */
@Injectable()
export class PlacementService {
  private readonly cache = new Map<string, { atMs: number; agents: PlacementAgent[] }>();

  constructor(
    private readonly agents: AgentsRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** The views with `waiting` set on the queued ones (one query for all their pools at most); unchanged when the agents cannot be read. */
  async withWaiting(views: JobView[]): Promise<JobView[]> {
    // a fleet job is never placed itself: its targets' runs are (each pinned to its agent)
    const placeable = (v: JobView) => v.state === 'queued' && v.spec.fleet === undefined;
    const queued = views.filter(placeable);
    if (queued.length === 0) return views;
    const byPool = await this.agentsOf([...new Set(queued.map((v) => v.pool))]).catch(() => undefined);
    if (!byPool) return views;
    const nowMs = this.clock.now();
    return views.map((v) =>
      placeable(v) ? { ...v, waiting: this.waitingFor(v, byPool.get(v.pool) ?? [], nowMs) } : v,
    );
  }

  private waitingFor(
    job: Pick<JobView, 'pool' | 'labels'>,
    agents: PlacementAgent[],
    nowMs: number,
  ): WaitingView | null {
    const { pool } = job;
    if (agents.length === 0) return { code: 'no_agents_in_pool', message: `pool ${pool} has no agents` };
    const labels = labelText(job.labels);
    const matching = agents.filter((a) => labelsSatisfy(a.labels, job.labels));
    if (matching.length === 0)
      return { code: 'no_agent_with_labels', message: `no active agent in pool ${pool} has labels ${labels}` };
    const counts = new Map<Inactive, number>();
    for (const a of matching) {
      const why = this.inactive(a, nowMs);
      if (why === undefined) return null;
      counts.set(why, (counts.get(why) ?? 0) + 1);
    }
    const n = matching.length;
    const having = labels === '' ? '' : ` ${n === 1 ? 'has' : 'have'} labels ${labels}`;
    const why = (['draining', 'stale', 'lost'] as const)
      .filter((k) => counts.has(k))
      .map((k) => `${counts.get(k)} ${k}`);
    return {
      code: 'no_active_agent',
      message: `${n} agent${n === 1 ? '' : 's'} in pool ${pool}${having} but none is active: ${why.join(', ')}`,
    };
  }

  /** Undefined: the agent takes work now (the same rule as the agents list: common/agent-liveness.ts). */
  private inactive(a: PlacementAgent, nowMs: number): Inactive | undefined {
    const { state } = agentHealth(
      a.state,
      a.last_heartbeat_at?.getTime() ?? null,
      nowMs,
      this.config.heartbeatIntervalMs,
    );
    if (state === 'lost' || state === 'stale') return state;
    if (state === 'draining' || a.drain_requested) return 'draining';
    return undefined;
  }

  private async agentsOf(pools: string[]): Promise<Map<string, PlacementAgent[]>> {
    const nowMs = this.clock.now();
    const out = new Map<string, PlacementAgent[]>();
    const missing: string[] = [];
    for (const p of pools) {
      const hit = this.cache.get(p);
      if (hit && nowMs - hit.atMs < CACHE_MS && hit.atMs <= nowMs) out.set(p, hit.agents);
      else missing.push(p);
    }
    if (missing.length === 0) return out;
    const rows = await this.agents.placementOf(missing);
    for (const p of missing) out.set(p, []);
    for (const r of rows) out.get(r.pool)?.push(r);
    for (const p of missing) this.remember(p, out.get(p) ?? [], nowMs);
    return out;
  }

  private remember(pool: string, agents: PlacementAgent[], atMs: number): void {
    this.cache.delete(pool);
    this.cache.set(pool, { atMs, agents });
    if (this.cache.size > CACHE_POOLS) this.cache.delete(this.cache.keys().next().value as string);
  }
}

/** `gpu=true,os=linux` (keys sorted, as a user would type them in a job file). */
function labelText(labels: Record<string, string>): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(',');
}
