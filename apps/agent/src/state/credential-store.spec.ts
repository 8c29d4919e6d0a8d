import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { tempDir } from '../runner/runner.test-helper';
import { CredentialStore } from './credential-store';

describe('CredentialStore', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  beforeEach(async () => (tmp = await tempDir('cred')));
  afterEach(() => tmp.remove());

  const sample = {
    agentId: 'a_1',
    credential: 'a_1.secret',
    apiAddress: '127.0.0.1:50051',
    enrolledAt: '2026-01-01T00:00:00.000Z',
  };

  it('reports a missing file as absent', async () => {
    await expect(new CredentialStore(path.join(tmp.dir, 'nope')).load()).resolves.toEqual({ state: 'absent' });
  });

  it('writes 0600 atomically (no temp file left) and reads it back', async () => {
    const dir = path.join(tmp.dir, 'data');
    const store = new CredentialStore(dir);
    await store.save(sample);
    await store.save({ ...sample, credential: 'a_1.rotated' });
    expect((await stat(store.file)).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(['credential.json']);
    await expect(store.load()).resolves.toEqual({ state: 'ok', credential: { ...sample, credential: 'a_1.rotated' } });
    expect(JSON.parse(await readFile(store.file, 'utf8'))).toMatchObject({ agentId: 'a_1' });
  });

  it.each([
    ['not JSON', '{"agentId":'],
    ['a wrong shape', JSON.stringify({ agentId: 'a_1' })],
    ['unknown fields', JSON.stringify({ ...sample, extra: 1 })],
    ['a credential with spaces or newlines', JSON.stringify({ ...sample, credential: 'a b\nc' })],
    ['an array', '[]'],
  ])('calls a file with %s unreadable', async (_what, text) => {
    const store = new CredentialStore(tmp.dir);
    await writeFile(store.file, text);
    await expect(store.load()).resolves.toMatchObject({ state: 'unreadable' });
  });

  it('refuses an oversized file without reading it all', async () => {
    const store = new CredentialStore(tmp.dir);
    await writeFile(store.file, 'x'.repeat(1024 * 1024));
    await expect(store.load()).resolves.toEqual({ state: 'unreadable', detail: 'larger than 65536 bytes' });
  });
});
