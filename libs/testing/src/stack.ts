import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AgentList, JobView } from '@jr/contracts';
import { groupHasLiveMembersSync } from '@jr/journal';
import { createTestDatabase, testRedisUrl, uniquePrefix, type TestDatabase } from './database';
import { deleteRedisPrefix } from './redis';
import { freePort } from './net';
import { fetchTrusting } from './https';
import {
  apiCaFile,
  apiIsInsecure,
  readCaIfExists,
  runCli,
  startAgentProcess,
  startApiProcess,
  type ApiProcessOptions,
  type CliResult,
  type ManagedProcess,
} from './processes';
import { waitFor } from './wait';
import { TEST_ADMIN_TOKEN } from './auth';
import { testTls } from './tls';

/**
 * Options for a stack whose API replicas (startReplica) agents may use interchangeably: every replica
 * serves the test CA's certificate and signs agents' client certificates with one shared agent CA, as
 * replicas of one deployment must (each API's self-made CAs would differ).
 */
export async function replicatedStackOptions(): Promise<StackOptions> {
  const t = await testTls();
  return {
    apiEnv: {
      JR_TLS_CERT: t.certFile,
      JR_TLS_KEY: t.keyFile,
      JR_AGENT_CA_CERT: t.agentCaFile,
      JR_AGENT_CA_KEY: t.agentCaKeyFile,
    },
    caFile: t.caFile,
  };
}

/** One more jr-api process of a stack (see Stack.startReplica), restartable on the same ports. */
export interface ApiReplica {
  readonly name: string;
  readonly httpPort: number;
  readonly grpcPort: number;
  readonly grpcAddress: string;
  proc: ManagedProcess;
}

export interface StackOptions {
  /** Another Redis than the tests' shared one (a private instance a chaos test may kill). */
  redisUrl?: string;
  /** Another PostgreSQL server (server-level URL) than the tests' shared one. */
  postgresServerUrl?: string;
  /** Extra environment for the API process (`JR_INSECURE: '1'` makes the whole stack plain text). */
  apiEnv?: Record<string, string>;
  /** With an operator certificate in `apiEnv.JR_TLS_CERT`: the CA file its clients trust. */
  caFile?: string;
  /** Rewrites the test database's URL the API processes get (e.g. a libpq multi-host list with a standby). */
  databaseUrl?: (url: string) => string;
}

/**
 * Set explicitly for every test API (this harness and test/integration/api/harness.ts): tests refuse
 * wrong tokens on purpose and enroll many agents, all from loopback: the default lockout (10 failures in 5 min)
 * and enroll limit (30/min) would turn the rest of a file's requests into 429s. Limits have tests of their own
 * (test/integration/api/rate-limits.test.ts), which set their own limits.
 */
export const TEST_API_LIMITS: Readonly<Record<string, string>> = {
  JR_AUTH_FAILURE_LIMIT: '100000/1m',
  JR_RATE_LIMIT_ENROLL: '100000/1m',
};

/**
 * A whole jobrunner on loopback for one test file: a real jr-api process on its own database and
 * queue prefix, real jr-agent processes, and the real CLI. Everything is torn down by `close()`.
 */
export class Stack {
  readonly adminToken = TEST_ADMIN_TOKEN;
  readonly enrollToken = 'e2e-enroll-token';
  api!: ManagedProcess;
  readonly agents = new Map<string, ManagedProcess>();
  private db!: TestDatabase;
  readonly prefix = uniquePrefix('e2e');
  private httpPort = 0;
  private grpcPort = 0;
  /** Where REST calls (get, fetch, cli) go: the first API unless useRestOf chose a replica. */
  private restPort = 0;
  readonly replicas = new Map<string, ApiReplica>();
  /** 0711: agents' job users must reach their workspaces (`agent-NAME-work/`) under it, not list it. */
  readonly dir = secretDir(fs.mkdtempSync(path.join(os.tmpdir(), 'jr-e2e-')));

  /**
   * A directory inside `dir` every user may write (mode 1777): the agents run steps as an unprivileged job user,
   * so files a test's jobs leave behind (markers) go here.
   */
  get dropDir(): string {
    const drop = path.join(this.dir, 'drop');
    if (!fs.existsSync(drop)) {
      fs.mkdirSync(drop);
      fs.chmodSync(drop, 0o1777);
    }
    return drop;
  }

  constructor(
    readonly heartbeatInterval = '1s',
    private readonly options: StackOptions = {},
  ) {}

