import { parseJobSpec, labelsSatisfy, toProtoSpec } from './job-spec';

describe('parseJobSpec', () => {
  it('accepts the contract example and normalizes durations and defaults', () => {
    const r = parseJobSpec({
      name: 'deploy-web',
      pool: 'default',
      labels: { os: 'linux' },
      timeout: '10m',
      retries: 2,
      env: { STAGE: 'prod' },
      uses: [{ url: 'https://example.com/tool.tgz', sha256: 'a'.repeat(64) }],
      steps: [
        { name: 'build', run: 'make build', timeout: '5m', retries: 0 },
        { run: ['./deploy', '--stage', 'prod'] },
      ],
    });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.job.timeoutMs).toBe(600_000);
    expect(r.job.steps[0]).toEqual({ name: 'build', run: 'make build', timeoutMs: 300_000, retries: 0 });
    expect(r.job.steps[1]).toEqual({ name: 'step-2', run: ['./deploy', '--stage', 'prod'], timeoutMs: 0, retries: 0 });
  });

  it('takes durations as seconds when numbers', () => {
    const r = parseJobSpec({ timeout: 90, steps: [{ run: 'true' }] });
    expect(r.ok && r.job.timeoutMs).toBe(90_000);
  });

  it.each([
    [{}, 'steps'],
    [{ steps: [] }, 'steps'],
    [{ steps: [{ run: 'true' }], colour: 'red' }, '(root)'],
    [{ steps: [{ run: 'true', shell: 'bash' }] }, 'steps.0'],
    [{ steps: [{ run: '' }] }, 'steps.0.run'],
    [{ steps: [{ run: [] }] }, 'steps.0.run'],
    [{ timeout: 'soon', steps: [{ run: 'true' }] }, 'timeout'],
    [{ timeout: '8d', steps: [{ run: 'true' }] }, 'timeout'],
    [{ retries: -1, steps: [{ run: 'true' }] }, 'retries'],
    [{ retries: 1.5, steps: [{ run: 'true' }] }, 'retries'],
    [{ pool: 'a:b', steps: [{ run: 'true' }] }, 'pool'],
    [{ env: { JR_JOB_ID: 'x' }, steps: [{ run: 'true' }] }, 'env.JR_JOB_ID'],
    [{ env: { '1BAD': 'x' }, steps: [{ run: 'true' }] }, 'env.1BAD'],
    [{ uses: [{ url: 'file:///etc/passwd', sha256: 'a'.repeat(64) }], steps: [{ run: 'true' }] }, 'uses.0.url'],
    [{ uses: [{ url: 'https://x/y', sha256: 'nothex' }], steps: [{ run: 'true' }] }, 'uses.0.sha256'],
    [{ steps: [{ run: 'a\0b' }] }, 'steps.0.run'],
    ['a string', '(root)'],
    [null, '(root)'],
    [[{ run: 'true' }], '(root)'],
  ])('refuses %j with an issue at %s', (input, path) => {
    const r = parseJobSpec(input);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.issues.map((i) => i.path)).toContain(path);
  });

  it.each(['labels', 'env'])('refuses a __proto__ key in %s instead of dropping it', (field) => {
    const r = parseJobSpec(
      JSON.parse(`{"${field}": {"__proto__": {"x": "y"}, "ok": "1"}, "steps": [{"run": "true"}]}`),
    );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.issues[0]?.path).toBe(`${field}.__proto__`);
  });

  it('refuses absurdly deep nesting with an issue, not a stack overflow', () => {
    const deep = JSON.parse(`{"steps": [{"run": ${'['.repeat(100_000)}${']'.repeat(100_000)}}]}`);
    const r = parseJobSpec(deep);
    expect(r.ok).toBe(false);
  });

  // Strings Postgres cannot store (jsonb/text refuse NUL; jsonb refuses unpaired surrogates): refused
  // here, for every string of the document, instead of being acknowledged and failing to apply later.
  const HOSTILE = [
    ['a lone high surrogate', '\ud800'],
    ['a lone low surrogate', 'x\udc00y'],
    ['surrogates in the wrong order', '\udc00\ud800'],
    ['NUL', 'a\u0000b'],
  ];
  const places: Array<[string, (s: string) => unknown, string]> = [
    ['name', (s) => ({ name: s, steps: [{ run: 'true' }] }), 'name'],
    ['pool', (s) => ({ pool: s, steps: [{ run: 'true' }] }), 'pool'],
    ['a label key', (s) => ({ labels: { [s]: 'v' }, steps: [{ run: 'true' }] }), 'labels.'],
    ['a label value', (s) => ({ labels: { k: s }, steps: [{ run: 'true' }] }), 'labels.k'],
    ['an env key', (s) => ({ env: { [s]: 'v' }, steps: [{ run: 'true' }] }), 'env.'],
    ['an env value', (s) => ({ env: { K: s }, steps: [{ run: 'true' }] }), 'env.K'],
    ['a shell run', (s) => ({ steps: [{ run: `echo ${s}` }] }), 'steps.0.run'],
    ['an argv element', (s) => ({ steps: [{ run: ['echo', s] }] }), 'steps.0.run.1'],
    ['a step name', (s) => ({ steps: [{ name: s, run: 'true' }] }), 'steps.0.name'],
    ['a timeout', (s) => ({ timeout: `1${s}`, steps: [{ run: 'true' }] }), 'timeout'],
    [
      'a url',
      (s) => ({ uses: [{ url: `https://example.com/${s}`, sha256: 'a'.repeat(64) }], steps: [{ run: 'true' }] }),
      'uses.0.url',
    ],
    ['an unknown field', (s) => ({ extra: { deep: [s] }, steps: [{ run: 'true' }] }), 'extra.deep.0'],
  ];
  it.each(
    places.flatMap(([where, make, path]) =>
      HOSTILE.map(([what, s]) => [what, where, make(s as string), path] as const),
    ),
  )('refuses %s in %s, naming where', (_what, _where, doc, path) => {
    const r = parseJobSpec(doc);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.issues[0]?.path.startsWith(path)).toBe(true);
    expect(r.issues[0]?.message).toMatch(/NUL|surrogate/);
    expect(r.issues[0]?.path.includes('\0')).toBe(false); // the path itself is printable
    expect(r.issues[0]?.path).not.toMatch(/[\ud800-\udfff]/u);
  });

  it('keeps odd but storable text: emoji, RTL, paired surrogates, control characters, long runs', () => {
    const r = parseJobSpec({
      env: { MSG: 'héllo 👋 \u202eRTL\u202c \u0007\u001b[31m' },
      steps: [{ run: `printf '%s' '${'𝄞'.repeat(5000)}'\t\r` }, { run: ['echo', 'עברית', '\u0001'] }],
    });
    expect(r.ok).toBe(true);
  });

  it('refuses too many steps', () => {
    const r = parseJobSpec({ steps: Array.from({ length: 101 }, () => ({ run: 'true' })) });
    expect(r.ok).toBe(false);
  });
});

