/**
 * `npm run drill -- failover`: two local "sites" in active-passive, as the talk's platform runs them. Site A
 * (jr-api, PostgreSQL primary, Redis) takes the work; site B (jr-api, a streaming standby of A's PostgreSQL,
 * its own Redis) waits. Agents hold both gRPC endpoints and clients both REST URLs, A first. The drill
 *   1. restarts A's jr-api (SIGKILL, start again): the reference a plain restart gives;
 *   2. loses site A whole (jr-api, PostgreSQL and Redis SIGKILLed) and promotes B's standby, as failover
 *      automation would once health checks fail (their detection time is not in these figures);
 *   3. fails back: A's PostgreSQL rebuilt as a standby of B, B stopped cleanly, A promoted, A's jr-api
 *      started on its old data directory (its journal applies what A acknowledged and B never received);
 *      then B is rebuilt as A's standby, so the drill ends where it began.
 * Every switch reports RTO (last job accepted before it -> first accepted after it, and -> first job running
 * after it) and the failover reports RPO: acknowledged jobs missing from B's database after the failover,
 * and at the end.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli, testTls, TEST_ADMIN_TOKEN, TEST_API_LIMITS, waitFor } from '@jr/testing';
import { onInterrupt } from '../lib/cleanup';
import { sleep } from '../lib/load';
import { agentCounter, startAgents, waitAgentsActive, type DrillAgent } from './fleet';
import { Site, type SiteCommon } from './site';
import { attemptStarts, finishedIn, missingIn, reruns, type Rerun } from './outcome';
import { Traffic } from './traffic';

export interface FailoverDrillOptions {
  /** Submissions per second. */
  rate: number;
  /** How long traffic flows between the switches. */
  phaseMs: number;
  agents: number;
  slots: number;
  /** synchronous_standby_names = '*' on the primary: commits wait for the other site. */
  synchronous: boolean;
  log: (line: string) => void;
}

/** One switch of the active site; times in ms, null when it never happened. */
export interface SwitchFigures {
  label: string;
  /** Last job accepted before the switch -> first job accepted after it. */
  acceptedGapMs: number | null;
  /** Last job accepted before the switch -> first attempt started after it. */
  runningGapMs: number | null;
  acceptedBy: string | null;
}

export interface FailoverDrillResult {
  switches: SwitchFigures[];
  acknowledged: number;
  unacknowledged: number;
  /** Acknowledged by A before it was lost, absent from B's database once B had applied its own. */
  missingAfterFailover: number;
  /** Acknowledged and absent from the final primary at the end. */
  missingAtEnd: number;
  /** Each of those: which site acknowledged it, when (relative to the switch before). */
  missingDetail: string[];
  finished: number;
  /** Jobs whose process started more than once (attempt start times relative to the switch before them). */
  reruns: Rerun[];
  breakerOpenings: number;
  endpointSwitches: number;
  cliAfterFailover: { code: number; stderr: string };
  synchronous: boolean;
}

const JOB = ['sh', '-c', 'sleep 0.2'];

export async function runFailoverDrill(o: FailoverDrillOptions): Promise<FailoverDrillResult> {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'jr-drill-'));
  fs.chmodSync(base, 0o711); // the postgres user (tests run as root) and the agents' job user pass through
  const tls = await testTls();
  const common: SiteCommon = {
    adminToken: TEST_ADMIN_TOKEN,
    enrollToken: 'drill-enroll-token',
    queuePrefix: 'jr-drill',
    heartbeatInterval: '1s',
    apiEnv: {
      ...TEST_API_LIMITS,
      JR_LOG_LEVEL: process.env.JR_DRILL_API_LOG_LEVEL ?? 'warn', // with JR_KEEP_DRILL_DIR=1: site-*/api.log
      JR_TLS_CERT: tls.certFile,
      JR_TLS_KEY: tls.keyFile,
      JR_AGENT_CA_CERT: tls.agentCaFile,
      JR_AGENT_CA_KEY: tls.agentCaKeyFile,
    },
    caFile: tls.caFile,
  };
  const a = await Site.create('a', base, common);
  const b = await Site.create('b', base, common);
  let agents: DrillAgent[] = [];
  let traffic: Traffic | undefined;
  const release = onInterrupt(async () => {
    for (const ag of agents) await ag.proc.kill();
    await Promise.all([a.stopAll(), b.stopAll()]);
    fs.rmSync(base, { recursive: true, force: true });
  });
  try {
    traffic = await setUp(o, a, b, common, tls.caPem, (started) => (agents = started));
    return await drill(o, a, b, common, traffic, agents);
  } catch (err) {
    if (err instanceof Error) err.message += `\n${postMortem(base)}`;
    throw err;
  } finally {
    release();
    await traffic?.stop();
    traffic?.close();
    for (const ag of agents) await ag.proc.stop(10_000).catch(() => undefined);
    await a.stopAll();
    await b.stopAll();
    if (!process.env.JR_KEEP_DRILL_DIR) fs.rmSync(base, { recursive: true, force: true });
    else o.log(`kept ${base}`);
  }
}

