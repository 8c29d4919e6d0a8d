import type { AgentList, AgentView, JobView } from '@jr/contracts';
import type { SoakWorld } from './world';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** Until every replica answers /readyz 200 with every dependency up (or `timeoutMs`). */
export async function waitReady(world: SoakWorld, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await world.replicas.allReady()) return;
    await sleep(100);
  }
}

/** A job as whichever replica answers sees it (undefined: none did, or it does not know it yet). */
export function jobOf(world: SoakWorld, id: string): Promise<JobView | undefined> {
  return world.replicas.get<JobView>(`/v1/jobs/${id}`).catch(() => undefined);
}

/** Polls a job until it is in one of `states`; with `operator`, re-enables reporting when an agent's breaker shows open. */
export async function waitState(
  world: SoakWorld,
  id: string,
  states: string[],
  timeoutMs: number,
  operator = false,
): Promise<string | undefined> {
  const deadline = Date.now() + timeoutMs;
  let state: string | undefined;
  for (let k = 0; Date.now() < deadline; k++) {
    state = (await jobOf(world, id))?.state;
    if (state !== undefined && states.includes(state)) return state;
    if (operator && k % 10 === 9) await enableIfOpen(world);
    await sleep(200);
  }
  return state;
}

/** The operator's reaction to an "agent reporting suspended" alert. */
export async function enableIfOpen(world: SoakWorld): Promise<boolean> {
  const agents = await agentViews(world).catch(() => [] as AgentView[]);
  if (!agents.some((a) => a.breakerState === 'open')) return false;
  await world.cli(['agents', 'enable-reporting', '--all']);
  return true;
}

export async function agentViews(world: SoakWorld): Promise<AgentView[]> {
  return (await world.replicas.get<AgentList>('/v1/agents')).items;
}
