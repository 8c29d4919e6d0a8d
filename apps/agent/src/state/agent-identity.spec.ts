import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createCa, createCsr, createKeyPem, issueClientCert } from '@jr/pki';
import { AgentIdentity } from './agent-identity';

describe('AgentIdentity', () => {
  let dir = '';
  beforeEach(async () => (dir = await mkdtemp(path.join(tmpdir(), 'jr-agent-identity-'))));
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('makes the key once (0600) and keeps it; a certificate it adopts is stored and found on the next open', async () => {
    const first = await AgentIdentity.open(dir);
    expect((await stat(AgentIdentity.keyFile(dir))).mode & 0o777).toBe(0o600);
    const again = await AgentIdentity.open(dir);
    expect(again.keyPem).toBe(first.keyPem);
    expect(again.certificate).toBeUndefined();
    const ca = await createCa({ commonName: 'agent CA', validityDays: 1 });
    const issued = await issueClientCert(ca, first.csrPem, { agentId: 'a_1', ttlMs: 30_000 });
    await first.adopt(`${issued.certPem}${ca.certPem}`);
    expect(await readFile(AgentIdentity.certFile(dir), 'utf8')).toContain(issued.certPem.trim());
    const reopened = await AgentIdentity.open(dir);
    expect(reopened.certificate?.notAfterMs).toBe(issued.notAfter.getTime());
  });

  it('refuses a certificate for another key', async () => {
    const identity = await AgentIdentity.open(dir);
    const ca = await createCa({ commonName: 'agent CA', validityDays: 1 });
    const other = await issueClientCert(ca, await createCsr(await createKeyPem()), { agentId: 'a_1', ttlMs: 30_000 });
    await expect(identity.adopt(other.certPem)).rejects.toThrow(/not for this agent key/);
    expect(identity.certificate).toBeUndefined();
  });

  it('is due for renewal from two thirds of the lifetime, and lapsed at its end', async () => {
    const identity = await AgentIdentity.open(dir);
    const ca = await createCa({ commonName: 'agent CA', validityDays: 1 });
    const now = new Date(Math.floor(Date.now() / 1000) * 1000);
    const issued = await issueClientCert(ca, identity.csrPem, { agentId: 'a_1', ttlMs: 30_000, now });
    await identity.adopt(issued.certPem);
    const t0 = now.getTime();
    expect(identity.renewalDue(t0 + 19_000)).toBe(false);
    expect(identity.renewalDue(t0 + 20_000)).toBe(true);
    expect(identity.lapsed(t0 + 29_999)).toBe(false);
    expect(identity.lapsed(t0 + 30_000)).toBe(true);
  });
});
