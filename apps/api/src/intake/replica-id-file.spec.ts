import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { readReplicaIdFile, writeReplicaIdFile } from './replica-id-file';

describe('replica-id file', () => {
  let dir: string;
  beforeEach(async () => (dir = await mkdtemp(path.join(os.tmpdir(), 'jr-replica-id-'))));
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('reads back the id last written, and leaves no temporary file', async () => {
    await writeReplicaIdFile(dir, 'api-0');
    await writeReplicaIdFile(dir, 'api-1');
    expect(await readReplicaIdFile(dir)).toBe('api-1');
    expect(await readdir(dir)).toEqual(['replica-id']);
  });

  it('is undefined without a file, or with one that holds no valid id', async () => {
    expect(await readReplicaIdFile(dir)).toBeUndefined();
    await writeFile(path.join(dir, 'replica-id'), '../../etc\n');
    expect(await readReplicaIdFile(dir)).toBeUndefined();
  });
});
