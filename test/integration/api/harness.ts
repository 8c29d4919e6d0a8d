import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import * as nodeHttp from 'node:http';
import * as nodeHttps from 'node:https';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { Client } from 'pg';
import { loadAgentProto, type AgentServiceClient } from '@jr/contracts';
import { createCsr, createKeyPem } from '@jr/pki';
import {
  createTestDatabase,
  deleteRedisPrefix,
  fetchTrusting,
  freePort,
  testTls,
  testTlsIfMade,
  testRedisUrl,
  testServerUrl,
  TEST_API_LIMITS,
  uniquePrefix,
  TEST_ADMIN_TOKEN,
  type TestDatabase,
  type TestTls,
} from '@jr/testing';
import { startApi, type RunningApi } from '../../../apps/api/src/api';
import { loadConfig } from '../../../apps/api/src/config/config.schema';
import type { AppConfig } from '../../../apps/api/src/config/app-config';

export const ADMIN = TEST_ADMIN_TOKEN;
export const ENROLL = 'enroll-token-for-tests';

/** Real time plus an offset the test moves forward (lease expiry without sleeping). */
export class ShiftedClock {
  offsetMs = 0;
  now(): number {
    return Date.now() + this.offsetMs;
  }
  advance(ms: number): void {
    this.offsetMs += ms;
  }
}

export interface TestApi {
  api: RunningApi;
  config: AppConfig;
  db: TestDatabase;
  /** The PostgreSQL server (its `postgres` database) the test database lives on. */
  serverUrl: string;
  prefix: string;
  dataDir: string;
  clock: ShiftedClock;
  /** https://127.0.0.1:port (http:// only when the test set JR_INSECURE=1). */
  baseUrl: string;
  grpcAddress: string;
  /** The CA (PEM) clients trust for this API; undefined when it is plain text. */
  ca: string | undefined;
  /** Stops the API (if still running), drops the database, deletes the queue keys and the data dir. */
  cleanup(): Promise<void>;
  restart(): Promise<void>;
  /** Starts it again after `api.stop()` (the test may move the clock while it is down). */
  start(): Promise<void>;
}

/**
 * Takes this test's own database away from the API (and gives it back): Postgres "down" for this API
 * only, without touching the shared server or anyone else's database.
 */
export async function setDatabaseConnections(t: TestApi, allow: boolean): Promise<void> {
  const admin = new Client({ connectionString: t.serverUrl });
  await admin.connect();
  try {
    await admin.query(`ALTER DATABASE ${t.db.name} ALLOW_CONNECTIONS ${allow ? 'true' : 'false'}`);
    if (!allow)
      await admin.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
        [t.db.name],
      );
  } finally {
    await admin.end();
  }
}

export async function startTestApi(
  env: Record<string, string> = {},
  serverUrl: string = testServerUrl(),
  opts: { databaseUrl?: (testDbUrl: string) => string } = {},
): Promise<TestApi> {
  const db = await createTestDatabase(serverUrl);
  const t = await startOn(db, serverUrl, uniquePrefix('api'), env, opts);
  const stopAndClean = t.cleanup;
  t.cleanup = async () => {
    await stopAndClean();
    await db.drop();
    // a test's own (private, Sentinel-managed) Redis is the test's to remove
    if (t.config.redis.kind === 'url') await deleteRedisPrefix(t.config.redisUrl, t.prefix).catch(() => undefined);
  };
  return t;
}

/**
 * Another replica of `first`: the same database and queue prefix, its own ports, data directory and
 * process state. Its cleanup stops it and removes its data directory; the database stays `first`'s.
 */
export async function startTestReplica(
  first: Pick<TestApi, 'db' | 'serverUrl' | 'prefix'>,
  env: Record<string, string> = {},
  opts: { databaseUrl?: (testDbUrl: string) => string } = {},
): Promise<TestApi> {
  return startOn(first.db, first.serverUrl, first.prefix, env, opts);
}