  get redisUrl(): string {
    return this.options.redisUrl ?? testRedisUrl();
  }

  get grpcAddress(): string {
    return `127.0.0.1:${this.grpcPort}`;
  }

  get databaseUrl(): string {
    return this.db.url;
  }

  /** Plain text only when the test asked for it (JR_INSECURE=1): TLS is the product's default. */
  get insecure(): boolean {
    return apiIsInsecure(this.options.apiEnv);
  }

  get baseUrl(): string {
    return `${this.insecure ? 'http' : 'https'}://127.0.0.1:${this.restPort || this.httpPort}`;
  }

  /** The REST base URL of one replica (undefined: the first API), whichever useRestOf chose. */
  baseUrlOf(replica: ApiReplica | undefined): string {
    return `${this.insecure ? 'http' : 'https'}://127.0.0.1:${replica?.httpPort ?? this.httpPort}`;
  }

  /** REST calls of the test go to this replica from now on (undefined: the first API again). */
  useRestOf(replica: ApiReplica | undefined): void {
    this.restPort = replica?.httpPort ?? 0;
  }

  /** The CA the stack's clients trust: the API's own (made in its data dir at first start) or the operator's. */
  get caFile(): string {
    return apiCaFile({
      dataDir: path.join(this.dir, 'api'),
      extraEnv: this.options.apiEnv,
      caFile: this.options.caFile,
    });
  }

  /** The API's CA as PEM (undefined for a plain-text stack or before the API first started). */
  get caPem(): string | undefined {
    return this.insecure ? undefined : readCaIfExists(this.caFile);
  }

  /** How agents and the CLI of this stack trust the API (the environment variables). */
  get trustEnv(): Record<string, string> {
    return this.insecure ? { JR_INSECURE: '1' } : { JR_CA_FILE: this.caFile };
  }

  get cliEnv(): Record<string, string> {
    return { JR_API_URL: this.baseUrl, JR_TOKEN: this.adminToken, ...this.trustEnv };
  }

  /** fetch against this stack's API, trusting its CA: tests use this, never the global fetch. */
  fetch(route: string, init: RequestInit = {}): Promise<Response> {
    const ca = this.caPem;
    return fetchTrusting(`${this.baseUrl}${route}`, { ...init, ...(ca !== undefined ? { ca } : {}) });
  }

  async start(): Promise<this> {
    this.db = await createTestDatabase(this.options.postgresServerUrl);
    this.httpPort = await freePort();
    this.grpcPort = await freePort();
    await this.startApi();
    return this;
  }

  async startApi(): Promise<ManagedProcess> {
    this.api = await startApiProcess(
      this.apiOptions(this.httpPort, this.grpcPort, path.join(this.dir, 'api')),
      path.join(this.dir, 'api.log'),
    );
    return this.api;
  }

  private apiOptions(
    httpPort: number,
    grpcPort: number,
    dataDir: string,
    env: Record<string, string> = {},
  ): ApiProcessOptions {
    return {
      httpPort,
      grpcPort,
      dataDir,
      redisUrl: this.redisUrl,
      databaseUrl: this.options.databaseUrl ? this.options.databaseUrl(this.db.url) : this.db.url,
      adminToken: this.adminToken,
      enrollToken: this.enrollToken,
      queuePrefix: this.prefix,
      heartbeatInterval: this.heartbeatInterval,
      extraEnv: { ...TEST_API_LIMITS, ...this.options.apiEnv, ...env },
      ...(this.options.caFile !== undefined ? { caFile: this.options.caFile } : {}),
    };
  }

  /**
   * Starts (or, for a name started before, restarts on the same ports) another jr-api process on this
   * stack's database and queue prefix: a replica. Agents may use any replica only when they share the
   * server and agent CAs: build the stack with replicatedStackOptions(). `env` is added to (and wins over)
   * the stack's API environment for this replica, e.g. a JR_DATA_DIR of its own where apiEnv sets one.
   */
  async startReplica(name: string, env: Record<string, string> = {}): Promise<ApiReplica> {
    const known = this.replicas.get(name);
    const httpPort = known?.httpPort ?? (await freePort());
    const grpcPort = known?.grpcPort ?? (await freePort());
    const proc = await startApiProcess(
      this.apiOptions(httpPort, grpcPort, path.join(this.dir, `api-${name}`), env),
      path.join(this.dir, `api-${name}.log`),
    );
    const replica = known ?? { name, httpPort, grpcPort, grpcAddress: `127.0.0.1:${grpcPort}`, proc };
    replica.proc = proc;
    this.replicas.set(name, replica);
    return replica;
  }

