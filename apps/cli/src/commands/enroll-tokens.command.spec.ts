import { run } from '../program';
import type { Io, OutStream } from '../output';
import { renderEnrollTokens } from './enroll-tokens.command';

function capture(): OutStream & { text: string } {
  const s = {
    text: '',
    write: (c: string | Uint8Array) => ((s.text += typeof c === 'string' ? c : Buffer.from(c).toString()), true),
  };
  return s;
}

/** In-process, against an address where nothing listens: usage errors must not get that far. */
async function jr(...argv: string[]): Promise<{ code: number; stderr: string }> {
  const stderr = capture();
  const io: Io = { stdout: capture(), stderr, env: { JR_API_URL: 'http://127.0.0.1:9', JR_REQUEST_TIMEOUT: '2s' } };
  return { code: await run(argv, io), stderr: stderr.text };
}

describe('jr tokens create-enroll usage', () => {
  const ok = ['tokens', 'create-enroll', '--pool', 'web', '--uses', '10', '--ttl', '1h'];

  it.each([
    [['tokens', 'create-enroll', '--uses', '1', '--ttl', '1h'], "required option '--pool <pool>'"],
    [['tokens', 'create-enroll', '--pool', 'web', '--ttl', '1h'], "required option '--uses <n>'"],
    [['tokens', 'create-enroll', '--pool', 'web', '--uses', '1'], "required option '--ttl <duration>'"],
    [[...ok.slice(0, 3), 'Web!', ...ok.slice(4)], 'pools are lowercase'],
    [[...ok.slice(0, 5), '0', ...ok.slice(6)], 'from 1 to 10000'],
    [[...ok.slice(0, 5), '10001', ...ok.slice(6)], 'from 1 to 10000'],
    [[...ok.slice(0, 7), '30s'], '1m to 366d'],
    [[...ok.slice(0, 7), '400d'], '1m to 366d'],
    [[...ok, '--label', 'novalue'], 'expected k=v'],
    [['tokens', 'revoke-enroll'], "missing required argument 'id'"],
    [['agents', 'revoke'], "missing required argument 'id'"],
  ])('%j exits 64: %s', async (argv, message) => {
    const r = await jr(...argv);
    expect(r.code).toBe(64);
    expect(r.stderr).toContain(message);
  });

  it('a valid command reaches for the API (unreachable here: 69)', async () => {
    expect((await jr(...ok, '--label', 'os=linux')).code).toBe(69);
  });
});

describe('renderEnrollTokens', () => {
  it('shows use counts, expiry in either direction, and never lets a name write to the terminal', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    const text = renderEnrollTokens(
      [
        {
          id: 'et_a',
          name: 'web\u001b[31m',
          pool: 'web',
          labels: { os: 'linux' },
          uses: 10,
          used: 3,
          expiresAt: '2026-01-01T01:00:00Z',
          state: 'active',
        },
        { id: 'et_b', pool: 'db', uses: 1, used: 1, expiresAt: '2025-12-31T23:00:00Z', state: 'expired' },
      ],
      now,
    );
    expect(text).toContain('3/10');
    expect(text).toContain('in 1h0m0s');
    expect(text).toContain('1h0m0s ago');
    expect(text).toContain('os=linux');
    expect(text).not.toContain('\u001b');
  });
});
