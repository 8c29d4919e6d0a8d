import { status } from '@grpc/grpc-js';
import { AgentClient, ENROLL, http, startTestApi, type TestApi } from './harness';

let t: TestApi;
const clients: AgentClient[] = [];

function agent(): AgentClient {
  const c = new AgentClient(t.grpcAddress);
  clients.push(c);
  return c;
}

interface HeartbeatAnswer {
  directives: Array<{ kind: string }>;
}

const heartbeat = (c: AgentClient, token?: string) =>
  c.call<HeartbeatAnswer>('Heartbeat', {}, token === undefined ? {} : { token });
const reportingDirectives = (answers: HeartbeatAnswer[]) =>
  answers.flatMap((a) => a.directives).filter((d) => d.kind === 'enableReporting').length;

beforeAll(async () => {
  t = await startTestApi();
});

afterAll(async () => {
  for (const c of clients) c.close();
  await t?.cleanup();
});

describe('heartbeat', () => {
  it('an enable-reporting request racing heartbeats is delivered exactly once, never cleared unseen', async () => {
    const c = agent();
    const id = await c.enroll({ name: 'racer' });
    for (let round = 0; round < 15; round++) {
      const racing = Array.from({ length: 4 }, () => heartbeat(c));
      const enabled = await http(t, 'POST', `/v1/agents/${id}/reporting/enable`);
      expect(enabled.status).toBe(202);
      const answers = [...(await Promise.all(racing)), await heartbeat(c)];
      expect(reportingDirectives(answers)).toBe(1);
    }
  });

  it('refuses an unknown agent, a wrong secret and a revoked credential, and records nothing for them', async () => {
    const c = agent();
    const id = await c.enroll({ name: 'revoked-host' });
    const old = c.credential;
    await heartbeat(c);
    const unknown = `a_${'0'.repeat(20)}.${'s'.repeat(43)}`;
    const wrong = `${id}.${'w'.repeat(43)}`;
    for (const token of [unknown, wrong])
      await expect(heartbeat(c, token)).rejects.toMatchObject({ code: status.UNAUTHENTICATED });
    // the enroll token alone re-enrolls nobody: a new agent under the same name, or the same id, is refused
    await expect(c.enroll({ name: 'revoked-host' })).rejects.toMatchObject({ code: status.PERMISSION_DENIED });
    await expect(
      c.call('Enroll', { name: 'revoked-host', pool: 'default', slots: 1, previousAgentId: id }, { token: ENROLL }),
    ).rejects.toMatchObject({ code: status.PERMISSION_DENIED });
    expect((await http(t, 'POST', `/v1/agents/${id}/revoke`)).status).toBe(200);
    const before = (
      (await http(t, 'GET', '/v1/agents')).json as { items: Array<{ id: string; lastHeartbeatAt: string }> }
    ).items.find((a) => a.id === id);
    for (let i = 0; i < 3; i++)
      await expect(heartbeat(c, old)).rejects.toMatchObject({ code: status.PERMISSION_DENIED });
    await expect(c.call('Lease', { freeSlots: 1, waitMs: 0 }, { token: old })).rejects.toMatchObject({
      code: status.PERMISSION_DENIED,
    });
    const after = (
      (await http(t, 'GET', '/v1/agents')).json as { items: Array<{ id: string; lastHeartbeatAt: string }> }
    ).items.find((a) => a.id === id);
    expect(after?.lastHeartbeatAt).toBe(before?.lastHeartbeatAt);
  });
});
