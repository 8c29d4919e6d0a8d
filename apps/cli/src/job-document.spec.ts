import { parseJobSpec } from '@jr/contracts';
import { UsageError } from './cli-error';
import { documentFromCommand, documentFromFile, validateDocument } from './job-document';

function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return [(err as UsageError).message, ...(err as UsageError).details];
  }
  throw new Error('expected a usage error');
}

describe('documentFromCommand', () => {
  it('maps a command and its arguments to one argv step, flags to fields', () => {
    const doc = documentFromCommand(['./deploy', '--stage', 'prod'], {
      name: 'deploy-web',
      pool: 'gpu',
      labels: [
        ['os', 'linux'],
        ['arch', 'x64'],
        ['os', 'darwin'],
      ],
      timeout: '90s',
      retries: 2,
      env: [['STAGE', 'prod']],
    });
    expect(doc).toEqual({
      name: 'deploy-web',
      pool: 'gpu',
      labels: { os: 'darwin', arch: 'x64' },
      timeout: '90s',
      retries: 2,
      env: { STAGE: 'prod' },
      steps: [{ run: ['./deploy', '--stage', 'prod'] }],
    });
    expect(parseJobSpec(doc).ok).toBe(true);
  });

  it('keeps one argument containing spaces as argv (no shell), and --shell as a shell string', () => {
    expect(documentFromCommand(['echo hi; rm -rf /'], {})).toEqual({ steps: [{ run: ['echo hi; rm -rf /'] }] });
    expect(documentFromCommand([], { shell: 'make build && make test' })).toEqual({
      steps: [{ run: 'make build && make test' }],
    });
  });

  it('refuses nothing to run, and a command together with --shell', () => {
    expect(issuesOf(() => documentFromCommand([], {}))[0]).toContain('nothing to run');
    expect(issuesOf(() => documentFromCommand(['ls'], { shell: 'ls' }))[0]).toContain('not both');
  });
});

describe('documentFromFile', () => {
  const file = {
    name: 'nightly',
    pool: 'default',
    labels: { os: 'linux', arch: 'x64' },
    env: { A: '1', B: '2' },
    retries: 1,
    steps: [{ run: 'make' }],
  };

  it('lets flags replace scalars and merge labels and env', () => {
    const doc = documentFromFile(file, {
      pool: 'gpu',
      retries: 3,
      timeout: '5m',
      labels: [['arch', 'arm64']],
      env: [
        ['B', 'two'],
        ['C', '3'],
      ],
    });
    expect(doc).toEqual({
      name: 'nightly',
      pool: 'gpu',
      retries: 3,
      timeout: '5m',
      labels: { os: 'linux', arch: 'arm64' },
      env: { A: '1', B: 'two', C: '3' },
      steps: [{ run: 'make' }],
    });
    expect(file.labels.arch).toBe('x64');
  });

  it('refuses a file that is not a mapping, and --shell with a file', () => {
    for (const bad of [null, 'steps', 42, [{ run: 'x' }]])
      expect(issuesOf(() => documentFromFile(bad, {}))[0]).toContain('mapping');
    expect(issuesOf(() => documentFromFile(file, { shell: 'x' }))[0]).toContain('--shell');
  });

  it('leaves a malformed labels value for validation instead of hiding it', () => {
    const doc = documentFromFile({ labels: 'os=linux', steps: [{ run: 'x' }] }, { labels: [['a', 'b']] });
    expect(doc.labels).toBe('os=linux');
    expect(issuesOf(() => validateDocument(doc)).join('\n')).toContain('labels');
  });

  it('does not let __proto__ keys pollute prototypes; validation refuses them', () => {
    const hostile = JSON.parse(
      '{"__proto__": {"polluted": true}, "steps": [{"run": "x"}], "labels": {"__proto__": "x"}}',
    ) as unknown;
    const doc = documentFromFile(hostile, { labels: [['__proto__', 'y']] });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(issuesOf(() => validateDocument(doc)).length).toBeGreaterThan(1);
  });
});

describe('validateDocument', () => {
  it('returns the JSON body of a valid document', () => {
    expect(JSON.parse(validateDocument({ steps: [{ run: ['true'] }] }))).toEqual({ steps: [{ run: ['true'] }] });
  });

  it('lists every issue as path: message', () => {
    const lines = issuesOf(() =>
      validateDocument({ timeout: 'soon', colour: 'red', env: { JR_JOB_ID: 'x' }, steps: [{ run: 'a\0b' }] }),
    );
    expect(lines[0]).toContain('not valid');
    const text = lines.join('\n');
    for (const path of ['timeout', '(root)', 'env.JR_JOB_ID', 'steps.0.run']) expect(text).toContain(`${path}: `);
  });

  it('refuses a document over the body limit', () => {
    const env = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`V${i}`, 'x'.repeat(30_000)]));
    expect(issuesOf(() => validateDocument({ env, steps: [{ run: 'x' }] }))[0]).toContain('KiB');
  });
});
