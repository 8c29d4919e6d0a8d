import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { InvalidArgumentError } from 'commander';
import { parseJobSpec } from '@jr/contracts';
import { UsageError } from './cli-error';
import { parseBatch, parseDelivery, parseMaxFailures, parseMinSample, parsePause } from './fleet-flags';
import { documentFromCommand, documentFromFile } from './job-document';
import type { Io, OutStream } from './output';
import { run } from './program';

function capture(): OutStream & { text: string } {
  const s = {
    text: '',
    write: (c: string | Uint8Array) => ((s.text += typeof c === 'string' ? c : Buffer.from(c).toString()), true),
  };
  return s;
}

/** The bodies POSTed to /v1/jobs; every submit is answered 202 {id: j_1, state: queued}. */
const posted: unknown[] = [];
const server = http.createServer((req, res) => {
  let text = '';
  req.on('data', (c: Buffer) => (text += c.toString()));
  req.on('end', () => {
    if (req.method === 'POST' && req.url === '/v1/jobs') {
      posted.push(JSON.parse(text));
      res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 'j_1', state: 'queued' }));
    } else res.writeHead(404, { 'content-type': 'application/json' }).end('{"title":"Not Found","status":404}');
  });
});
let apiUrl = '';
beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => (posted.length = 0));

async function jr(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const [stdout, stderr] = [capture(), capture()];
  const io: Io = { stdout, stderr, env: { JR_API_URL: apiUrl, JR_REQUEST_TIMEOUT: '5s', JR_CONFIG: '/nonexistent' } };
  return { code: await run(argv, io), stdout: stdout.text, stderr: stderr.text };
}

function usage(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as UsageError).message;
  }
  throw new Error('expected a usage error');
}

describe('fleet flag values', () => {
  it('--batch: a count from 1 (sent as a number) or a percent from 1% (sent as text)', () => {
    expect(parseBatch('10')).toBe(10);
    expect(parseBatch('25%')).toBe('25%');
    expect(parseBatch(' 12.5% ')).toBe('12.5%');
    for (const bad of ['0', '0%', '101%', '12.55%', 'ten', '-1', '1e3', ''])
      expect(() => parseBatch(bad)).toThrow(InvalidArgumentError);
  });

  it('--max-failures takes 0 and 0%; --min-sample a whole number', () => {
    expect(parseMaxFailures('0')).toBe(0);
    expect(parseMaxFailures('5%')).toBe('5%');
    expect(() => parseMaxFailures('5.%')).toThrow(InvalidArgumentError);
    expect(parseMinSample('20')).toBe(20);
    for (const bad of ['-1', '2.5', 'x', '10000000']) expect(() => parseMinSample(bad)).toThrow(InvalidArgumentError);
  });

  it('--delivery-timeout: 1s to 7d; --pause: 0s to 7d; kept as written', () => {
    expect(parseDelivery('10m')).toBe('10m');
    expect(parsePause('0s')).toBe('0s');
    expect(parsePause('30')).toBe('30');
    for (const bad of ['500ms', '8d', 'soon']) expect(() => parseDelivery(bad)).toThrow(InvalidArgumentError);
    expect(() => parsePause('8d')).toThrow(InvalidArgumentError);
  });
});

