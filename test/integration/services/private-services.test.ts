import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Redis from 'ioredis';
import { Client } from 'pg';
import { ensureServices, freePort, startPrivatePostgres, startPrivateRedis, type PrivateService } from '@jr/testing';

// The fresh-machine path of `npm run up` / `npm test`: when nothing answers, private instances start
// from the local binaries, survive a kill + restart on the same port, and are stopped cleanly.
describe('private services', () => {
  let base: string;
  const started: PrivateService[] = [];

  beforeAll(() => {
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'jr-svc-'));
  });

  afterAll(async () => {
    for (const s of started) await s.stop();
    fs.rmSync(base, { recursive: true, force: true });
  });

  it('starts a private Redis with noeviction, and restarts it empty after a kill', async () => {
    const r = await startPrivateRedis(base);
    started.push(r);
    const client = new Redis(r.url, { maxRetriesPerRequest: 1, lazyConnect: true });
    await client.connect();
    expect(await client.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
    await client.set('k', 'v');
    client.disconnect();
    await r.kill();
    await r.start();
    const again = new Redis(r.url, { maxRetriesPerRequest: 1, lazyConnect: true });
    await again.connect();
    expect(await again.get('k')).toBeNull();
    again.disconnect();
  });

  it('starts a private PostgreSQL that keeps its data across a kill and restart', async () => {
    const p = await startPrivatePostgres(base);
    started.push(p);
    const c = new Client({ connectionString: p.url });
    await c.connect();
    await c.query('CREATE TABLE t (x int)');
    await c.query('INSERT INTO t VALUES (42)');
    await c.end();
    await p.kill();
    await p.start();
    const c2 = new Client({ connectionString: p.url });
    await c2.connect();
    const { rows } = await c2.query<{ x: number }>('SELECT x FROM t');
    expect(rows).toEqual([{ x: 42 }]);
    await c2.end();
  });

  it('ensureServices uses what answers and starts only what does not', async () => {
    const deadPort = await freePort();
    const lines: string[] = [];
    const ensured = await ensureServices({
      redisUrl: `redis://127.0.0.1:${deadPort}`,
      databaseUrl: started[1]!.url,
      baseDir: base,
      log: (l) => lines.push(l),
    });
    try {
      expect(ensured.started).toHaveLength(1);
      expect(ensured.redisUrl).not.toBe(`redis://127.0.0.1:${deadPort}`);
      expect(ensured.postgresServerUrl).toContain(`:${started[1]!.port}/postgres`);
      expect(lines.join('\n')).toContain('starting a private Redis');
    } finally {
      await ensured.stop();
    }
  });
});