describe('labelsSatisfy', () => {
  it('needs every job label on the agent', () => {
    expect(labelsSatisfy({ os: 'linux', arch: 'x64' }, { os: 'linux' })).toBe(true);
    expect(labelsSatisfy({ os: 'linux' }, { os: 'linux', arch: 'x64' })).toBe(false);
    expect(labelsSatisfy({}, {})).toBe(true);
  });
});

describe('toProtoSpec', () => {
  it('maps shell strings and argv arrays to the oneof', () => {
    const r = parseJobSpec({ steps: [{ run: 'echo hi' }, { run: ['ls', '-l'] }] });
    if (!r.ok) throw new Error('bad');
    const p = toProtoSpec(r.job);
    expect(p.steps?.[0]?.shell).toBe('echo hi');
    expect(p.steps?.[1]?.argv?.args).toEqual(['ls', '-l']);
  });
});

describe('job secrets', () => {
  it('keep the values out of the normalized job: names only, sorted', () => {
    const r = parseJobSpec({ secrets: { B_TOKEN: 'value-two', A_KEY: 'value-one' }, steps: [{ run: 'true' }] });
    expect(r.ok && r.job.secrets).toEqual(['A_KEY', 'B_TOKEN']);
    expect(r.ok && r.secrets).toEqual({ A_KEY: 'value-one', B_TOKEN: 'value-two' });
    expect(JSON.stringify(r.ok && r.job)).not.toContain('value-');
    const none = parseJobSpec({ steps: [{ run: 'true' }] });
    expect(none.ok && 'secrets' in none.job).toBe(false);
  });

  it.each([
    [{ A: 'qz9x1' }, 'secrets.A', /at least 6/],
    [{ '1A': 'long-enough' }, 'secrets.1A', /secret names/],
    [{ JR_JOB_ID: 'long-enough' }, 'secrets.JR_JOB_ID', /set by jobrunner/],
    [{ A: 'x'.repeat(16 * 1024 + 1) }, 'secrets.A', /at most 16384 bytes/],
    [{ A: 'nul\u0000-value' }, 'secrets.A', /NUL/],
  ])('refuses %#, naming the secret but never its value', (secrets, path, message) => {
    const r = parseJobSpec({ secrets, steps: [{ run: 'true' }] });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.issues).toEqual([{ path, message: expect.stringMatching(message) }]);
      expect(JSON.stringify(r.issues)).not.toContain(Object.values(secrets)[0]?.slice(0, 12));
    }
  });

  it('refuses a value that is also written in the job (a step, env, a label), which is stored as written', () => {
    const r = parseJobSpec({
      env: { URL: 'https://user:pa55word-x@host' },
      secrets: { PW: 'pa55word-x', OK: 'not-elsewhere' },
      steps: [{ run: 'true' }],
    });
    expect(!r.ok && r.issues).toEqual([
      { path: 'secrets.PW', message: expect.stringMatching(/also written elsewhere/) },
    ]);
    const inRun = parseJobSpec({ secrets: { T: 'tok-123456' }, steps: [{ run: ['curl', '-H', 'x: tok-123456'] }] });
    expect(inRun.ok).toBe(false);
  });

  it('refuses a name that is also in env, and more than 64 secrets', () => {
    const both = parseJobSpec({ env: { X: '1' }, secrets: { X: 'long-enough' }, steps: [{ run: 'true' }] });
    expect(!both.ok && both.issues.map((i) => i.path)).toEqual(['secrets.X']);
    const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`S${i}`, 'long-enough']));
    expect(parseJobSpec({ secrets: many, steps: [{ run: 'true' }] }).ok).toBe(false);
  });
});
