import { waitFor, type ManagedProcess, type Stack } from '@jr/testing';
import { cancelJob, killJobProcesses, submitJob, submitMany } from './recovery-client';
import { delay, epochMs } from './stats';

export interface ReLease {
  /** SIGKILL of agent A -> agent B has started the job's process (B's attempt startedAt). */
  seconds: number;
  heartbeatIntervalMs: number;
  attemptStates: string[];
  orphansKilled: number;
}

/**
 * (a) A long job runs on agent A; A is SIGKILLed; how long until agent B has started it again. B is
 * left running (the API-restart measurement uses it).
 */
export async function measureReLease(
  stack: Stack,
  heartbeatIntervalMs: number,
  apiReadyAtMs: number,
): Promise<{ result: ReLease; agentB: ManagedProcess }> {
  const a = await stack.startAgent('rec-a', { slots: 1 });
  // The reaper's first pass after the API starts grants an amnesty (3 intervals + 10 s) to every live
  // lease; a job leased before that pass would measure the amnesty, not the steady state. The pass
  // comes about half an interval after start: submit once it has surely run.
  await delay(Math.max(0, apiReadyAtMs + 2 * heartbeatIntervalMs - Date.now()));
  const id = await submitJob(stack, { name: 'recovery-long', steps: [{ run: ['sleep', '600'] }] });
  await waitFor(async () => (await stack.job(id)).attempts[0]?.startedAt ?? undefined, {
    timeoutMs: 30_000,
    what: 'the long job to start on agent A',
  });
  const agentB = await stack.startAgent('rec-b', { slots: 1 });
  const killedAt = epochMs();
  await a.kill();
  const job = await waitFor(
    async () => {
      const j = await stack.job(id);
      return j.attempts.length >= 2 && j.attempts.at(-1)?.startedAt ? j : undefined;
    },
    { timeoutMs: 30 * heartbeatIntervalMs + 30_000, intervalMs: 50, what: 'agent B to run the job again' },
  );
  const restartedAt = Date.parse(job.attempts.at(-1)?.startedAt ?? '');
  await cancelJob(stack, id);
  await waitFor(async () => ['cancelled', 'failed', 'succeeded'].includes((await stack.job(id)).state), {
    timeoutMs: 20_000,
    what: 'the long job to end',
  }).catch(() => undefined);
  const orphansKilled = killJobProcesses(id);
  return {
    result: {
      seconds: (restartedAt - killedAt) / 1_000,
      heartbeatIntervalMs,
      attemptStates: job.attempts.map((x) => x.state),
      orphansKilled,
    },
    agentB,
  };
}

export interface ApiRestart {
  journaledJobs: number;
  /** SIGKILL -> /readyz answers 200 again (process start, journal replay, Nest boot). */
  readySeconds: number;
  /** SIGKILL -> a job submitted as soon as it was ready has started on the agent. */
  nextJobSeconds: number;
  /** Ready -> that job started (the agent's reconnect backoff is most of it). */
  nextJobAfterReadySeconds: number;
  /** The reference: a job submitted before the kill, 202 -> started on the same agent. */
  jobBeforeKillSeconds: number;
  /** Jobs acknowledged before the kill that the API knows after it. */
  survivors: number;
}

/** (b) Jobs journaled (to a pool nobody serves), API SIGKILLed at once, restarted. */
export async function measureApiRestart(stack: Stack, journaled: number): Promise<ApiRestart> {
  const jobBeforeKillSeconds = await submitAndTimeStart(stack);
  const { ids } = await submitMany(stack, 'parked', journaled, 32);
  const killedAt = epochMs();
  await stack.api.kill();
  await stack.startApi(); // polls /readyz every 100 ms until 200
  const readyAt = epochMs();
  const startedAt = readyAt + (await submitAndTimeStart(stack)) * 1_000;
  let survivors = 0;
  for (const jid of ids)
    if (
      await stack.job(jid).then(
        () => true,
        () => false,
      )
    )
      survivors++;
  return {
    journaledJobs: ids.length,
    readySeconds: (readyAt - killedAt) / 1_000,
    nextJobSeconds: (startedAt - killedAt) / 1_000,
    nextJobAfterReadySeconds: (startedAt - readyAt) / 1_000,
    jobBeforeKillSeconds,
    survivors,
  };
}

/** Submits a no-op job; seconds from its 202 to the agent having started it. */
async function submitAndTimeStart(stack: Stack): Promise<number> {
  const submitted = epochMs();
  const id = await submitJob(stack, { name: 'probe', steps: [{ run: ['true'] }] });
  const started = await waitFor(async () => (await stack.job(id)).attempts[0]?.startedAt ?? undefined, {
    timeoutMs: 60_000,
    intervalMs: 25,
    what: `job ${id} to start`,
  });
  return (Date.parse(started) - submitted) / 1_000;
}
