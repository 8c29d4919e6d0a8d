import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  replicatedStackOptions,
  Stack,
  tryMountTmpfs,
  tryUnmount,
  waitFor,
  type ManagedProcess,
  type PrivateService,
} from '@jr/testing';
import { ArtifactServer } from './artifacts';
import { AgentLink } from './links';
import { Replicas, REPLICA_NAMES } from './replicas';
import { PgPair, RedisSet } from './topology';

/** How the API's journal is made to run out of space. */
export type DiskMode = 'tmpfs' | 'journal-max-bytes';

/**
 * JR_JOURNAL_MAX_BYTES where no tmpfs may be mounted (not root): the API's smallest accepted bound
 * (config.schema.ts refuses less than 8 MiB, so 4 MiB could never start), which the journal-full
 * fault's ~120 kB ballast jobs fill in about 70 submissions (faults.ts gives up after 300).
 */
export const FALLBACK_JOURNAL_MAX_BYTES = '8MiB';

/** Each replica's disk (a 64 MiB tmpfs of its own when permitted). */
function mountDisks(base: string, log: (line: string) => void): { disks: string[]; mode: DiskMode } {
  const disks = REPLICA_NAMES.map((n) => path.join(base, `disk-${n.toLowerCase()}`));
  for (const d of disks) fs.mkdirSync(d);
  const mounted = process.env.JR_TEST_NO_TMPFS !== '1' && disks.every((d) => tryMountTmpfs(d, '64m'));
  if (!mounted) for (const d of disks) tryUnmount(d);
  log(
    mounted
      ? `each replica's data dir on a 64 MiB tmpfs of its own (${disks.join(', ')})`
      : 'tmpfs not permitted: disk full is emulated by JR_JOURNAL_MAX_BYTES with Postgres away',
  );
  return { disks, mode: mounted ? 'tmpfs' : 'journal-max-bytes' };
}

/**
 * Everything a soak runs on: PostgreSQL primary + synchronous standby and Redis master + replica +
 * Sentinel of its own (so they may be killed and failed over), two jr-api replicas (A: the Stack's
 * API, B: a replica), each with its data directory on a small tmpfs of its own (so its disk may fill),
 * N agents each behind its own pair of FaultProxies (one per replica), and the download server.
 */
export class SoakWorld {
  readonly proxies: AgentLink[] = [];
  readonly agentNames: string[] = [];
  /** Set by the faults while they hold a dependency down. */
  redisDown = false;
  postgresDown = false;
  private slots = 4;
  private constructor(
    readonly base: string,
    readonly pg: PgPair,
    readonly redisSet: RedisSet,
    readonly stack: Stack,
    readonly replicas: Replicas,
    readonly diskMode: DiskMode,
    /** Each replica's data directory (A, B). */
    readonly apiDataDirs: string[],
    readonly artifacts: ArtifactServer,
    readonly marker: string,
  ) {}

