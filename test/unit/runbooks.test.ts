import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { SLO_RUNBOOK } from '@jr/contracts';

// infra/RUNBOOKS.md names the test that proves each failure mode and is where generated alerts point:
// both must stay true as files move.
const ROOT = path.resolve(__dirname, '../..');
const text = readFileSync(path.join(ROOT, 'infra/RUNBOOKS.md'), 'utf8');
const anchor = (heading: string): string =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');

describe('infra/RUNBOOKS.md', () => {
  it('names only tests that exist', () => {
    const named = [...text.matchAll(/`(test\/[^`]+\.test\.ts)`/g)].map((m) => m[1] as string);
    expect(named.length).toBeGreaterThan(10);
    expect(named.filter((f) => !existsSync(path.join(ROOT, f)))).toEqual([]);
  });

  it('has the section the generated SLO alerts link to', () => {
    const [file, hash] = SLO_RUNBOOK.split('#');
    expect(file).toBe('infra/RUNBOOKS.md');
    const anchors = [...text.matchAll(/^#{1,6}\s+(.+)$/gm)].map((m) => anchor(m[1] as string));
    expect(anchors).toContain(hash);
  });
});
