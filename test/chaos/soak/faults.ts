import * as fs from 'node:fs';
import * as path from 'node:path';
import { fillDisk } from '@jr/testing';
import { apiKill, postgresPromotion, replicaKill, restoreRedundancy, sentinelFailover } from './faults-topology';
import { sleep, waitReady, waitState } from './observe';
import { AGENT_FAULTS, faultTarget, type FaultPlan } from './plan';
import { submitWithRetry } from './stream';
import type { SoakWorld } from './world';

/** What happened to one planned fault, and how long the system took to recover from it. */
export interface FaultRecord {
  plan: FaultPlan;
  startedAt: number;
  /** When the fault was lifted (process restarted, network healed, space freed). */
  healedAt: number;
  /** healedAt → /readyz 200 with every dependency up. */
  readyMs: number;
  /** healedAt → a probe job (on the hit agent, for agent faults) succeeded. */
  probeMs: number;
  note: string;
}

/** Jobs the faults submit themselves (probes, partition load): each must succeed. */
export interface FaultJobs {
  ids: Array<{ id: string; why: string }>;
  refused: string[];
}

const PROBE_TIMEOUT_MS = 180_000;

/** Injects the fault, holds it, lifts it, then measures recovery. */
export async function runFault(
  world: SoakWorld,
  f: FaultPlan,
  jobs: FaultJobs,
  log: (line: string) => void,
): Promise<FaultRecord> {
  const startedAt = Date.now();
  const note = await inject(world, f, jobs);
  const healedAt = Date.now();
  const { readyMs, probeMs } = await measureRecovery(world, f, jobs, healedAt);
  const restored = await restoreRedundancy(world, f);
  const rec = { plan: f, startedAt, healedAt, readyMs, probeMs, note: `${note}${restored}` };
  const target = faultTarget(f);
  log(
    `fault ${f.kind}${target === '-' ? '' : ` ${target}`}: held ${healedAt - startedAt} ms (${rec.note}); ready after ${readyMs} ms, probe ok after ${probeMs} ms`,
  );
  return rec;
}

export const isAgentFault = (f: FaultPlan): boolean => AGENT_FAULTS.includes(f.kind);

async function inject(world: SoakWorld, f: FaultPlan, jobs: FaultJobs): Promise<string> {
  switch (f.kind) {
    case 'api-kill':
      return apiKill(world, f);
    case 'replica-kill':
      return replicaKill(world, f);
    case 'postgres-promotion':
      return postgresPromotion(world, f);
    case 'redis-sentinel-failover':
      return sentinelFailover(world, f);
    case 'redis-empty':
      await world.redisSet.killAll(f.holdMs);
      return 'master and replica SIGKILLed, back empty (no persistence)';
    case 'postgres-restart':
      return postgresRestart(world, f.holdMs);
    case 'agent-kill':
      await world.agent(f.agent).kill();
      await sleep(f.holdMs);
      await world.restartAgent(f.agent);
      return 'SIGKILL, restarted';
    case 'partition':
      return partition(world, f, jobs);
    case 'slow-network':
      return slowNetwork(world, f);
    case 'disk-full': {
      const r = f.agent % world.replicas.count;
      return world.diskMode === 'tmpfs' ? diskFull(world, r, f.holdMs, jobs) : journalFull(world, r, f.holdMs, jobs);
    }
  }
}

/** Latency on one agent's link; an overlapping partition of the same agent ends it early. */
async function slowNetwork(world: SoakWorld, f: FaultPlan): Promise<string> {
  const proxy = world.proxies[f.agent];
  proxy?.setMode({ kind: 'latency', ms: f.latencyMs });
  await sleep(f.holdMs);
  if (proxy?.currentMode.kind === 'latency') proxy.setMode({ kind: 'pass' });
  return `+${f.latencyMs} ms each way${f.overlapsNext ? ', overlapping the next fault' : ''}`;
}

/** SIGKILL the primary, hold, start it again on its data dir (crash recovery); the standby stays a standby. */
async function postgresRestart(world: SoakWorld, holdMs: number): Promise<string> {
  const primary = world.postgres;
  await primary.kill();
  world.postgresDown = true;
  await sleep(holdMs);
  await primary.start();
  world.postgresDown = false;
  return 'primary SIGKILLed, restarted (crash recovery)';
}

/**
 * Fills the tmpfs under replica r's data dir to the last byte, submits to it until intake refuses (the
 * journal's last page may still take a few records), holds, frees the space. The stream's submitters
 * go to the other replica meanwhile.
 */
async function diskFull(world: SoakWorld, r: number, holdMs: number, jobs: FaultJobs): Promise<string> {
  const ballast = path.join(path.dirname(world.apiDataDirs[r] ?? ''), 'ballast');
  fillDisk(ballast);
  const accepted = await submitUntilRefused(
    world,
    r,
    { name: 'soak-disk-filler', steps: [{ run: 'true' }] },
    'disk-full filler',
    jobs,
  );
  const saw503 = await readinessRefuses(world, r, holdMs);
  fs.rmSync(ballast, { force: true });
  return `tmpfs full, intake refused after ${accepted} more, /readyz 503 ${saw503 ? 'seen' : 'NOT seen'}`;
}

