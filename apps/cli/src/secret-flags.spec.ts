import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { documentFromFile } from './job-document';
import { parseSecretFileFlag, parseSecretFlag, resolveSecretFlags } from './secret-flags';

describe('--secret and --secret-file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jr-secret-flags-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('take the value from the flag, from this environment, or from a file without its trailing newline', async () => {
    const file = path.join(dir, 'key');
    fs.writeFileSync(file, 'line-one\nline-two\r\n');
    const inline: string[][] = [];
    const pairs = await resolveSecretFlags(
      {
        secret: [parseSecretFlag('A=value=with=equals'), parseSecretFlag('FROM_ENV')],
        secretFile: [parseSecretFileFlag(`PEM=${file}`)],
      },
      { FROM_ENV: 'env-value-1' },
      (names) => inline.push(names),
    );
    expect(pairs).toEqual([
      ['A', 'value=with=equals'],
      ['FROM_ENV', 'env-value-1'],
      ['PEM', 'line-one\nline-two'],
    ]);
    expect(inline).toEqual([['A']]);
  });

  it('name the secret, never a value, when something is missing', async () => {
    await expect(resolveSecretFlags({ secret: [parseSecretFlag('NOPE')] }, {}, () => undefined)).rejects.toThrow(
      /--secret NOPE: NOPE is not set/,
    );
    await expect(
      resolveSecretFlags({ secretFile: [parseSecretFileFlag(`K=${path.join(dir, 'missing')}`)] }, {}, () => undefined),
    ).rejects.toThrow(/--secret-file K: cannot read .*ENOENT/);
    const big = path.join(dir, 'big');
    fs.writeFileSync(big, 'x'.repeat(17 * 1024));
    await expect(
      resolveSecretFlags({ secretFile: [parseSecretFileFlag(`K=${big}`)] }, {}, () => undefined),
    ).rejects.toThrow(/larger than 16384 bytes/);
    expect(() => parseSecretFlag('1BAD=x')).toThrow(/names are letters/);
    expect(() => parseSecretFileFlag('K')).toThrow(/NAME=PATH/);
  });

  it('merge over the secrets of a job file (a flag wins)', () => {
    const doc = documentFromFile(
      { secrets: { A: 'from-file-1', B: 'from-file-2' }, steps: [{ run: 'true' }] },
      { secrets: [['B', 'from-flag-2']] },
    );
    expect(doc.secrets).toEqual({ A: 'from-file-1', B: 'from-flag-2' });
  });
});