async function startOn(
  db: TestDatabase,
  serverUrl: string,
  prefix: string,
  env: Record<string, string>,
  opts: { databaseUrl?: (testDbUrl: string) => string },
): Promise<TestApi> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'jr-api-'));
  // TLS by default, as in production: the shared test CA's certificate unless the test chose
  // (its own JR_TLS_CERT, JR_TLS_CERT: '' for the API's self-made CA, or JR_INSECURE=1).
  const testCa = await testTls();
  const tlsEnv =
    'JR_TLS_CERT' in env || env.JR_INSECURE
      ? {}
      : {
          JR_TLS_CERT: testCa.certFile,
          JR_TLS_KEY: testCa.keyFile,
          JR_AGENT_CA_CERT: testCa.agentCaFile,
          JR_AGENT_CA_KEY: testCa.agentCaKeyFile,
        };
  const loaded = loadConfig({
    JR_HTTP_PORT: String(await freePort()),
    JR_GRPC_PORT: String(await freePort()),
    JR_BIND_HOST: '127.0.0.1',
    JR_DATA_DIR: dataDir,
    REDIS_URL: testRedisUrl(),
    DATABASE_URL: opts.databaseUrl?.(db.url) ?? db.url,
    JR_ADMIN_TOKEN: ADMIN,
    JR_ENROLL_TOKEN: ENROLL,
    JR_QUEUE_PREFIX: prefix,
    JR_HEARTBEAT_INTERVAL: '1s',
    JR_LOG_LEVEL: 'silent',
    ...TEST_API_LIMITS,
    ...tlsEnv,
    ...env,
  });
  if (!loaded.ok) throw new Error(loaded.errors.join('; '));
  const clock = new ShiftedClock();
  const logger = pino({ level: process.env.JR_TEST_LOG ?? 'silent' });
  const api = await startApi(loaded.config, { clock, logger });
  const ca = trustedCa(api, testCa);
  const grpcAddress = `127.0.0.1:${loaded.config.grpcPort}`;
  if (ca !== undefined) grpcTrust.set(grpcAddress, ca);
  else grpcTrust.delete(grpcAddress);
  const t: TestApi = {
    api,
    config: loaded.config,
    db,
    serverUrl,
    prefix,
    dataDir,
    clock,
    baseUrl: `${ca === undefined ? 'http' : 'https'}://127.0.0.1:${loaded.config.httpPort}`,
    grpcAddress,
    ca,
    restart: async () => {
      await t.api.stop();
      t.api = await startApi(loaded.config, { clock, logger });
    },
    start: async () => {
      t.api = await startApi(loaded.config, { clock, logger });
    },
    cleanup: async () => {
      await t.api.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  return t;
}

/** The PEM the API's clients trust: the test CA for its certificate, the API's own CA, or none. */
function trustedCa(api: RunningApi, testCa: TestTls): string | undefined {
  if (!api.tls) return undefined;
  if (api.tls.caFile !== undefined) return readFileSync(api.tls.caFile, 'utf8');
  return api.tls.caSha256 === testCa.caSha256 ? testCa.caPem : api.tls.certPem;
}

/** grpc address -> CA of the test APIs started in this process (AgentClient trusts the right one). */
const grpcTrust = new Map<string, string>();

/** fetch against a test API, trusting its CA (tests never use the global fetch on the API). */
export function apiFetch(t: Pick<TestApi, 'baseUrl' | 'ca'>, url: string, init: RequestInit = {}): Promise<Response> {
  return fetchTrusting(`${t.baseUrl}${url}`, { ...init, ...(t.ca !== undefined ? { ca: t.ca } : {}) });
}

export interface HttpResult {
  status: number;
  headers: Headers;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the tests read JSON answers freely
  json: any;
}

export async function http(
  t: TestApi,
  method: string,
  url: string,
  opts: { token?: string | null; body?: unknown; raw?: string | Buffer; headers?: Record<string, string> } = {},
): Promise<HttpResult> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.token !== null) headers.authorization = `Bearer ${opts.token ?? ADMIN}`;
  let body: string | Buffer | undefined = opts.raw;
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await apiFetch(t, url, { method, headers, body });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/**
 * Like `http()`, but from a given local address (127.0.0.0/8 all reaches loopback): per-address limits
 * and lockouts need clients at several addresses.
 */
export function httpFrom(
  t: TestApi,
  localAddress: string,
  method: string,
  url: string,
  opts: { token?: string | null; body?: unknown } = {},
): Promise<HttpResult> {
  const headers: Record<string, string> = {};
  if (opts.token !== null) headers.authorization = `Bearer ${opts.token ?? ADMIN}`;
  const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  if (body !== undefined) headers['content-type'] = 'application/json';
  const mod = t.baseUrl.startsWith('https:') ? nodeHttps : nodeHttp;
  return new Promise((resolve, reject) => {
    const trust = t.ca !== undefined ? { ca: t.ca } : {};
    const req = mod.request(`${t.baseUrl}${url}`, { method, headers, localAddress, agent: false, ...trust }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers))
          if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(', ') : v);
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: h, text, json });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A raw connection to the REST port (TLS when the harness serves HTTPS), for slowloris and body tests. */
export function rawConnection(t: TestApi): Promise<net.Socket> {
  const port = t.api.httpPort;
  return new Promise((resolve, reject) => {
    const socket = t.baseUrl.startsWith('https:')
      ? tls.connect(
          { host: '127.0.0.1', port, ...(t.ca !== undefined ? { ca: t.ca } : { rejectUnauthorized: false }) },
          () => resolve(socket),
        )
      : net.connect({ host: '127.0.0.1', port }, () => resolve(socket));
    socket.once('error', reject);
  });
}

let clients = 0;

/** One key pair for every test agent of this process (a CSR per enrolment, as a machine would send). */
let sharedKey: Promise<{ keyPem: string; csrPem: string }> | undefined;
export function testAgentKey(): Promise<{ keyPem: string; csrPem: string }> {
  sharedKey ??= createKeyPem().then(async (keyPem) => ({ keyPem, csrPem: await createCsr(keyPem) }));
  return sharedKey;
}

