import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client } from 'pg';
import type { AgentList, JobView } from '@jr/contracts';
import { Stack, waitFor, type ManagedProcess } from '@jr/testing';

// Real jr-agent processes against a real jr-api with short-lived client certificates (15 s, heartbeat 1 s):
// the agent's key stays on its machine, its certificate is renewed on the heartbeat and keeps it working past
// the first certificate's end; a lapsed certificate needs the enroll token to enroll again.
describe('agents with client certificates (mutual TLS)', () => {
  const stack = new Stack('1s', { apiEnv: { JR_AGENT_CERT_TTL: '15s' } });
  let pg: Client;

  beforeAll(async () => {
    await stack.start();
    pg = new Client({ connectionString: stack.databaseUrl });
    await pg.connect();
  });
  afterAll(async () => {
    await pg?.end();
    await stack.close();
  });

  const agentId = async (name: string): Promise<string> => {
    const a = (await stack.get<AgentList>('/v1/agents')).items.find((x) => x.name === name);
    if (!a) throw new Error(`agent ${name} not listed`);
    return a.id;
  };
  const serials = async (id: string) =>
    (
      await pg.query<{ serial: string; not_after: Date }>(
        'SELECT serial, not_after FROM agent_certificates WHERE agent_id = $1 ORDER BY issued_at',
        [id],
      )
    ).rows;
  const runJob = async (pool: string): Promise<JobView> => {
    const r = await stack.cli(['submit', '--pool', pool, '--json', '--shell', 'echo over-mtls']);
    expect(r.code).toBe(0);
    const id = (JSON.parse(r.stdout) as { id: string }).id;
    return waitFor(
      async () => {
        const job = await stack.job(id);
        return job.state === 'succeeded' || job.state === 'failed' ? job : undefined;
      },
      { timeoutMs: 30_000, what: `job ${id} to end` },
    );
  };
  const stopLines = (agent: ManagedProcess): string[] =>
    agent
      .log()
      .split('\n')
      .filter((l) => l.startsWith('jr-agent: '));
  const dataDir = (name: string): string => path.join(stack.dir, `agent-${name}`);

  it('enrolls with a CSR for its own key, runs jobs, and renews its certificate past the first one’s end', async () => {
    await stack.startAgent('m1', { pool: 'mtls' });
    const id = await agentId('m1');
    // listed active once enrolled; the certificate is stored right after the credential
    await waitFor(async () => fs.existsSync(path.join(dataDir('m1'), 'agent-cert.pem')), { what: 'agent-cert.pem' });
    expect(fs.statSync(path.join(dataDir('m1'), 'agent-key.pem')).mode & 0o777).toBe(0o600);
    const cert = new X509Certificate(fs.readFileSync(path.join(dataDir('m1'), 'agent-cert.pem')));
    expect(cert.subject).toBe(`CN=${id}`);
    expect(cert.subjectAltName).toBe(`URI:urn:jobrunner:agent:${id}`);
    expect(Date.parse(cert.validTo) - Date.parse(cert.validFrom)).toBe(15_000);
    expect((await runJob('mtls')).state).toBe('succeeded');

    const first = (await serials(id))[0];
    expect(first).toBeDefined();
    // renewals: at least two more certificates, and the first one's end is behind us
    await waitFor(async () => (await serials(id)).length >= 3 && Date.now() > first!.not_after.getTime() + 1_000, {
      timeoutMs: 60_000,
      what: 'two renewals past the first certificate’s end',
    });
    expect((await runJob('mtls')).state).toBe('succeeded');
    expect(stack.agents.get('m1')?.running).toBe(true);
    const stored = new X509Certificate(fs.readFileSync(path.join(dataDir('m1'), 'agent-cert.pem')));
    expect((await serials(id)).map((r) => r.serial)).toContain(stored.serialNumber.toLowerCase().replace(/^0+/, ''));
  });

  it('a lapsed certificate: without an enroll token the agent stops (exit 77, one line); with one it enrolls again as itself', async () => {
    const id = await agentId('m1');
    await stack.agents.get('m1')?.stop(10_000);
    const cert = new X509Certificate(fs.readFileSync(path.join(dataDir('m1'), 'agent-cert.pem')));
    await waitFor(async () => Date.now() > Date.parse(cert.validTo) + 1_000, {
      timeoutMs: 30_000,
      what: 'the stored certificate to expire',
    });
    const without = await stack.startAgent('m1', {
      pool: 'mtls',
      waitActive: false,
      extraEnv: { JR_ENROLL_TOKEN: '' },
    });
    expect((await without.exited()).code).toBe(77);
    expect(stopLines(without)).toEqual([expect.stringMatching(/client certificate expired at .*set JR_ENROLL_TOKEN/)]);

    const before = (await serials(id)).length;
    await stack.startAgent('m1', { pool: 'mtls' });
    expect(await agentId('m1')).toBe(id);
    expect((await serials(id)).length).toBeGreaterThan(before);
    expect((await runJob('mtls')).state).toBe('succeeded');
  });
});
