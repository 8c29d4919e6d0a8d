import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkDataDir } from './data-dir-check';

describe('checkDataDir', () => {
  let root: string;
  beforeEach(() => (root = fs.mkdtempSync(path.join(os.tmpdir(), 'jr-datadir-'))));
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('accepts a directory with an intake or results journal, naming those present', async () => {
    fs.mkdirSync(path.join(root, 'intake'));
    fs.writeFileSync(path.join(root, 'intake', 'seg-0000000000000001.log'), '');
    fs.mkdirSync(path.join(root, 'results'));
    expect(await checkDataDir(root)).toEqual({ ok: true, journals: ['intake'] });
    fs.writeFileSync(path.join(root, 'results', 'checkpoint'), '');
    expect(await checkDataDir(root)).toEqual({ ok: true, journals: ['intake', 'results'] });
  });

  it('refuses what is not a data dir, and changes nothing there', async () => {
    fs.mkdirSync(path.join(root, 'intake'));
    fs.writeFileSync(path.join(root, 'intake', 'notes.txt'), 'x');
    expect(await checkDataDir(root)).toEqual({
      ok: false,
      reason: `${root} is not a jr-api data directory (no intake/ or results/ journal in it)`,
    });
    expect(await checkDataDir(path.join(root, 'nope'))).toEqual({ ok: false, reason: `${root}/nope does not exist` });
    fs.writeFileSync(path.join(root, 'file'), '');
    expect(await checkDataDir(path.join(root, 'file'))).toEqual({
      ok: false,
      reason: `${root}/file is not a directory`,
    });
    expect(fs.readdirSync(root).sort()).toEqual(['file', 'intake']);
  });
});