describe('fleet flags into the document', () => {
  it('--target pairs become targets.labels (a later key wins), rollout flags the rollout; --pool stays the job pool', () => {
    const doc = documentFromCommand(['./patch'], {
      pool: 'web',
      fleet: {
        labels: [
          ['role', 'web'],
          ['zone', 'a'],
          ['zone', 'b'],
        ],
        continuous: true,
        batch: '10%',
        mode: 'batching',
        maxFailures: 2,
        minSample: 4,
        deliveryTimeout: '10m',
        pause: '30s',
      },
    });
    expect(doc).toEqual({
      pool: 'web',
      steps: [{ run: ['./patch'] }],
      targets: { labels: { role: 'web', zone: 'b' }, continuous: true },
      rollout: { batch: '10%', mode: 'batching', maxFailures: 2, minSample: 4, deliveryTimeout: '10m', pause: '30s' },
    });
    expect(parseJobSpec(doc).ok).toBe(true);
  });

  it('--target-agent lists agents (each once), --all the whole pool', () => {
    const agents = documentFromCommand(['true'], { fleet: { agents: ['web-1', 'a_0123456789abcdefghij', 'web-1'] } });
    expect(agents.targets).toEqual({ agents: ['web-1', 'a_0123456789abcdefghij'] });
    expect(documentFromCommand(['true'], { fleet: { all: true } }).targets).toEqual({ all: true });
  });

  it('over a job file: a selector flag replaces the selector (the pool is kept), rollout flags merge', () => {
    const file = {
      steps: [{ run: 'make' }],
      targets: { pool: 'web', labels: { role: 'web' } },
      rollout: { batch: 2, pause: '1m' },
    };
    expect(documentFromFile(file, { fleet: { all: true, batch: '50%' } })).toEqual({
      steps: [{ run: 'make' }],
      targets: { pool: 'web', all: true },
      rollout: { batch: '50%', pause: '1m' },
    });
    expect(documentFromFile(file, { fleet: { maxFailures: 1 } }).targets).toEqual(file.targets);
    expect(documentFromFile(file, { fleet: { continuous: true } }).targets).toEqual({
      ...file.targets,
      continuous: true,
    });
  });

  it.each([
    [{ labels: [['role', 'web'] as const], agents: ['web-1'] }, '--target and --target-agent: give one of'],
    [{ labels: [['role', 'web'] as const], all: true }, '--target and --all: give one of'],
    [{ agents: ['web-1'], all: true }, '--target-agent and --all: give one of'],
    [{ batch: 2 }, '--batch is for a fleet job: say which agents with --target k=v'],
    [{ pause: '1m', maxFailures: 1 }, '--max-failures is for a fleet job'],
    [{ continuous: true }, '--continuous is for a fleet job'],
    [{ agents: ['web-1'], continuous: true }, '--continuous adds agents that join later'],
  ])('refuses %j', (fleet, message) => {
    expect(usage(() => documentFromCommand(['true'], { fleet }))).toContain(message);
  });

  it('refuses --label on a fleet job (it picks agents with --target)', () => {
    const flags = { labels: [['gpu', 'true'] as const], fleet: { all: true } };
    expect(usage(() => documentFromCommand(['true'], flags))).toContain(
      'with --target k=v (targets.labels), not --label',
    );
  });

  it('leaves a document without fleet flags alone', () => {
    expect(documentFromCommand(['true'], { fleet: {} })).toEqual({ steps: [{ run: ['true'] }] });
  });
});

describe('jr submit with fleet flags', () => {
  it('sends targets and rollout built from the flags', async () => {
    const r = await jr(
      ...['submit', '--pool', 'web', '--target', 'role=web', '--target', 'os=linux', '--batch', '10%'],
      ...['--rollout', 'rolling', '--max-failures', '5%', '--min-sample', '3', '--delivery-timeout', '10m'],
      ...['--pause', '30s', '--continuous', '--', './patch', '--all'],
    );
    expect(r).toMatchObject({ code: 0, stdout: 'j_1\n' });
    expect(posted).toEqual([
      {
        pool: 'web',
        steps: [{ run: ['./patch', '--all'] }],
        targets: { labels: { role: 'web', os: 'linux' }, continuous: true },
        rollout: {
          batch: '10%',
          mode: 'rolling',
          maxFailures: '5%',
          minSample: 3,
          deliveryTimeout: '10m',
          pause: '30s',
        },
      },
    ]);
  });

  it("-f: the file's targets and rollout are sent; rollout flags go over them", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'jr-fleet-'));
    const file = path.join(dir, 'job.yaml');
    await fs.writeFile(file, 'steps: [{run: make}]\ntargets: {agents: [web-1, web-2]}\nrollout: {batch: 1}\n');
    expect((await jr('submit', '-f', file, '--max-failures', '1')).code).toBe(0);
    expect(posted).toEqual([
      { steps: [{ run: 'make' }], targets: { agents: ['web-1', 'web-2'] }, rollout: { batch: 1, maxFailures: 1 } },
    ]);
  });

  it.each([
    [['--batch', '0'], "option '--batch <n|n%>' argument '0' is invalid"],
    [['--batch', '150%'], 'percent from 1% to 100%'],
    [['--max-failures', 'some'], "option '--max-failures <n|n%>' argument 'some' is invalid"],
    [['--min-sample', '-2'], 'whole number from 0'],
    [['--delivery-timeout', '10 minutes'], 'expected a duration from 1s to 7d'],
    [['--pause', '9d'], 'expected a duration from 0s to 7d'],
    [['--rollout', 'canary'], 'Allowed choices are batching, rolling'],
    [['--target-agent', ''], 'expected an agent name or id'],
    [['--target', 'role'], 'expected k=v'],
    [['--target', 'role=web', '--all'], '--target and --all'],
    [['--target', 'role=web', '--target-agent', 'web-1'], '--target and --target-agent'],
    [['--batch', '2'], '--batch is for a fleet job'],
    [['--all', '--label', 'gpu=true'], 'not --label'],
  ])('%j exits 64 with one line, sending nothing', async (flags, message) => {
    const r = await jr('submit', ...flags, '--', 'true');
    expect({ code: r.code, said: r.stderr.includes(message), lines: r.stderr.trimEnd().split('\n').length }).toEqual({
      code: 64,
      said: true,
      lines: 1,
    });
    expect(posted).toEqual([]);
  });
});
