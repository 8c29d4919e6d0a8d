import * as fs from 'node:fs';
import { Stack, writeFile } from '@jr/testing';

// The CLI's paging and contexts against a real jr-api (its own cursors, its journal-then-Postgres listing).
describe('jr list pages and jr contexts against a real API', () => {
  const stack = new Stack('1s');
  const ids: string[] = [];

  beforeAll(async () => {
    await stack.start();
    for (let i = 0; i < 5; i++) {
      const r = await stack.cli(['submit', '--name', `page-${i}`, '--pool', 'nowhere', '--', 'true']);
      expect(r.code).toBe(0);
      ids.unshift(r.stdout.trim()); // newest first
    }
  });

  afterAll(() => stack.close());

  const idsOf = (stdout: string): string[] =>
    stdout
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(/\s+/)[0] ?? '');
  const cursorIn = (stderr: string): string | undefined => /^more: --cursor (\S+)$/m.exec(stderr)?.[1];

  it('walks the pages with --cursor as the hints say, and --all lists every job once', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 4; page++) {
      const r = await stack.cli(['list', '--pool', 'nowhere', '--limit', '2', ...(cursor ? ['--cursor', cursor] : [])]);
      expect(r.code).toBe(0);
      if (r.stdout !== '') seen.push(...idsOf(r.stdout));
      cursor = cursorIn(r.stderr);
      if (!cursor) break;
    }
    expect(seen).toEqual(ids);
    const all = await stack.cli(['list', '--pool', 'nowhere', '--all']);
    expect(all.code).toBe(0);
    expect(idsOf(all.stdout)).toEqual(ids);
    expect(all.stdout.split('\n')[0]).toMatch(/^ID\s+NAME\s+STATE\s+EXIT\s+DURATION\s+POOL\s+AGE$/);
  });

  it('a context of the config file reaches the API; --api-url and --token beat it', async () => {
    const tokenFile = writeFile(stack, 'admin.token', `${stack.adminToken}\n`);
    fs.chmodSync(tokenFile, 0o600);
    const config = `${stack.dir}/jr-config.yaml`;
    const env = { JR_CONFIG: config, JR_API_URL: '', JR_TOKEN: '' };
    expect(
      (await stack.cli(['config', 'set-context', 'e2e', '--api-url', stack.baseUrl, '--token-file', tokenFile], env))
        .code,
    ).toBe(0);
    expect((await stack.cli(['config', 'use-context', 'e2e'], env)).code).toBe(0);
    const status = await stack.cli(['status', ids[0] ?? ''], env);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^state:\s+queued/m);
    expect((await stack.cli(['status', ids[0] ?? '', '--token', 'wrong'], env)).code).toBe(77);
    expect((await stack.cli(['--api-url', 'http://127.0.0.1:1', 'status', ids[0] ?? ''], env)).code).toBe(69);
  });
});
