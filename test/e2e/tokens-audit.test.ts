import { spawnSync } from 'node:child_process';
import type { AgentList } from '@jr/contracts';
import { API_MAIN, baseEnv, Stack, waitFor } from '@jr/testing';

// An operator's day through the real `jr` against a real jr-api and jr-agent: a scoped token made with
// `jr tokens create`, used to submit, cancel, drain and undrain; refused what it lacks; revoked; and
// every step of it in `jr audit`.

const stack = new Stack('1s');
let agentId: string;

interface AuditItem {
  actor: string;
  actorName: string | null;
  action: string;
  target: string | null;
  outcome: string;
  address: string | null;
}

beforeAll(async () => {
  await stack.start();
  await stack.startAgent('ops-a', { slots: 1 });
  agentId = (await stack.get<AgentList>('/v1/agents')).items[0]?.id ?? '';
}, 60_000);
afterAll(() => stack.close());

afterEach(() => {
  const state = expect.getState();
  if (state.assertionCalls !== state.numPassingAsserts) console.error(stack.diagnostics());
});

async function audit(args: string[] = []): Promise<AuditItem[]> {
  const r = await stack.cli(['audit', '--json', '--limit', '500', ...args]);
  expect(r.code).toBe(0);
  return (JSON.parse(r.stdout) as { items: AuditItem[] }).items;
}

it('jr-api refuses to start with a 31-character JR_ADMIN_TOKEN: exit 2, one line naming the variable', () => {
  const r = spawnSync(process.execPath, [API_MAIN], {
    env: { ...baseEnv(), JR_ADMIN_TOKEN: 'x'.repeat(31), JR_ENROLL_TOKEN: 'enroll-secret', JR_HTTP_PORT: '0' },
    encoding: 'utf8',
    timeout: 30_000,
  });
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(/^jr-api: bad configuration: JR_ADMIN_TOKEN: must be 32-512 printable characters[^\n]*\n$/);
  expect(r.stderr).not.toContain('x'.repeat(31));
});

it("an operator's token: submit, cancel, drain, undrain, a refusal, revocation — all in jr audit", async () => {
  const made = await stack.cli([
    'tokens',
    'create',
    '--scope',
    'jobs:submit,jobs:read,jobs:cancel',
    '--scope',
    'agents:read,agents:admin',
    '--ttl',
    '1d',
    '--name',
    'operator',
    '--json',
  ]);
  expect(made.code).toBe(0);
  const token = JSON.parse(made.stdout) as { id: string; token: string; scopes: string[]; expiresAt: string };
  expect(Object.keys(token).sort()).toEqual(['expiresAt', 'id', 'scopes', 'token']);
  expect(token.scopes).toEqual(['jobs:submit', 'jobs:read', 'jobs:cancel', 'agents:read', 'agents:admin']);
  const as = { JR_TOKEN: token.token };

  const submitted = await stack.cli(['submit', '--json', '--', 'sleep', '30'], as);
  expect(submitted.code).toBe(0);
  const jobId = (JSON.parse(submitted.stdout) as { id: string }).id;
  expect((await stack.cli(['cancel', jobId], as)).code).toBe(0);
  expect((await stack.cli(['agents', 'drain', agentId], as)).code).toBe(0);
  expect((await stack.cli(['agents', 'undrain', agentId], as)).code).toBe(0);
  const refused = await stack.cli(['tokens', 'create', '--scope', 'jobs:read'], as);
  expect(refused.code).toBe(77);
  expect(refused.stderr).toContain('tokens:admin');

  const listed = await stack.cli(['tokens', 'list', '--json']);
  expect(listed.stdout).not.toContain(token.token.slice(-43));
  expect(listed.stdout).toContain(token.id);
  expect((await stack.cli(['tokens', 'revoke', token.id])).code).toBe(0);
  const after = await stack.cli(['list'], as);
  expect(after.code).toBe(77);
  expect(after.stderr).toContain('revoked');

  const mine = await waitFor(
    async () => {
      const items = await audit(['--actor', token.id]);
      return items.some((e) => e.action === 'jobs.submit') ? items : undefined;
    },
    { what: 'the submission in the audit log' },
  );
  expect(mine.map((e) => [e.action, e.target, e.outcome])).toEqual([
    ['tokens.create', null, 'forbidden'],
    ['agents.undrain', agentId, 'ok'],
    ['agents.drain', agentId, 'ok'],
    ['jobs.cancel', jobId, 'ok'],
    ['jobs.submit', jobId, 'accepted'],
  ]);
  for (const e of mine)
    expect(e).toMatchObject({ actorName: 'operator', address: expect.stringMatching(/127\.0\.0\.1$/) });
  const admin = (await audit(['--actor', 'admin', '--target', token.id])).map((e) => e.action);
  expect(admin).toEqual(['tokens.revoke', 'tokens.create']);
  expect((await audit(['--action', 'jobs.cancel'])).map((e) => e.target)).toEqual([jobId]);

  const table = await stack.cli(['audit', '--actor', token.id]);
  expect(table.code).toBe(0);
  expect(table.stdout).toMatch(/TIME +ACTOR +ACTION +TARGET +OUTCOME +ADDRESS/);
  expect(table.stdout).toContain(`${token.id} (operator)`);
}, 60_000);
