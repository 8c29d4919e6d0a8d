import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm, stat, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ensureSelfCertificates } from './self-ca.store';

describe('ensureSelfCertificates', () => {
  let dir = '';
  beforeEach(async () => (dir = await mkdtemp(path.join(tmpdir(), 'jr-self-ca-'))));
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('makes CA and server certificate once, keys 0600, and reuses them on the next start', async () => {
    const now = new Date();
    const first = await ensureSelfCertificates(dir, ['api.example'], now);
    expect(first.issued).toBe('ca+server');
    expect(first.sans).toEqual(expect.arrayContaining(['localhost', '127.0.0.1', '::1', 'api.example']));
    for (const key of ['ca-key.pem', 'server-key.pem'])
      expect((await stat(path.join(dir, 'tls', key))).mode & 0o777).toBe(0o600);
    const again = await ensureSelfCertificates(dir, ['api.example'], now);
    expect(again.issued).toBe('none');
    expect(again.certPem).toBe(first.certPem);
  });

  it('issues the server certificate again near its end or for a new name, keeping the CA', async () => {
    const now = new Date();
    const first = await ensureSelfCertificates(dir, [], now);
    const renamed = await ensureSelfCertificates(dir, ['10.1.2.3'], now);
    expect(renamed.issued).toBe('server');
    expect(renamed.caSha256).toBe(first.caSha256);
    expect(new X509Certificate(renamed.certPem).subjectAltName).toContain('IP Address:10.1.2.3');
    const late = await ensureSelfCertificates(dir, ['10.1.2.3'], new Date(now.getTime() + 380 * 86_400_000));
    expect(late.issued).toBe('server');
    expect(late.caSha256).toBe(first.caSha256);
  });

  it('refuses a CA certificate whose key is gone instead of silently making a new CA', async () => {
    await ensureSelfCertificates(dir, [], new Date());
    await unlink(path.join(dir, 'tls', 'ca-key.pem'));
    await expect(ensureSelfCertificates(dir, [], new Date())).rejects.toThrow(
      /ca-key\.pem is missing but its pair exists/,
    );
  });
});
