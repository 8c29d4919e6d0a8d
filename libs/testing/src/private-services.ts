import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { canConnect, freePort } from './net';
import { waitFor } from './wait';

/**
 * Private Redis and PostgreSQL instances started from the machine's binaries, on free ports, with
 * their data under a directory of their own. Used when nothing answers on the configured URLs
 * (`npm run up`, `npm test` on a fresh machine) and by tests that kill or restart a dependency,
 * which must never touch the shared instances.
 */
export interface PrivateService {
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  /** SIGKILL, as a crash would. */
  kill(): Promise<void>;
  /** Clean stop. */
  stop(): Promise<void>;
  /** Start again on the same port (after kill/stop). */
  start(): Promise<void>;
  /** SIGSTOP / SIGCONT: the process hangs (its sockets stay open) and goes on. */
  freeze(frozen: boolean): void;
}

const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;

export class MissingBinaryError extends Error {
  constructor(what: string, hint: string) {
    super(`${what} not found: ${hint}`);
    this.name = 'MissingBinaryError';
  }
}

function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const candidate = path.join(dir, cmd);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

function aptInstall(pkg: string): void {
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore' });
  execFileSync('apt-get', ['install', '-y', '-qq', pkg], {
    stdio: 'ignore',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}

export function redisServerBinary(): string {
  let bin = which('redis-server');
  if (!bin && isRoot()) {
    aptInstall('redis-server');
    bin = which('redis-server');
  }
  if (!bin)
    throw new MissingBinaryError(
      'redis-server',
      'install it (sudo apt-get install redis-server) or set REDIS_URL to a reachable Redis',
    );
  return bin;
}

export function postgresBinDir(): string {
  const find = (): string | undefined => {
    const root = '/usr/lib/postgresql';
    if (!fs.existsSync(root)) return undefined;
    const versions = fs
      .readdirSync(root)
      .filter((v) => fs.existsSync(path.join(root, v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    return versions[0] ? path.join(root, versions[0], 'bin') : undefined;
  };
  let dir = find();
  if (!dir && isRoot()) {
    aptInstall('postgresql');
    dir = find();
  }
  if (!dir)
    throw new MissingBinaryError(
      'PostgreSQL (initdb)',
      'install it (sudo apt-get install postgresql) or set DATABASE_URL to a reachable server',
    );
  return dir;
}

class ProcessService implements PrivateService {
  private child: ChildProcess | undefined;
  constructor(
    readonly url: string,
    readonly port: number,
    readonly dataDir: string,
    private readonly command: () => { cmd: string; args: string[]; uid?: number; gid?: number },
    private readonly logFile: string,
    private readonly ready: () => Promise<boolean> = () => canConnect('127.0.0.1', port, 200),
  ) {}

  freeze(frozen: boolean): void {
    this.child?.kill(frozen ? 'SIGSTOP' : 'SIGCONT');
  }

  async start(): Promise<void> {
    const { cmd, args, uid, gid } = this.command();
    const out = fs.openSync(this.logFile, 'a');
    const child = spawn(cmd, args, {
      stdio: ['ignore', out, out],
      detached: false,
      ...(uid !== undefined ? { uid, gid } : {}),
    });
    fs.closeSync(out);
    this.child = child;
    let exited = false;
    child.once('exit', () => {
      exited = true;
    });
    await waitFor(async () => (exited ? Promise.reject(new Error(`exited; see ${this.logFile}`)) : this.ready()), {
      timeoutMs: 30_000,
      what: `${path.basename(cmd)} on port ${this.port}`,
    });
  }

  kill(): Promise<void> {
    return this.signal('SIGKILL');
  }

  stop(): Promise<void> {
    return this.signal('SIGTERM');
  }

  private async signal(sig: NodeJS.Signals): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(sig);
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

/** A Redis with no persistence and `noeviction`, as BullMQ needs. */
export async function startPrivateRedis(baseDir: string, port?: number): Promise<PrivateService> {
  const bin = redisServerBinary();
  const p = port ?? (await freePort());
  const dataDir = path.join(baseDir, `redis-${p}`);
  fs.mkdirSync(dataDir, { recursive: true });
  const service = new ProcessService(
    `redis://127.0.0.1:${p}`,
    p,
    dataDir,
    () => ({
      cmd: bin,
      args: [
        '--port',
        String(p),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--maxmemory-policy',
        'noeviction',
        '--dir',
        dataDir,
      ],
    }),
    path.join(dataDir, 'redis.log'),
  );
  await service.start();
  return service;
}

/** A replica of `master` (`--replicaof`), no persistence, on a port of its own. */
export async function startPrivateRedisReplica(baseDir: string, master: PrivateService): Promise<PrivateService> {
  return startRedisProcess(baseDir, await freePort(), ['--replicaof', '127.0.0.1', String(master.port)]);
}

/** A replica of `master` on a given port: a replica rebuilt, empty, where one was before. */
export function startPrivateRedisReplicaOn(
  baseDir: string,
  master: PrivateService,
  port: number,
): Promise<PrivateService> {
  return startRedisProcess(baseDir, port, ['--replicaof', '127.0.0.1', String(master.port)]);
}

/**
 * A Redis Sentinel (quorum 1, down after 1 s) watching `master` under `name`: with a replica started,
 * killing the master makes it promote the replica within a few seconds.
 */
export async function startPrivateSentinel(
  baseDir: string,
  master: PrivateService,
  name: string,
): Promise<PrivateService> {
  const p = await freePort();
  const dataDir = path.join(baseDir, `sentinel-${p}`);
  fs.mkdirSync(dataDir, { recursive: true });
  const conf = path.join(dataDir, 'sentinel.conf');
  fs.writeFileSync(
    conf,
    [
      `port ${p}`,
      'bind 127.0.0.1',
      `dir ${dataDir}`,
      `sentinel monitor ${name} 127.0.0.1 ${master.port} 1`,
      `sentinel down-after-milliseconds ${name} 1000`,
      `sentinel failover-timeout ${name} 5000`,
      `sentinel parallel-syncs ${name} 1`,
      '',
    ].join('\n'),
  );
  const service = new ProcessService(
    `redis://127.0.0.1:${p}`,
    p,
    dataDir,
    () => ({ cmd: redisServerBinary(), args: [conf, '--sentinel'] }),
    path.join(dataDir, 'sentinel.log'),
  );
  await service.start();
  return service;
}

async function startRedisProcess(baseDir: string, p: number, extra: string[]): Promise<PrivateService> {
  const dataDir = path.join(baseDir, `redis-${p}`);
  fs.mkdirSync(dataDir, { recursive: true });
  const args = ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  const service = new ProcessService(
    `redis://127.0.0.1:${p}`,
    p,
    dataDir,
    () => ({
      cmd: redisServerBinary(),
      args: [...args, '--maxmemory-policy', 'noeviction', '--dir', dataDir, ...extra],
    }),
    path.join(dataDir, 'redis.log'),
  );
  await service.start();
  return service;
}

/**
 * A PostgreSQL cluster of its own (trust auth, user postgres). As root, the server runs as the
 * `postgres` system user, since PostgreSQL refuses to run as root.
 */
export async function startPrivatePostgres(baseDir: string, port?: number): Promise<PrivateService> {
  const binDir = postgresBinDir();
  const p = port ?? (await freePort());
  const dataDir = path.join(baseDir, `pg-${p}`);
  const asPostgres = isRoot();
  const ids = asPostgres ? postgresUser() : undefined;
  const wrap = (cmd: string, args: string[]): { cmd: string; args: string[]; uid?: number; gid?: number } => ({
    cmd,
    args,
    ...ids,
  });
  fs.mkdirSync(baseDir, { recursive: true });
  if (asPostgres) fs.chmodSync(baseDir, 0o755); // the postgres user must reach its data directory
  if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) {
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    if (asPostgres) execFileSync('chown', ['-R', 'postgres:postgres', dataDir]);
    const init = wrap(path.join(binDir, 'initdb'), [
      '-D',
      dataDir,
      '-U',
      'postgres',
      '--auth=trust',
      '-E',
      'UTF8',
      '--no-sync',
    ]);
    execFileSync(init.cmd, init.args, { stdio: 'ignore', ...ids });
  }
  const logFile = path.join(baseDir, `pg-${p}.log`);
  fs.writeFileSync(logFile, '', { flag: 'a' });
  if (asPostgres) execFileSync('chown', ['postgres:postgres', logFile]);
  const service = new ProcessService(
    `postgres://postgres@127.0.0.1:${p}/postgres`,
    p,
    dataDir,
    () =>
      wrap(path.join(binDir, 'postgres'), [
        '-D',
        dataDir,
        '-p',
        String(p),
        '-k',
        dataDir,
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'max_connections=200',
        '-c',
        'fsync=on',
        '-c',
        'shared_buffers=64MB',
      ]),
    logFile,
    () => pgIsReady(binDir, p),
  );
  await service.start();
  return service;
}

/**
 * A hot standby of `primary` (pg_basebackup -R: streaming replication from it), started on a port of its
 * own in `baseDir`. `promotePrivatePostgres` makes it the primary.
 */
export async function startPrivateStandby(
  baseDir: string,
  primary: PrivateService,
  port?: number,
): Promise<PrivateService> {
  const p = port ?? (await freePort());
  const dataDir = path.join(baseDir, `pg-${p}`);
  const ids = isRoot() ? postgresUser() : undefined;
  fs.mkdirSync(baseDir, { recursive: true });
  if (ids) fs.chmodSync(baseDir, 0o755); // the postgres user must reach its data directory
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if (ids) execFileSync('chown', ['-R', 'postgres:postgres', dataDir]);
  const args = [
    '-h',
    '127.0.0.1',
    '-p',
    String(primary.port),
    '-U',
    'postgres',
    '-D',
    dataDir,
    '-R',
    '-X',
    'stream',
    '--checkpoint=fast',
  ];
  execFileSync(path.join(postgresBinDir(), 'pg_basebackup'), [...args, '--no-sync'], { stdio: 'ignore', ...ids });
  return startPrivatePostgres(baseDir, p);
}

/** Promotes a standby to a writable primary (pg_ctl promote, waiting until it is done). */
export function promotePrivatePostgres(standby: PrivateService): void {
  const ids = isRoot() ? postgresUser() : undefined;
  execFileSync(path.join(postgresBinDir(), 'pg_ctl'), ['promote', '-w', '-D', standby.dataDir], {
    stdio: 'ignore',
    ...ids,
  });
}

/** Accepting connections (not merely listening while it recovers). */
function pgIsReady(binDir: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(
      path.join(binDir, 'pg_isready'),
      ['-q', '-h', '127.0.0.1', '-p', String(port), '-U', 'postgres'],
      { stdio: 'ignore' },
    );
    child.once('exit', (code) => resolve(code === 0));
    child.once('error', () => resolve(false));
  });
}

function postgresUser(): { uid: number; gid: number } {
  const line = fs
    .readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  const [, , uid, gid] = line?.split(':') ?? [];
  if (uid === undefined || gid === undefined) {
    throw new MissingBinaryError(
      'the postgres system user',
      'install PostgreSQL from your distribution (it creates the user), or run as a non-root user',
    );
  }
  return { uid: Number(uid), gid: Number(gid) };
}
