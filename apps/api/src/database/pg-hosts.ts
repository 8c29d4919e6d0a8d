/**
 * DATABASE_URL with several hosts, in libpq's own spelling:
 * `postgres://user@db-a:5432,db-b:5432/jobrunner` — the hosts are tried in order and the first that is a
 * writable primary (`pg_is_in_recovery()` false) is used. node-postgres takes one host per connection,
 * so the list is split here into one single-host connection string per host.
 */
export interface PgEndpoint {
  host: string;
  port: number;
  /** The DATABASE_URL with only this host. */
  url: string;
}

const MAX_HOSTS = 16;

/** The endpoints of a DATABASE_URL (one for the usual single-host URL); throws with a clear message. */
export function parseDatabaseUrl(value: string): PgEndpoint[] {
  const m = /^(postgres(?:ql)?:\/\/)(?:([^@/?#]*)@)?([^/?#]*)(.*)$/i.exec(value);
  if (!m) throw new Error('must be a URL with scheme postgres:// or postgresql://');
  const [, scheme = '', userinfo, hostList = '', rest = ''] = m;
  const parts = hostList.split(',');
  if (parts.length > MAX_HOSTS) throw new Error(`names ${parts.length} hosts; at most ${MAX_HOSTS}`);
  return parts.map((part) => {
    const url = `${scheme}${userinfo !== undefined ? `${userinfo}@` : ''}${part}${rest}`;
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new Error(`host ${JSON.stringify(part)} is not a valid host[:port]`);
    }
    if (parsed.hostname === '') throw new Error(`host ${JSON.stringify(part)} is empty`);
    return { host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(parsed.port || 5432), url };
  });
}

/** The same URL for logs and errors: the password replaced. */
export function redactDatabaseUrl(value: string): string {
  return value.replace(/^(postgres(?:ql)?:\/\/[^:@/]*):[^@/]*@/i, '$1:***@');
}