/** Submits `body` to replica r (each time a job of its own) until it answers 503; returns how many it acknowledged first. */
async function submitUntilRefused(
  world: SoakWorld,
  r: number,
  body: object,
  why: string,
  jobs: FaultJobs,
): Promise<number> {
  for (let i = 0; i < 300; i++) {
    const res = await post(world, r, body).catch(() => undefined);
    if (res?.status === 503) {
      await res.text();
      return i;
    }
    if (res?.status === 202) jobs.ids.push({ id: ((await res.json()) as { id: string }).id, why });
    else await res?.text();
  }
  return 300;
}

/** Without tmpfs: Postgres away (nothing drains the journal) and large jobs to replica r until it refuses on JR_JOURNAL_MAX_BYTES. */
async function journalFull(world: SoakWorld, r: number, holdMs: number, jobs: FaultJobs): Promise<string> {
  const primary = world.postgres;
  await primary.kill();
  world.postgresDown = true;
  const big = {
    name: 'soak-ballast',
    steps: [{ run: `true ${'x'.repeat(60_000)}` }, { run: `true ${'y'.repeat(60_000)}` }],
  };
  const refusedAt = await submitUntilRefused(world, r, big, 'journal ballast', jobs);
  const saw503 = await readinessRefuses(world, r, holdMs);
  await primary.start();
  world.postgresDown = false;
  return `journal size limit reached after ${refusedAt} large jobs, /readyz 503 ${saw503 ? 'seen' : 'NOT seen'}`;
}

async function readinessRefuses(world: SoakWorld, r: number, holdMs: number): Promise<boolean> {
  const until = Date.now() + holdMs;
  let seen = false;
  while (Date.now() < until || !seen) {
    if ((await world.replicas.readiness(r))?.status === 503) seen = true;
    if (Date.now() > until + 5_000) break;
    await sleep(100);
  }
  return seen;
}

/**
 * Blackholes agent k's path to the API while it runs a job that reports, until its reporting breaker
 * opens (the agent logs it), holds, heals, then the operator runs `jr agents enable-reporting --all`.
 */
async function partition(world: SoakWorld, f: FaultPlan, jobs: FaultJobs): Promise<string> {
  const proxy = world.proxies[f.agent];
  const agent = world.agent(f.agent);
  if (!proxy) throw new Error('no proxy');
  const load = await submitWithRetry(
    world,
    `partition-${f.atMs}-${f.agent}`,
    {
      name: 'soak-partition-load',
      labels: { agent: `a${f.agent}` },
      steps: [{ run: 'for i in $(seq 1 30); do echo tick $i; sleep 0.2; done' }],
    },
    jobs.refused,
  );
  if (load) jobs.ids.push({ id: load.id, why: 'partition load' });
  if (load) await waitState(world, load.id, ['running'], 60_000);
  const opened = breakerOpenings(agent.log());
  proxy.setMode({ kind: 'blackhole' });
  const t0 = Date.now();
  while (breakerOpenings(agent.log()) === opened && Date.now() - t0 < 60_000) await sleep(200);
  const open = breakerOpenings(agent.log()) > opened;
  await sleep(f.holdMs);
  proxy.setMode({ kind: 'pass' });
  await world.cli(['agents', 'enable-reporting', '--all']);
  return `blackhole; breaker ${open ? `opened after ${Date.now() - t0 - f.holdMs} ms` : 'did NOT open in 60 s'}; jr agents enable-reporting --all`;
}

const breakerOpenings = (log: string): number =>
  log.split('\n').filter((l) => l.includes('"reporting breaker open')).length;

async function measureRecovery(
  world: SoakWorld,
  f: FaultPlan,
  jobs: FaultJobs,
  healedAt: number,
): Promise<{ readyMs: number; probeMs: number }> {
  await waitReady(world, PROBE_TIMEOUT_MS);
  const readyMs = Date.now() - healedAt;
  const labels = isAgentFault(f) ? { agent: `a${f.agent}` } : {};
  const probe = await submitWithRetry(
    world,
    `probe-${f.kind}-${healedAt}`,
    { name: `soak-probe-${f.kind}`, labels, steps: [{ run: 'true' }] },
    jobs.refused,
  );
  if (!probe) return { readyMs, probeMs: NaN };
  jobs.ids.push({ id: probe.id, why: `probe after ${f.kind}` });
  const state = await waitState(
    world,
    probe.id,
    ['succeeded', 'failed', 'cancelled', 'timed_out'],
    PROBE_TIMEOUT_MS,
    true,
  );
  return { readyMs, probeMs: state === 'succeeded' ? Date.now() - healedAt : NaN };
}

function post(world: SoakWorld, r: number, body: object): Promise<Response> {
  return world.replicas.on(r, '/v1/jobs', {
    method: 'POST',
    headers: { authorization: `Bearer ${world.stack.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
}
