import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { newGate, Stack, waitFor, writeFile } from '@jr/testing';

// Secrets through real jr, jr-api and jr-agent processes: given by the CLI from its environment and a
// file, seen by the step as environment variables, masked in the output in every encoded form (split
// across reads and across the 64 KiB chunk boundary too), and found nowhere afterwards: in no file under
// either data directory, in no log line of either process, in no Postgres row, in no answer.
const TOKEN = `tok-${randomBytes(15).toString('base64url')}/+ü"x`;
const FILE_KEY = `key-${randomBytes(15).toString('hex')}`;

/** Every form of `v` the test looks for (the masker must have hidden each). */
function forms(v: string): Record<string, string> {
  const b = Buffer.from(v, 'utf8');
  return {
    exact: v,
    base64: b.toString('base64'),
    base64url: b.toString('base64url'),
    url: encodeURIComponent(v),
    json: JSON.stringify(v).slice(1, -1),
    hex: b.toString('hex'),
    // the value inside a longer base64 stream: after 3n bytes ("us:"), after 3n+2 bytes ("user:")
    inner0: b.toString('base64').slice(0, 16),
    inner2: Buffer.from(`xx${v}`).toString('base64').slice(4, 20),
  };
}

// prints the token in each form, split across reads (a pause mid-value) and across a 64 KiB chunk boundary
const SCRIPT = [
  'printf "plain %s\\n" "$DEPLOY_TOKEN"',
  'printf "%s" "$DEPLOY_TOKEN" | base64 -w0; echo',
  'printf "%s" "$DEPLOY_TOKEN" | base64 -w0 | tr "+/" "-_" | tr -d "="; echo',
  'printf "user:%s" "$DEPLOY_TOKEN" | base64 -w0; echo',
  'printf "us:%s@host" "$DEPLOY_TOKEN" | base64 -w0; echo',
  "node -e 'const t = process.env.DEPLOY_TOKEN; console.log(encodeURIComponent(t)); console.log(JSON.stringify({ t }))'",
  'printf "%s" "$DEPLOY_TOKEN" | head -c 9; sleep 0.3; printf "%s\\n" "$DEPLOY_TOKEN" | tail -c +10',
  'head -c 65530 /dev/zero | tr "\\0" x; printf "%s\\n" "$DEPLOY_TOKEN"',
  'printf "file %s\\n" "$API_KEY"',
  'printf "stderr %s\\n" "$DEPLOY_TOKEN" >&2',
].join('\n');

function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? filesUnder(p) : e.isFile() ? [p] : [];
  });
}

/** Every row of every table of the database, as text (bytea as hex: `forms().hex` finds a value there). */
async function everyRow(databaseUrl: string): Promise<string> {
  const pg = new Client({ connectionString: databaseUrl });
  await pg.connect();
  try {
    const tables = await pg.query<{ name: string }>(
      "SELECT quote_ident(table_name) AS name FROM information_schema.tables WHERE table_schema = 'public'",
    );
    const rows: string[] = [];
    for (const { name } of tables.rows)
      rows.push(...(await pg.query<{ row: string }>(`SELECT t::text AS row FROM ${name} t`)).rows.map((r) => r.row));
    return rows.join('\n');
  } finally {
    await pg.end();
  }
}

function leaks(data: string | Buffer, where: string): Array<{ where: string; form: string }> {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  return [...Object.entries(forms(TOKEN)), ...Object.entries(forms(FILE_KEY))]
    .filter(([, f]) => bytes.includes(Buffer.from(f, 'utf8')))
    .map(([form]) => ({ where, form }));
}

