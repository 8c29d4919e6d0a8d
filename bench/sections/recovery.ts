/**
 * Recovery, against a real jr-api and real jr-agents on a private Redis:
 * (a) re-lease after an agent SIGKILL, as a multiple of the heartbeat interval (contract: lost after 3);
 * (b) API SIGKILL -> /readyz 200 with jobs journaled, and until the next submitted job runs;
 * (c) Redis emptied -> every queued job re-enqueued (100k; 2k with --quick), beside raw BullMQ addBulk.
 */
import { Stack, startPrivateRedis, type PrivateService } from '@jr/testing';
import { BENCH_LIMITS } from '../lib/bench-stack';
import { figure, type BenchSection, type Figure, type SectionResult } from '../lib/report';
import { measureApiRestart, measureReLease, type ApiRestart, type ReLease } from '../fleet/recovery-steps';
import { measureRedisLoss, type RedisLoss } from '../fleet/recovery-redis';
import { round } from '../fleet/stats';

const CONTRACT_LOST_AFTER_HEARTBEATS = 3;

interface Plan {
  heartbeatInterval: string;
  heartbeatIntervalMs: number;
  journaledJobs: number;
  redisJobs: number;
}

const plan = (quick: boolean): Plan =>
  quick
    ? { heartbeatInterval: '1s', heartbeatIntervalMs: 1_000, journaledJobs: 50, redisJobs: 2_000 }
    : { heartbeatInterval: '2s', heartbeatIntervalMs: 2_000, journaledJobs: 300, redisJobs: 100_000 };

export const recovery: BenchSection = async (ctx) => {
  const p = plan(ctx.quick);
  const redis: PrivateService = await startPrivateRedis(ctx.workDir);
  const stack = new Stack(p.heartbeatInterval, { redisUrl: redis.url, apiEnv: { ...BENCH_LIMITS } });
  try {
    const coldStarted = performance.now();
    await stack.start();
    const coldStartS = (performance.now() - coldStarted) / 1_000;
    ctx.log(`API up in ${round(coldStartS, 2)} s; (a) SIGKILL of an agent running a job`);
    const { result: relet } = await measureReLease(stack, p.heartbeatIntervalMs, Date.now());
    ctx.log(
      `re-leased after ${round(relet.seconds, 2)} s; (b) SIGKILL of the API with ${p.journaledJobs} jobs just journaled`,
    );
    const restart = await measureApiRestart(stack, p.journaledJobs);
    ctx.log(
      `ready again after ${round(restart.readySeconds, 2)} s; (c) Redis emptied under ${p.redisJobs} queued jobs`,
    );
    const loss = await measureRedisLoss(stack, redis, p.redisJobs, ctx.log);
    return result(p, coldStartS, relet, restart, loss);
  } finally {
    await stack.close();
    await redis.stop();
  }
};

function result(p: Plan, coldStartS: number, relet: ReLease, restart: ApiRestart, loss: RedisLoss): SectionResult {
  const figures: Figure[] = [
    figure({
      key: 'recovery.relet_heartbeats',
      label: 'agent SIGKILL -> job running on another agent',
      value: round(relet.seconds / (p.heartbeatIntervalMs / 1_000), 2),
      unit: 'x heartbeat',
      reference: { label: 'contract: lost after', value: CONTRACT_LOST_AFTER_HEARTBEATS },
      note: `${round(relet.seconds, 2)} s at JR_HEARTBEAT_INTERVAL=${p.heartbeatInterval}; attempts ${relet.attemptStates.join(', ')}`,
    }),
    figure({
      key: 'recovery.api_ready',
      label: `API SIGKILL -> /readyz 200 (${restart.journaledJobs} jobs journaled)`,
      value: round(restart.readySeconds, 2),
      unit: 's',
      reference: { label: 'first start (new database)', value: round(coldStartS, 2) },
      note: `${restart.survivors}/${restart.journaledJobs} acknowledged jobs known after the restart`,
    }),
    figure({
      key: 'recovery.api_next_job',
      label: 'API SIGKILL -> next submitted job running',
      value: round(restart.nextJobSeconds, 2),
      unit: 's',
      reference: { label: 'submit -> running before the kill', value: round(restart.jobBeforeKillSeconds, 3) },
      note: `${round(restart.nextJobAfterReadySeconds, 2)} s of it after /readyz (agent reconnect)`,
    }),
    figure({
      key: 'recovery.redis_all',
      label: `Redis emptied -> all ${loss.jobs} queued jobs back in BullMQ`,
      value: round(loss.allSeconds, 2),
      unit: 's',
      reference: { label: 'raw BullMQ addBulk of as many', value: round(loss.jobs / loss.rawAddBulkPerSecond, 3) },
      note: `first one after ${round(loss.firstSeconds, 2)} s (sentinel check every ~2 s); submitted at ${Math.round(loss.submitPerSecond)}/s`,
    }),
    figure({
      key: 'recovery.redis_rate',
      label: 'Redis emptied: re-enqueue rate',
      value: Math.round(loss.reEnqueuePerSecond),
      unit: 'jobs/s',
      reference: { label: 'raw BullMQ addBulk by 500, same Redis', value: Math.round(loss.rawAddBulkPerSecond) },
    }),
  ];
  return {
    id: 'recovery',
    title: `Recovery (heartbeat ${p.heartbeatInterval})`,
    figures,
    details: { plan: p, coldStartS, relet, restart, loss },
  };
}
