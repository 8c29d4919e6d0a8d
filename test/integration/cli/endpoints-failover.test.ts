import { Client } from 'pg';
import { FaultProxy, freePort, testTls, type TestTls } from '@jr/testing';
import { ADMIN, startTestApi, startTestReplica, type TestApi } from '../api/harness';
import { jrIn } from './harness';

let a: TestApi;
let b: TestApi;
let tls: TestTls;
let pg: Client;

beforeAll(async () => {
  a = await startTestApi();
  b = await startTestReplica(a);
  tls = await testTls();
  pg = new Client({ connectionString: a.db.url });
  await pg.connect();
});

afterAll(async () => {
  await pg?.end();
  await b?.cleanup();
  await a?.cleanup();
});

const jr = (argv: string[], apiUrl: string, env: Record<string, string> = {}) =>
  jrIn(argv, { JR_API_URL: apiUrl, JR_TOKEN: ADMIN, JR_CA_FILE: tls.caFile, HOME: '/nonexistent', ...env });

async function keysOf(id: string): Promise<Array<string | null>> {
  const res = await pg.query<{ k: string | null }>('SELECT idempotency_key AS k FROM jobs WHERE id = $1', [id]);
  return res.rows.map((r) => r.k);
}

it('a bad entry of JR_API_URL is a usage error naming it', async () => {
  const r = await jr(['status', 'j_x'], `${a.baseUrl},ftp://u:pw@elsewhere`);
  expect(r.code).toBe(64);
  expect(r.stderr).toContain('JR_API_URL: entry 2 "ftp://…@elsewhere": must be an http(s) URL');
  expect(r.stderr).not.toContain('pw');
});

it('the primary answers while it is up; once it is dead, submit, status and list go to the next replica', async () => {
  const both = `${a.baseUrl},${b.baseUrl}`;
  const first = await jr(['submit', '--json', '--', 'true'], both);
  expect(first.code).toBe(0);
  const firstId = (JSON.parse(first.stdout) as { id: string }).id;
  // the CLI made the key itself (a retry elsewhere is the same job)
  await waitRow(firstId);
  expect((await keysOf(firstId))[0]).toMatch(/^jr-cli-[0-9a-f-]{36}$/);

  await a.api.stop();
  const sub = await jr(['submit', '--idempotency-key', 'failover-1', '--json', '--', 'true'], both);
  expect(sub.code).toBe(0);
  const id = (JSON.parse(sub.stdout) as { id: string }).id;
  const status = await jr(['status', id, '--json'], both);
  expect(status.code).toBe(0);
  expect(JSON.parse(status.stdout)).toMatchObject({ id });
  expect((await jr(['list', '--json'], both)).code).toBe(0);
  // the same key again, still through the dead primary: the same job, answered 200 by the replica
  const again = await jr(['submit', '--idempotency-key', 'failover-1', '--', 'true'], both);
  expect(again).toMatchObject({ code: 0, stdout: `${id}\n` });
  expect(again.stderr).toContain('already submitted with this idempotency key');
});

it('an endpoint that does not answer within JR_REQUEST_TIMEOUT: the submit goes to the next one with the same key', async () => {
  const proxy = await FaultProxy.start({ host: '127.0.0.1', port: b.api.httpPort });
  try {
    proxy.setMode({ kind: 'blackhole' });
    const r = await jr(
      ['submit', '--idempotency-key', 'failover-timeout', '--json', '--', 'true'],
      `https://${proxy.address},${b.baseUrl}`,
      {
        JR_REQUEST_TIMEOUT: '1s',
      },
    );
    expect(r.code).toBe(0);
    const id = (JSON.parse(r.stdout) as { id: string }).id;
    await waitRow(id);
    expect(await keysOf(id)).toEqual(['failover-timeout']);
  } finally {
    proxy.setMode({ kind: 'pass' });
    await proxy.close();
  }
});

it('no endpoint answers: exit 69 naming each', async () => {
  const r = await jr(['status', 'j_x'], `${a.baseUrl},https://127.0.0.1:${await freePort()}`);
  expect(r.code).toBe(69);
  expect(r.stderr).toMatch(/no endpoint of the API answered: .*ECONNREFUSED.*; .*ECONNREFUSED/);
});

async function waitRow(id: string): Promise<void> {
  for (let i = 0; i < 200 && (await keysOf(id)).length === 0; i++) await new Promise((r) => setTimeout(r, 50));
}