describe('job secrets end to end', () => {
  const stack = new Stack('1s', {
    apiEnv: { JR_SECRETS_KEY: `e2e:${randomBytes(32).toString('base64')}`, JR_LOG_LEVEL: 'debug' },
  });
  // the --secret-file source lives outside the stack's folder, which is searched for the values
  const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'jr-secret-src-'));

  beforeAll(async () => {
    await stack.start();
    await stack.startAgent('sec-a', { extraEnv: { JR_LOG_LEVEL: 'debug' } });
  });

  afterAll(async () => {
    await stack.close();
    fs.rmSync(outside, { recursive: true, force: true });
  });

  afterEach(() => {
    const state = expect.getState();
    if (state.assertionCalls !== state.numPassingAsserts) console.error(stack.diagnostics());
  });

  it('is in no file of the agent while the step runs: its outbox holds the output masked', async () => {
    const gate = newGate();
    const submit = await stack.cli(
      ['submit', '--secret', 'DEPLOY_TOKEN', '--shell', `printf "live %s\\n" "$DEPLOY_TOKEN"; ${gate.wait}`],
      { DEPLOY_TOKEN: TOKEN },
    );
    expect(submit.code).toBe(0);
    const id = submit.stdout.trim();
    await waitFor(async () => (await stack.logs(id)).includes('live [masked:DEPLOY_TOKEN]'), {
      what: 'the masked output to reach the API',
    });
    expect((await stack.job(id)).state).toBe('running');
    const agentFiles = filesUnder(path.join(stack.dir, 'agent-sec-a'));
    expect(agentFiles.some((f) => f.includes('outbox'))).toBe(true);
    expect(agentFiles.flatMap((f) => leaks(fs.readFileSync(f), f))).toEqual([]);
    gate.open();
    expect((await stack.cli(['wait', id])).code).toBe(0);
  });

  it('reaches the step, is masked in every form, and is found in no file, log line, row or answer', async () => {
    const keyFile = path.join(outside, 'api-key');
    fs.writeFileSync(keyFile, `${FILE_KEY}\n`);
    const job = writeFile(stack, 'secret-job.yaml', `name: secrets\nsteps:\n  - run: |\n${indent(SCRIPT)}\n`);
    const submit = await stack.cli(
      ['submit', '-f', job, '--secret', 'DEPLOY_TOKEN', '--secret-file', `API_KEY=${keyFile}`, '--wait'],
      { DEPLOY_TOKEN: TOKEN },
    );
    expect({ code: submit.code, stderr: submit.stderr }).toMatchObject({ code: 0 });
    const id = /submitted (j_\w+)/.exec(submit.stderr)?.[1] ?? '';
    const out = submit.stdout;
    expect(out.match(/\[masked:DEPLOY_TOKEN\]/g)?.length).toBeGreaterThanOrEqual(9);
    expect(out).toContain('plain [masked:DEPLOY_TOKEN]\n');
    expect(out).toContain('file [masked:API_KEY]\n');
    expect(out).toContain(`${'x'.repeat(65530)}[masked:DEPLOY_TOKEN]\n`);

    const status = await stack.cli(['status', id]);
    expect(status.stdout).toMatch(/^secrets: +API_KEY, DEPLOY_TOKEN$/m);
    const answers = [
      submit.stdout,
      submit.stderr,
      status.stdout,
      (await stack.cli(['status', id, '--json'])).stdout,
      (await stack.cli(['list', '--json'])).stdout,
      (await stack.cli(['logs', id])).stdout,
    ];
    const view = await stack.job(id);
    expect(view.spec.secrets).toEqual(['API_KEY', 'DEPLOY_TOKEN']);
    const rows = await everyRow(stack.databaseUrl);
    // the output is there (bytea, as hex), masked
    expect(rows.includes(Buffer.from('[masked:DEPLOY_TOKEN]').toString('hex'))).toBe(true);

    // stop both processes so their logs and journals are complete on disk, then search everything
    for (const a of stack.agents.values()) await a.stop(10_000);
    await stack.api.stop(10_000);
    const files = filesUnder(stack.dir);
    expect(files.some((f) => f.endsWith('api.log'))).toBe(true);
    expect(files.some((f) => f.includes(`${path.sep}agent-sec-a${path.sep}`))).toBe(true);
    const found = [
      ...answers.flatMap((a, i) => leaks(a, `answer ${i}`)),
      ...leaks(JSON.stringify(view), 'GET /v1/jobs/:id'),
      ...leaks(rows, 'postgres'),
      ...files.flatMap((f) => leaks(fs.readFileSync(f), f)),
    ];
    expect(found).toEqual([]);
  });
});

function indent(script: string): string {
  return script
    .split('\n')
    .map((l) => `      ${l}`)
    .join('\n');
}