async function setUp(
  o: FailoverDrillOptions,
  a: Site,
  b: Site,
  common: SiteCommon,
  caPem: string,
  onAgents: (agents: DrillAgent[]) => void,
): Promise<Traffic> {
  await a.startPrimary();
  a.spawnApi();
  await a.waitReady();
  await b.startStandbyOf(a);
  if (o.synchronous) await a.requireSynchronousStandby();
  b.spawnApi(); // waits beside the standby until it is promoted
  const agents = await startAgents(a.dir, common, [a, b], o.agents, o.slots);
  onAgents(agents);
  await waitAgentsActive(
    a,
    common,
    caPem,
    agents.map((x) => x.name),
  );
  const endpoints = [
    { site: 'a', url: a.restUrl },
    { site: 'b', url: b.restUrl },
  ];
  const traffic = new Traffic(endpoints, common.adminToken, caPem, `drill-${randomBytes(4).toString('hex')}`, JOB);
  traffic.start(o.rate);
  o.log(`sites up (A primary, B standby${o.synchronous ? ', synchronous' : ''}); ${o.agents} agents; ${o.rate} jobs/s`);
  return traffic;
}

async function drill(
  o: FailoverDrillOptions,
  a: Site,
  b: Site,
  common: SiteCommon,
  traffic: Traffic,
  agents: DrillAgent[],
): Promise<FailoverDrillResult> {
  const events: SwitchEvent[] = [];
  const step = stepLogger(o.log);
  await sleep(o.phaseMs);

  // 1. the reference: a plain restart of A's jr-api
  events.push({ label: 'restart of the API (reference)', atMs: Date.now(), from: 'a', to: 'a' });
  await a.api?.kill();
  a.spawnApi();
  await a.waitReady();
  o.log('reference: A restarted');
  await sleep(o.phaseMs);

  // 2. site A lost; B's standby promoted
  const lostAt = Date.now();
  events.push({ label: 'failover: site A lost, B promoted', atMs: lostAt, from: 'a', to: 'b' });
  await a.crash();
  step('failover: site A killed');
  b.promote();
  step('failover: B promoted');
  await b.waitReady();
  o.log('failover: B promoted and ready');
  const cli = await runCli(['submit', '--', 'true'], {
    JR_API_URL: `${a.restUrl},${b.restUrl}`,
    JR_TOKEN: common.adminToken,
    JR_CA_FILE: common.caFile,
  });
  await sleep(o.phaseMs);
  const missingAfterFailover = (
    await missingIn(
      b,
      traffic.acknowledged.filter((x) => x.atMs < lostAt).map((x) => x.id),
    )
  ).length;

  // 3. fail back: A rebuilt as B's standby, a planned switch to it, then B rebuilt as A's standby
  await a.startStandbyOf(b);
  await waitFor(() => a.caughtUpWith(b), { timeoutMs: 60_000, what: 'A to catch up with B' });
  step('fail-back: A rebuilt as a standby of B');
  const back: SwitchEvent = { label: 'fail-back: B stopped, A promoted', atMs: Date.now(), from: 'b', to: 'a' };
  events.push(back);
  await b.api?.stop(20_000);
  back.downAtMs = Date.now();
  step('fail-back: B stopped');
  await waitFor(() => a.caughtUpWith(b), { timeoutMs: 60_000, what: 'A to catch up with B after B stopped' });
  await b.pg.stop();
  step('fail-back: A caught up, B stopped');
  a.promote();
  step('fail-back: A promoted');
  a.spawnApi();
  await a.waitReady();
  o.log('fail-back: A promoted and ready');
  await b.startStandbyOf(a);
  b.spawnApi();
  await sleep(o.phaseMs);
  await traffic.stop();

  const ids = traffic.acknowledged.map((x) => x.id);
  await waitFor(async () => (await finishedIn(a, ids)) === ids.length, {
    timeoutMs: 120_000,
    intervalMs: 500,
    what: 'every acknowledged job to finish',
  }).catch(() => undefined);
  const starts = await attemptStarts(a, ids);
  const missing = await missingIn(a, ids);
  return {
    switches: events.map((e) => switchFigures(e, traffic, starts)),
    acknowledged: ids.length,
    unacknowledged: traffic.unacknowledged,
    missingAfterFailover,
    missingAtEnd: missing.length,
    missingDetail: missing.map((id) => describeAck(id, traffic, events)),
    finished: await finishedIn(a, ids),
    reruns: relativeTo(await reruns(a, ids), events),
    breakerOpenings: await agentCounter(agents, 'jr_agent_breaker_opened_total'),
    endpointSwitches: await agentCounter(agents, 'jr_agent_api_endpoint_switches_total'),
    cliAfterFailover: { code: cli.code, stderr: cli.stderr.trim().slice(0, 500) },
    synchronous: o.synchronous,
  };
}