/** A real grpc-js client of jobrunner.v1.AgentService with promise helpers. */
export class AgentClient {
  private grpcClient: AgentServiceClient;
  private readonly ca: string | null;
  private readonly address: string;
  private readonly options: grpc.ChannelOptions;
  credential = '';
  /** The client certificate chain Enroll gave (over TLS); later calls present it. */
  certificatePem = '';
  readonly name = `host-${++clients}`;

  /**
   * Trusts the CA of the test API at `address` (or, for another address such as a proxy in front of
   * one, the shared test CA); `opts.ca: null` speaks plain text, a PEM string trusts that CA.
   * `opts.identity`: a client certificate to present from the start; `opts.key`: the key its CSRs are
   * for (default: the process's shared test key).
   */
  constructor(
    address: string,
    opts: {
      ca?: string | null;
      options?: grpc.ChannelOptions;
      identity?: { keyPem: string; certPem: string };
      key?: { keyPem: string; csrPem: string };
    } = {},
  ) {
    this.address = address;
    this.options = opts.options ?? {};
    this.ca = opts.ca === undefined ? (grpcTrust.get(address) ?? testTlsIfMade()?.caPem ?? null) : opts.ca;
    this.key = opts.key;
    this.grpcClient = this.connect(opts.identity);
  }

  private key: { keyPem: string; csrPem: string } | undefined;

  get client(): AgentServiceClient {
    return this.grpcClient;
  }

  /** The key pair this client's CSRs are for. */
  async agentKey(): Promise<{ keyPem: string; csrPem: string }> {
    this.key ??= await testAgentKey();
    return this.key;
  }

  /** Presents `identity` from now on (a new channel: grpc-js fixes credentials per channel). */
  useIdentity(identity: { keyPem: string; certPem: string } | undefined): void {
    this.grpcClient.close();
    this.grpcClient = this.connect(identity);
  }

  private connect(identity?: { keyPem: string; certPem: string }): AgentServiceClient {
    const Ctor = loadAgentProto().jobrunner.v1.AgentService;
    const credentials =
      this.ca === null
        ? grpc.credentials.createInsecure()
        : grpc.credentials.createSsl(
            Buffer.from(this.ca),
            identity ? Buffer.from(identity.keyPem) : null,
            identity ? Buffer.from(identity.certPem) : null,
          );
    return new Ctor(this.address, credentials, this.options);
  }

  /** Enroll carries a CSR for this client's key unless the request has one; the certificate it gives is adopted. */
  async call<Res>(
    method: 'Enroll' | 'Heartbeat' | 'Lease' | 'Report' | 'Complete',
    req: object,
    opts: { token?: string | null; deadlineMs?: number; signal?: AbortSignal } = {},
  ): Promise<Res> {
    const key = method === 'Enroll' && this.ca !== null ? await this.agentKey() : undefined;
    const body = key && !('csrPem' in req) ? { ...req, csrPem: key.csrPem } : req;
    const res = await this.unary<Res>(method, body, opts);
    const chain = (res as { certificateChainPem?: string } | undefined)?.certificateChainPem;
    if (key && chain) {
      this.certificatePem = chain;
      this.useIdentity({ keyPem: key.keyPem, certPem: chain });
    }
    return res;
  }

  private unary<Res>(
    method: string,
    req: object,
    opts: { token?: string | null; deadlineMs?: number; signal?: AbortSignal },
  ): Promise<Res> {
    const md = new grpc.Metadata();
    const token = opts.token === undefined ? this.credential : opts.token;
    if (token !== null) md.set('authorization', `Bearer ${token}`);
    type UnaryFn = (
      req: object,
      md: grpc.Metadata,
      options: grpc.CallOptions,
      cb: (err: grpc.ServiceError | null, res: Res) => void,
    ) => grpc.ClientUnaryCall;
    return new Promise((resolve, reject) => {
      const fn = (this.grpcClient as unknown as Record<string, UnaryFn>)[method] as UnaryFn;
      const call = fn.call(
        this.grpcClient,
        req,
        md,
        { deadline: Date.now() + (opts.deadlineMs ?? 10_000) },
        (err, res) => (err ? reject(err) : resolve(res)),
      );
      opts.signal?.addEventListener('abort', () => call.cancel());
    });
  }

  /** Enrolls with the bootstrap token (or `token`); each client gets its own default name (a name is one agent's). */
  async enroll(
    req: { name?: string; pool?: string; labels?: Record<string, string>; slots?: number } = {},
    token: string = ENROLL,
  ): Promise<string> {
    const res = await this.call<{ agentId: string; credential: string }>(
      'Enroll',
      { name: this.name, pool: 'default', slots: 2, labels: {}, ...req },
      { token },
    );
    this.credential = res.credential;
    return res.agentId;
  }

  close(): void {
    this.grpcClient.close();
  }
}

export function grpcCode(err: unknown): number | undefined {
  return (err as { code?: number }).code;
}
