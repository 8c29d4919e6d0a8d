import Redis, { type RedisOptions } from 'ioredis';

/**
 * Where Redis is: one server (`redis://`, `rediss://`), or a Sentinel-managed primary:
 * `redis+sentinel://[[user]:password@]sentinel-a:26379,sentinel-b:26379/<master-name>[/<db>]`
 * (the sentinels' own password, when they have one, as `?sentinelPassword=`). ioredis asks the
 * sentinels for the current primary on every (re)connect and follows a failover.
 */
export type RedisTarget =
  | { kind: 'url'; url: string }
  | {
      kind: 'sentinel';
      sentinels: Array<{ host: string; port: number }>;
      name: string;
      db: number;
      username?: string;
      password?: string;
      sentinelPassword?: string;
    };

const MAX_SENTINELS = 16;

/** Throws with a clear message for anything else. */
export function parseRedisUrl(value: string): RedisTarget {
  const scheme = /^([a-z+]+):\/\//i.exec(value)?.[1]?.toLowerCase();
  if (scheme === 'redis' || scheme === 'rediss') {
    try {
      new URL(value);
    } catch {
      throw new Error('is not a valid URL');
    }
    return { kind: 'url', url: value };
  }
  if (scheme !== 'redis+sentinel')
    throw new Error('must be a URL with scheme redis://, rediss:// or redis+sentinel://');
  const m = /^redis\+sentinel:\/\/(?:([^@/?#]*)@)?([^/?#]+)\/([^/?#]+)(?:\/(\d+))?\/?(?:\?(.*))?$/i.exec(value);
  if (!m)
    throw new Error(
      'redis+sentinel:// must be redis+sentinel://[user:password@]host:port[,host:port…]/master-name[/db]',
    );
  const [, userinfo, hosts = '', name = '', db, query] = m;
  const sentinels = hosts.split(',').map((part) => {
    const hp = /^(\[[^\]]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(part);
    const port = Number(hp?.[2] ?? 26379);
    if (!hp || port < 1 || port > 65_535)
      throw new Error(`sentinel ${JSON.stringify(part)} is not a valid host[:port]`);
    return { host: (hp[1] as string).replace(/^\[(.*)\]$/, '$1'), port };
  });
  if (sentinels.length > MAX_SENTINELS)
    throw new Error(`names ${sentinels.length} sentinels; at most ${MAX_SENTINELS}`);
  const [user, password] = (userinfo ?? '').split(':', 2).map((s) => decodeURIComponent(s));
  const sentinelPassword = new URLSearchParams(query ?? '').get('sentinelPassword') ?? undefined;
  return {
    kind: 'sentinel',
    sentinels,
    name: decodeURIComponent(name),
    db: Number(db ?? 0),
    ...(user ? { username: user } : {}),
    ...(password ? { password } : {}),
    ...(sentinelPassword ? { sentinelPassword } : {}),
  };
}

/** A connection to the target (for a sentinel target: to its current primary, followed across failovers). */
export function redisConnection(target: RedisTarget, options: RedisOptions): Redis {
  if (target.kind === 'url') return new Redis(target.url, options);
  const { sentinels, name, db, username, password, sentinelPassword } = target;
  return new Redis({
    ...options,
    sentinels,
    name,
    db,
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(sentinelPassword !== undefined ? { sentinelPassword } : {}),
    // never settle for a replica: writes must go to the primary (ioredis' default role, stated)
    role: 'master',
  });
}