  /** Starts an agent and waits until the API lists it as active. */
  async startAgent(
    name: string,
    opts: {
      slots?: number;
      pool?: string;
      extraEnv?: Record<string, string>;
      grpcTarget?: string;
      waitActive?: boolean;
    } = {},
  ): Promise<ManagedProcess> {
    const { waitActive = true, ...agentOpts } = opts;
    const logFile = path.join(this.dir, `agent-${name}.log`);
    // A restart after a SIGKILL: the API may still list the old process as active, so "active" alone
    // would return before the new process is up; a heartbeat after this moment can only be the new one's.
    const startedAtMs = Date.now();
    const agent = startAgentProcess(
      {
        grpcTarget: this.grpcAddress,
        dataDir: path.join(this.dir, `agent-${name}`),
        enrollToken: this.enrollToken,
        name,
        heartbeatInterval: this.heartbeatInterval,
        ...agentOpts,
        extraEnv: { ...(hasOwnTrust(agentOpts.extraEnv) ? {} : this.trustEnv), ...agentOpts.extraEnv },
      },
      logFile,
    );
    this.agents.set(name, agent);
    if (!waitActive) return agent;
    await waitFor(
      async () => {
        if (!agent.running) throw new Error(`agent ${name} exited:\n${agent.log().slice(-3_000)}`);
        const list = await this.get<AgentList>('/v1/agents');
        return list.items.some(
          (a) =>
            a.name === name &&
            a.state === 'active' &&
            a.lastHeartbeatAt !== null &&
            Date.parse(a.lastHeartbeatAt) >= startedAtMs,
        );
      },
      { timeoutMs: 20_000, what: `agent ${name} to enroll` },
    );
    return agent;
  }

  cli(args: string[], extraEnv: Record<string, string> = {}): Promise<CliResult> {
    return runCli(args, { ...this.cliEnv, ...extraEnv });
  }

  /** GET a JSON document as the admin; 60 s at most, so a hung API fails the test instead of stalling it. */
  async get<T>(route: string): Promise<T> {
    const res = await this.fetch(route, {
      headers: { authorization: `Bearer ${this.adminToken}` },
      signal: AbortSignal.timeout(60_000),
    });
    if (!res.ok) throw new Error(`GET ${route}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  }

  job(id: string): Promise<JobView> {
    return this.get<JobView>(`/v1/jobs/${id}`);
  }

  async logs(id: string): Promise<string> {
    const res = await this.fetch(`/v1/jobs/${id}/logs`, { headers: { authorization: `Bearer ${this.adminToken}` } });
    return res.text();
  }

  /** Post-mortem text for a failed assertion. */
  diagnostics(): string {
    const parts = [`--- api ---\n${this.api?.log().slice(-3_000) ?? ''}`];
    for (const [name, r] of this.replicas) parts.push(`--- api ${name} ---\n${r.proc.log().slice(-3_000)}`);
    for (const [name, a] of this.agents) parts.push(`--- agent ${name} ---\n${a.log().slice(-3_000)}`);
    return parts.join('\n');
  }

  async close(): Promise<void> {
    for (const a of this.agents.values()) await a.stop(10_000).catch(() => undefined);
    await this.api?.stop(10_000).catch(() => undefined);
    for (const r of this.replicas.values()) await r.proc.stop(10_000).catch(() => undefined);
    await this.db?.drop().catch(() => undefined);
    await deleteRedisPrefix(this.redisUrl, this.prefix).catch(() => undefined);
    if (process.env.JR_KEEP_E2E_DIRS) return;
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The test chose how this agent trusts the API itself (a CA, a pin, or plain text). */
function hasOwnTrust(env: Record<string, string> | undefined): boolean {
  return env !== undefined && ['JR_CA_FILE', 'JR_API_CA_SHA256', 'JR_INSECURE'].some((k) => k in env);
}

/** Writes a file in the stack's folder and returns its path. */
export function writeFile(stack: Stack, name: string, text: string): string {
  const p = path.join(stack.dir, name);
  fs.writeFileSync(p, text);
  return p;
}

/** True while any process of the group `pgid` is alive (a zombie nobody has reaped yet is not). */
export function groupAlive(pgid: number): boolean {
  return groupHasLiveMembersSync(pgid);
}

function secretDir(dir: string): string {
  fs.chmodSync(dir, 0o711);
  return dir;
}
