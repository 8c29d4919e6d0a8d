import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { run } from '../../../apps/cli/src/program';
import type { OutStream } from '../../../apps/cli/src/output';
import { FakeApi } from './fake-api';

// `jr submit -f` checks a job file with the contract's own parser: text Postgres cannot store (an
// unpaired surrogate written as a YAML/JSON escape, NUL) is a usage error (64) naming where, and
// nothing is sent.
let api: FakeApi;
let url: string;
let dir: string;

beforeEach(async () => {
  api = new FakeApi();
  url = await api.start();
  dir = mkdtempSync(path.join(tmpdir(), 'jr-jobfile-'));
});

afterEach(async () => {
  await api.stop();
  rmSync(dir, { recursive: true, force: true });
});

function capture(): OutStream & { text: () => string } {
  const chunks: Buffer[] = [];
  return {
    isTTY: false,
    write: (c: string | Uint8Array) => (chunks.push(Buffer.from(c)), true),
    text: () => Buffer.concat(chunks).toString('utf8'),
  };
}

async function submitFile(name: string, content: string): Promise<{ code: number; stderr: string }> {
  const file = path.join(dir, name);
  writeFileSync(file, content);
  const stdout = capture();
  const stderr = capture();
  const code = await run(['submit', '-f', file], {
    stdout,
    stderr,
    env: { JR_API_URL: url, JR_TOKEN: api.token, JR_REQUEST_TIMEOUT: '5s' },
  });
  return { code, stderr: stderr.text() };
}

it.each([
  [
    'an unpaired surrogate in a run string (YAML escape)',
    'job.yaml',
    'steps:\n  - run: "echo \\ud800"\n',
    'steps.0.run',
    /surrogate/,
  ],
  [
    'an unpaired surrogate in an argv element (JSON escape)',
    'job.json',
    '{"steps":[{"run":["printf","%s","\\udfff"]}]}',
    'steps.0.run.2',
    /surrogate/,
  ],
  ['NUL in an env value', 'job.yaml', 'env:\n  A: "x\\0y"\nsteps:\n  - run: "true"\n', 'env.A', /NUL/],
  [
    'an unpaired surrogate in a label key',
    'job.yaml',
    'labels:\n  "\\udc00": v\nsteps:\n  - run: "true"\n',
    'labels.\\udc00',
    /surrogate/,
  ],
  ['NUL in a step name', 'job.yaml', 'steps:\n  - name: "a\\0b"\n    run: "true"\n', 'steps.0.name', /NUL/],
])('refuses %s with exit 64, names the field, and sends nothing', async (_what, name, content, field, why) => {
  const r = await submitFile(name, content);
  expect(r.code).toBe(64);
  expect(r.stderr).toContain('the job is not valid');
  expect(r.stderr).toContain(`  ${field}: `);
  expect(r.stderr).toMatch(why);
  expect(r.stderr.includes('\0')).toBe(false); // the message itself prints cleanly
  expect(r.stderr).not.toMatch(/[\ud800-\udfff\ufffd]/u);
  expect(api.requests).toHaveLength(0);
});

it('submits odd but storable text (emoji, RTL, control characters) as written', async () => {
  const r = await submitFile(
    'ok.yaml',
    'env:\n  MSG: "héllo 👋 \\u202eRTL\\u202c \\t\\e[1m"\nsteps:\n  - run: ["printf", "%s", "𝄞"]\n',
  );
  expect(r.code).toBe(0);
  expect(JSON.parse(api.requests[0]?.body ?? '{}')).toEqual({
    env: { MSG: 'héllo 👋 \u202eRTL\u202c \t\u001b[1m' },
    steps: [{ run: ['printf', '%s', '𝄞'] }],
  });
});
