import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  FaultProxy,
  Stack,
  startPrivatePostgres,
  tryMountTmpfs,
  tryUnmount,
  startPrivateRedis,
  waitFor,
  type ManagedProcess,
  type PrivateService,
} from '@jr/testing';
import { ArtifactServer } from './artifacts';

/** How the API's journal is made to run out of space. */
export type DiskMode = 'tmpfs' | 'journal-max-bytes';

/**
 * JR_JOURNAL_MAX_BYTES where no tmpfs may be mounted (not root): the API's smallest accepted bound
 * (config.schema.ts refuses less than 8 MiB, so 4 MiB could never start), which the journal-full
 * fault's ~120 kB ballast jobs fill in about 70 submissions (faults.ts gives up after 300).
 */
export const FALLBACK_JOURNAL_MAX_BYTES = '8MiB';

/**
 * Everything a soak runs on: a private Redis and PostgreSQL (so they may be killed), the API's data
 * directory on a small tmpfs of its own (so its disk may fill), a Stack (real jr-api), N agents each
 * behind its own FaultProxy, and the download server.
 */
export class SoakWorld {
  readonly proxies: FaultProxy[] = [];
  readonly agentNames: string[] = [];
  /** Set by the faults while they hold a dependency down. */
  redisDown = false;
  postgresDown = false;
  private constructor(
    readonly base: string,
    readonly redis: PrivateService,
    readonly postgres: PrivateService,
    readonly stack: Stack,
    readonly diskMode: DiskMode,
    readonly apiDataDir: string,
    readonly artifacts: ArtifactServer,
    readonly marker: string,
  ) {}

  static async create(agents: number, slots: number, log: (line: string) => void): Promise<SoakWorld> {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'jr-soak-'));
    const disk = path.join(base, 'disk');
    fs.mkdirSync(disk);
    const diskMode: DiskMode =
      process.env.JR_TEST_NO_TMPFS !== '1' && tryMountTmpfs(disk, '64m') ? 'tmpfs' : 'journal-max-bytes';
    log(
      diskMode === 'tmpfs'
        ? `API data dir on a 64 MiB tmpfs (${disk})`
        : 'tmpfs not permitted: disk full is emulated by JR_JOURNAL_MAX_BYTES with Postgres away',
    );
    const started: Array<() => Promise<void>> = [];
    try {
      const redis = await startPrivateRedis(base);
      started.push(() => redis.stop());
      const postgres = await startPrivatePostgres(base);
      started.push(() => postgres.stop());
      const apiDataDir = path.join(disk, 'api');
      const apiEnv: Record<string, string> = {
        JR_DATA_DIR: apiDataDir,
        ...(diskMode === 'journal-max-bytes' ? { JR_JOURNAL_MAX_BYTES: FALLBACK_JOURNAL_MAX_BYTES } : {}),
      };
      const stack = new Stack('1s', { redisUrl: redis.url, postgresServerUrl: postgres.url, apiEnv });
      started.unshift(() => stack.close());
      await stack.start();
      const artifacts = await ArtifactServer.start();
      const world = new SoakWorld(
        base,
        redis,
        postgres,
        stack,
        diskMode,
        apiDataDir,
        artifacts,
        path.join(stack.dropDir, 'runs.log'), // the steps run as an unprivileged job user
      );
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
      if (diskMode === 'tmpfs') tryUnmount(disk);
      fs.rmSync(base, { recursive: true, force: true });
      throw err;
    }
  }

  get grpcPort(): number {
    return Number(this.stack.grpcAddress.split(':')[1]);
  }

  private agentOptions(k: number): Parameters<Stack['startAgent']>[1] {
    const proxy = this.proxies[k];
    if (!proxy) throw new Error(`no proxy for agent ${k}`);
    return {
      slots: this.slots,
      grpcTarget: proxy.address,
      extraEnv: {
        JR_LABELS: `agent=a${k}`,
        JR_BREAKER_THRESHOLD: '2',
        JR_BREAKER_MIN_OUTAGE: '0s',
        JR_REPORT_TIMEOUT: '1s',
        JR_SHUTDOWN_GRACE: '2s',
        // The soak's artifact server is plain http on loopback: allowed explicitly.
        JR_ARTIFACT_ALLOW_HTTP: '1',
        JR_ARTIFACT_ALLOW_CIDRS: '127.0.0.1/32',
      },
    };
  }

  private slots = 4;

  private async addAgent(k: number, slots: number): Promise<void> {
    this.slots = slots;
    this.proxies[k] = await FaultProxy.start({ host: '127.0.0.1', port: this.grpcPort });
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

  /** Runs the real `jr` CLI; retried while the API is unreachable (69) or answers 5xx (70). */
  async cli(args: string[], okCodes: number[] = [0]): Promise<number> {
    for (let tries = 0; ; tries++) {
      const r = await this.stack.cli(args, { JR_REQUEST_TIMEOUT: '5s' });
      if (okCodes.includes(r.code)) return r.code;
      if (![69, 70].includes(r.code) || tries > 60)
        throw new Error(`jr ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
      await new Promise((res) => setTimeout(res, 500));
    }
  }

  async close(): Promise<void> {
    for (const p of this.proxies) p.setMode({ kind: 'pass' });
    // both running, so the stack can drop its database and keys
    if (this.redisDown) await this.redis.start().catch(() => undefined);
    if (this.postgresDown) await this.postgres.start().catch(() => undefined);
    fs.rmSync(path.join(this.base, 'disk', 'ballast'), { force: true });
    await this.stack.close();
    for (const p of this.proxies) await p.close();
    await this.artifacts.close();
    await this.redis.stop();
    await this.postgres.stop();
    if (this.diskMode === 'tmpfs') tryUnmount(path.join(this.base, 'disk'));
    if (!process.env.JR_KEEP_E2E_DIRS) fs.rmSync(this.base, { recursive: true, force: true });
  }
}