interface SwitchEvent {
  label: string;
  /** When the switch began (the kill, or the start of a clean stop). */
  atMs: number;
  /** When the old API was gone, for a clean stop that takes a while (its agents finish work meanwhile). */
  downAtMs?: number;
  from: string;
  to: string;
}

/** Logs each step with the ms since the previous one. */
function stepLogger(log: (line: string) => void): (what: string) => void {
  let last = Date.now();
  return (what) => {
    const now = Date.now();
    log(`${what} (+${now - last} ms)`);
    last = now;
  };
}

function switchFigures(e: SwitchEvent, traffic: Traffic, starts: number[]): SwitchFigures {
  const last = traffic.lastOn(e.from, e.atMs);
  const first = traffic.firstOn(e.to, e.atMs);
  const firstStart = starts.find((s) => s > (e.downAtMs ?? e.atMs));
  return {
    label: e.label,
    acceptedGapMs: last && first ? first.atMs - last.atMs : null,
    runningGapMs: last && firstStart !== undefined ? firstStart - last.atMs : null,
    acceptedBy: first?.site ?? null,
  };
}

function describeAck(id: string, traffic: Traffic, events: SwitchEvent[]): string {
  const ack = traffic.acknowledged.find((x) => x.id === id);
  if (!ack) return `${id}: not acknowledged`;
  const e = [...events].reverse().find((x) => x.atMs <= ack.atMs);
  return `${id}: acknowledged by site ${ack.site} ${e ? `${ack.atMs - e.atMs} ms after ${e.label}` : 'before any switch'}`;
}

/** Names, for each attempt, the switch it started after and how long after it (ms). */
function relativeTo(list: Rerun[], events: Array<{ label: string; atMs: number }>): Rerun[] {
  for (const r of list)
    for (const at of r.attempts) {
      const e = [...events].reverse().find((x) => at.startedAtMs !== null && x.atMs <= at.startedAtMs);
      at.after = e && at.startedAtMs !== null ? `${at.startedAtMs - e.atMs} ms after ${e.label}` : 'before any switch';
    }
  return list;
}

function postMortem(base: string): string {
  const tail = (file: string): string => {
    try {
      return fs.readFileSync(file, 'utf8').slice(-2_000);
    } catch {
      return '';
    }
  };
  return ['a', 'b'].map((s) => `--- site ${s} api ---\n${tail(path.join(base, `site-${s}`, 'api.log'))}`).join('\n');
}
