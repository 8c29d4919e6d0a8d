import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { LIMITS } from '@jr/contracts';
import { UsageError } from './cli-error';
import { lineCol, parseJobText, readJobFile } from './job-file';

async function messageOf(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as UsageError).message;
  }
  throw new Error('expected a usage error');
}

describe('parseJobText', () => {
  it('reads YAML and JSON job documents', () => {
    const yaml =
      'name: deploy\nlabels: {os: linux}\ntimeout: 10m\nsteps:\n  - run: make build\n  - run: ["./deploy", "--stage", "prod"]\n';
    expect(parseJobText(yaml, 'job.yaml', false)).toEqual({
      name: 'deploy',
      labels: { os: 'linux' },
      timeout: '10m',
      steps: [{ run: 'make build' }, { run: ['./deploy', '--stage', 'prod'] }],
    });
    expect(parseJobText('{"steps":[{"run":"true"}]}', 'job.json', true)).toEqual({ steps: [{ run: 'true' }] });
  });

  it('uses YAML 1.2: yes/on stay strings', () => {
    expect(parseJobText('env: {A: yes, B: on}\nsteps: [{run: x}]', 'j.yaml', false)).toEqual({
      env: { A: 'yes', B: 'on' },
      steps: [{ run: 'x' }],
    });
  });

  it.each([
    ['steps:\n  - run: [unclosed\n', 'job.yaml:'],
    ['name: a\nname: b\nsteps: []\n', 'job.yaml:2:1'],
    ['steps:\n\t- run: x\n', 'job.yaml:2:'],
    ['a: 1\n---\nb: 2\n', 'job.yaml:'],
  ])('gives line and column for malformed YAML %j', async (text, where) => {
    const message = await messageOf(() => parseJobText(text, 'job.yaml', false));
    expect(message).toContain(where);
    expect(message).toContain('malformed YAML');
  });

  it('gives line and column for malformed JSON', async () => {
    const message = await messageOf(() => parseJobText('{\n  "steps": [\n    {"run": "x",}\n  ]\n}', 'job.json', true));
    expect(message).toMatch(/^job\.json:3:\d+: malformed JSON/);
  });

  it('refuses alias bombs (billion laughs)', async () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 8; i++)
      lines.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10)
          .fill(`*${String.fromCharCode(96 + i)}`)
          .join(', ')}]`,
      );
    expect(await messageOf(() => parseJobText(lines.join('\n'), 'bomb.yaml', false))).toContain('bomb.yaml');
  });

  it('computes 1-based line and column', () => {
    expect(lineCol('ab\ncd', 0)).toEqual({ line: 1, col: 1 });
    expect(lineCol('ab\ncd', 4)).toEqual({ line: 2, col: 2 });
  });
});

describe('readJobFile', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'jr-cli-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a file by extension, with a BOM', async () => {
    const p = path.join(dir, 'job.JSON');
    writeFileSync(p, '\uFEFF{"steps":[{"run":"true"}]}');
    expect(await readJobFile(p, undefined)).toEqual({ steps: [{ run: 'true' }] });
  });

  it('refuses a file over 256 KiB before reading it, and missing files or directories', async () => {
    const big = path.join(dir, 'big.yaml');
    writeFileSync(big, `name: x\n# ${'x'.repeat(LIMITS.maxBodyBytes)}\n`);
    expect(await messageOf(readJobFile(big, undefined))).toContain('256 KiB');
    expect(await messageOf(readJobFile(path.join(dir, 'nope.yaml'), undefined))).toContain('ENOENT');
    expect(await messageOf(readJobFile(dir, undefined))).toContain('not a regular file');
  });

  it('reads - from stdin, within the same limit', async () => {
    expect(await readJobFile('-', Readable.from(['steps:\n', '  - run: ok\n']))).toEqual({ steps: [{ run: 'ok' }] });
    const flood = Readable.from(
      (function* () {
        for (let i = 0; i < 100; i++) yield Buffer.alloc(8 * 1024, 'x');
      })(),
    );
    expect(await messageOf(readJobFile('-', flood))).toContain('256 KiB');
    expect(await messageOf(readJobFile('-', undefined))).toContain('standard input');
  });
});
