import { canConnect } from './net';
import { startPrivatePostgres, startPrivateRedis, type PrivateService } from './private-services';

export interface EnsuredServices {
  redisUrl: string;
  /** A server-level URL (database `postgres`), for creating databases. */
  postgresServerUrl: string;
  /** What was started here, as opposed to found running. */
  started: PrivateService[];
  stop(): Promise<void>;
}

export interface EnsureOptions {
  redisUrl: string;
  databaseUrl: string;
  /** Where private instances keep their data. */
  baseDir: string;
  log?: (line: string) => void;
}

function hostPort(url: string, defaultPort: number): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname || '127.0.0.1', port: u.port ? Number(u.port) : defaultPort };
}

/**
 * Uses Redis and PostgreSQL where the configured URLs answer; otherwise starts private instances
 * from the local binaries (installing them with apt-get when running as root). Throws one clear
 * error (MissingBinaryError) when neither is possible.
 */
export async function ensureServices(options: EnsureOptions): Promise<EnsuredServices> {
  const log = options.log ?? (() => undefined);
  const started: PrivateService[] = [];
  const redis = hostPort(options.redisUrl, 6379);
  let redisUrl = options.redisUrl;
  if (!(await canConnect(redis.host, redis.port))) {
    log(`nothing answers at ${options.redisUrl}: starting a private Redis`);
    const r = await startPrivateRedis(options.baseDir);
    started.push(r);
    redisUrl = r.url;
    log(`private Redis at ${r.url}`);
  }
  const pg = hostPort(options.databaseUrl, 5432);
  const server = new URL(options.databaseUrl);
  server.pathname = '/postgres';
  if (!server.username) server.username = 'postgres';
  let postgresServerUrl = server.toString();
  if (!(await canConnect(pg.host, pg.port))) {
    log(`nothing answers at ${pg.host}:${pg.port}: starting a private PostgreSQL`);
    const p = await startPrivatePostgres(options.baseDir);
    started.push(p);
    postgresServerUrl = p.url;
    log(`private PostgreSQL at ${p.url}`);
  }
  return {
    redisUrl,
    postgresServerUrl,
    started,
    stop: async () => {
      for (const s of started.reverse()) await s.stop();
    },
  };
}
