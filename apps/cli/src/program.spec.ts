import { run } from './program';
import type { Io, OutStream } from './output';

function capture(): OutStream & { text: string } {
  const s = {
    text: '',
    write: (c: string | Uint8Array) => ((s.text += typeof c === 'string' ? c : Buffer.from(c).toString()), true),
  };
  return s;
}

/** Runs jr in-process against an address where nothing listens (usage errors must not get that far). */
async function jr(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = capture();
  const stderr = capture();
  const io: Io = { stdout, stderr, env: { JR_API_URL: 'http://127.0.0.1:9', JR_REQUEST_TIMEOUT: '2s' } };
  const code = await run(argv, io);
  return { code, stdout: stdout.text, stderr: stderr.text };
}

describe('jr usage', () => {
  it('prints the version and help with exit 0', async () => {
    const v = await jr('--version');
    expect(v).toMatchObject({ code: 0, stdout: '0.1.0\n' });
    const h = await jr('--help');
    expect(h.code).toBe(0);
    expect(h.stdout).toContain('submit');
    expect(h.stdout).toContain('Exit codes');
    expect((await jr('submit', '--help')).stdout).toContain('--idempotency-key');
  });

  it.each([
    [[], 'Usage'],
    [['frobnicate'], "unknown command 'frobnicate'"],
    [['statsu', 'j_1'], 'Did you mean status?'],
    [['status'], "missing required argument 'id'"],
    [['status', 'j_1', 'extra'], 'too many arguments'],
    [['list', '--bogus'], "unknown option '--bogus'"],
    [['list', '--state', 'done'], 'expected one of'],
    [['list', '--limit', '0'], 'whole number'],
    [['submit', '--label', '=x', '--', 'ls'], 'empty'],
    [['submit', '--label', 'k', '--', 'ls'], 'expected k=v'],
    [['submit', '--env', 'A=B\0', '--', 'ls'], 'NUL'],
    [['submit', '--timeout', 'soon', '--', 'ls'], 'duration'],
    [['submit', '--retries', '-1', '--', 'ls'], 'whole number'],
    [['submit', '--pool', 'Bad:Pool', '--', 'ls'], 'pools'],
    [['submit', '--idempotency-key', 'a b', '--', 'ls'], 'printable'],
    [['submit'], 'nothing to run'],
    [['submit', '--shell', 'ls', '--', 'ls'], 'not both'],
    [['submit', '-f', 'job.yaml', '--', 'ls'], 'not both'],
    [['submit', '--timeout'], 'argument missing'],
    [['submit', '--', 'a\0b'], 'steps.0.run'],
    [['submit', '--env', 'JR_JOB_ID=x', '--', 'ls'], 'env.JR_JOB_ID'],
    [['wait', 'j_1', '--timeout', '5 minutes'], 'duration'],
    [['agents', 'enable-reporting'], 'agent id or --all'],
    [['agents', 'enable-reporting', 'a_1', '--all'], 'agent id or --all'],
    [['agents', 'drain'], "missing required argument 'id'"],
    [['logs', ''], 'not an id'],
  ])('jr %j exits 64 saying %j', async (argv, message) => {
    const r = await jr(...argv);
    expect(r.code).toBe(64);
    expect(r.stderr).toContain(message);
    expect(r.stdout).toBe('');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('never writes control characters from hostile input back to the terminal', async () => {
    const r = await jr('submit', '--label', 'k=\x1b]0;pwned\x07', '--', 'ls');
    expect(r.code).toBe(64);
    expect(r.stderr).not.toContain('\x1b');
    expect(r.stderr).toContain('\\x1b');
  });

  it('reports bad configuration naming every variable, exit 64', async () => {
    const stderr = capture();
    const code = await run(['list'], {
      stdout: capture(),
      stderr,
      env: { JR_API_URL: 'nope', JR_REQUEST_TIMEOUT: 'x' },
    });
    expect(code).toBe(64);
    expect(stderr.text).toMatch(/^jr: bad configuration: JR_API_URL: .*; JR_REQUEST_TIMEOUT: /);
  });

  it('exits 69 with one line when the API address cannot be used', async () => {
    // port 9 is on fetch's blocked-port list: refused before any connection
    const r = await jr('status', 'j_1');
    expect(r.code).toBe(69);
    expect(r.stderr).toBe('jr: cannot reach the API at http://127.0.0.1:9/ (bad port)\n');
  });
});