  static async create(agents: number, slots: number, log: (line: string) => void): Promise<SoakWorld> {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'jr-soak-'));
    fs.chmodSync(base, 0o755); // as root, PostgreSQL runs as the postgres user: it must reach pg/ below
    const { disks, mode } = mountDisks(base, log);
    const started: Array<() => Promise<void>> = [];
    try {
      const redisSet = await RedisSet.start(path.join(base, 'redis'));
      started.push(() => redisSet.stop());
      const pg = await PgPair.start(path.join(base, 'pg'));
      started.push(() => pg.stop());
      const dataDirs = disks.map((d) => path.join(d, 'api'));
      const { stack, replicas } = await startReplicas(pg, redisSet, dataDirs, mode);
      started.unshift(() => stack.close());
      const artifacts = await ArtifactServer.start();
      const marker = path.join(stack.dropDir, 'runs.log'); // the steps run as an unprivileged job user
      const world = new SoakWorld(base, pg, redisSet, stack, replicas, mode, dataDirs, artifacts, marker);
      try {
        for (let k = 0; k < agents; k++) await world.addAgent(k, slots);
      } catch (err) {
        await world.close().catch(() => undefined);
        throw err;
      }
      return world;
    } catch (err) {
      // A failed start leaves nothing behind: no services, no mount (world.close() did it all if it got that far).
      for (const stop of started) await stop().catch(() => undefined);
      if (mode === 'tmpfs') for (const d of disks) tryUnmount(d);
      fs.rmSync(base, { recursive: true, force: true });
      throw err;
    }
  }

  /** The current PostgreSQL primary and Redis master (faults that kill "the" dependency hit these). */
  get postgres(): PrivateService {
    return this.pg.primary;
  }

  /** Agents with an even number list A first, the others B first. */
  endpointOrder(k: number): number[] {
    return k % 2 === 0 ? [0, 1] : [1, 0];
  }

  private agentOptions(k: number): Parameters<Stack['startAgent']>[1] {
    const link = this.proxies[k];
    if (!link) throw new Error(`no proxy for agent ${k}`);
    return {
      slots: this.slots,
      grpcTarget: link.endpoints,
      extraEnv: {
        JR_LABELS: `agent=a${k}`,
        JR_BREAKER_THRESHOLD: '2',
        JR_BREAKER_MIN_OUTAGE: '0s',
        JR_REPORT_TIMEOUT: '1s',
        JR_SHUTDOWN_GRACE: '2s',
        // back on its first replica 10 s after it is reachable again, so fail-backs happen within a soak
        JR_API_FAILBACK_AFTER: '10s',
        // The soak's artifact server is plain http on loopback: allowed explicitly.
        JR_ARTIFACT_ALLOW_HTTP: '1',
        JR_ARTIFACT_ALLOW_CIDRS: '127.0.0.1/32',
      },
    };
  }

  private async addAgent(k: number, slots: number): Promise<void> {
    this.slots = slots;
    this.proxies[k] = await AgentLink.start(this.endpointOrder(k).map((i) => this.replicas.grpcAddress(i)));
    this.agentNames[k] = `a${k}`;
    await this.stack.startAgent(`a${k}`, this.agentOptions(k));
  }

  agent(k: number): ManagedProcess {
    const a = this.stack.agents.get(`a${k}`);
    if (!a) throw new Error(`agent a${k} unknown`);
    return a;
  }

  /**
   * Starts agent k again on its data directory (it keeps its id) and waits until the new process is
   * ready (the API may still list the killed one as active for a few heartbeats).
   */
  async restartAgent(k: number): Promise<void> {
    const readyLines = (log: string): number => log.split('"jr-agent ready"').length - 1;
    const before = readyLines(this.agent(k).log());
    const agent = await this.stack.startAgent(`a${k}`, { ...this.agentOptions(k), waitActive: false });
    await waitFor(
      () => {
        if (!agent.running) throw new Error(`agent a${k} exited:\n${agent.log().slice(-3_000)}`);
        return readyLines(agent.log()) > before;
      },
      { timeoutMs: 30_000, what: `agent a${k} to start again` },
    );
  }

  /** Runs the real `jr` CLI with both replicas (JR_API_URL=A,B); retried while none answers (69) or 5xx (70). */
  async cli(args: string[], okCodes: number[] = [0]): Promise<number> {
    for (let tries = 0; ; tries++) {
      const r = await this.stack.cli(args, { JR_REQUEST_TIMEOUT: '5s', JR_API_URL: this.replicas.urls.join(',') });
      if (okCodes.includes(r.code)) return r.code;
      if (![69, 70].includes(r.code) || tries > 60)
        throw new Error(`jr ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
      await new Promise((res) => setTimeout(res, 500));
    }
  }

  /** `jr slo` over the run (text), through any replica; the error instead when no replica answers. */
  async sloTable(windowHours: number): Promise<string> {
    const r = await this.stack.cli(['slo', '--window', `${windowHours}h`], {
      JR_REQUEST_TIMEOUT: '20s',
      JR_API_URL: this.replicas.urls.join(','),
    });
    return r.code === 0 ? r.stdout.trimEnd() : `jr slo exited ${r.code}: ${r.stderr.trim()}`;
  }

  async close(): Promise<void> {
    for (const p of this.proxies) p.setMode({ kind: 'pass' });
    // both running, so the stack can drop its database and keys
    if (this.postgresDown) await this.pg.primary.start().catch(() => undefined);
    for (const d of this.apiDataDirs) fs.rmSync(path.join(path.dirname(d), 'ballast'), { force: true });
    await this.stack.close();
    for (const p of this.proxies) await p.close();
    await this.artifacts.close();
    await this.redisSet.stop();
    await this.pg.stop();
    if (this.diskMode === 'tmpfs') for (const d of this.apiDataDirs) tryUnmount(path.dirname(d));
    if (!process.env.JR_KEEP_E2E_DIRS) fs.rmSync(this.base, { recursive: true, force: true });
  }
}

/** A (the stack's API) and B on the pair and the set, sharing the test CA and one agent CA. */
async function startReplicas(
  pg: PgPair,
  redis: RedisSet,
  dataDirs: string[],
  mode: DiskMode,
): Promise<{ stack: Stack; replicas: Replicas }> {
  const tls = await replicatedStackOptions();
  const limit: Record<string, string> =
    mode === 'journal-max-bytes' ? { JR_JOURNAL_MAX_BYTES: FALLBACK_JOURNAL_MAX_BYTES } : {};
  const stack = new Stack('1s', {
    ...tls,
    redisUrl: redis.url,
    postgresServerUrl: pg.primary.url,
    databaseUrl: (url) => pg.databaseUrl(url),
    // canaries every 5 s: the run's own service levels are printed beside its invariants
    apiEnv: {
      ...tls.apiEnv,
      ...limit,
      JR_DATA_DIR: dataDirs[0] ?? '',
      JR_REPLICA_ID: 'a',
      JR_CANARY_INTERVAL: '5s',
    },
  });
  const replicas = new Replicas(stack, { JR_DATA_DIR: dataDirs[1] ?? '', JR_REPLICA_ID: 'b' });
  try {
    await stack.start();
    await replicas.startB();
  } catch (err) {
    await stack.close().catch(() => undefined);
    throw err;
  }
  return { stack, replicas };
}
