import { X509Certificate } from 'node:crypto';
import * as tls from 'node:tls';
import { createCa, discoverPinnedCa, fingerprintOf, isTrustError, issueServerCert, parseFingerprint } from './index';
import { checkServerChain } from './pem';

describe('@jr/pki', () => {
  it('issues a P-256 CA and a server certificate with its SANs that verify as a chain', async () => {
    const ca = await createCa({ commonName: 'spec CA', validityDays: 10 });
    const leaf = await issueServerCert(ca, { sans: ['api.example', '10.0.0.5', '::1'], validityDays: 400 });
    const caCert = new X509Certificate(ca.certPem);
    const cert = new X509Certificate(leaf.certPem);
    expect(caCert.ca).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.checkIssued(caCert) && cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.subjectAltName).toMatch(/DNS:api\.example, IP Address:10\.0\.0\.5, IP Address:(0:0:0:0:0:0:0:1|::1)/);
    expect(Date.parse(cert.validTo)).toBeLessThanOrEqual(Date.parse(caCert.validTo)); // never outlives its CA
    expect(checkServerChain(`${leaf.certPem}${ca.certPem}`, leaf.keyPem).chain).toHaveLength(2);
    expect(() => checkServerChain(leaf.certPem, ca.keyPem)).toThrow(/does not belong/);
    expect(() => checkServerChain('nothing', leaf.keyPem)).toThrow(/no PEM certificate/);
  });

  it('fingerprints as openssl does and reads every spelling an operator may paste', async () => {
    const ca = await createCa({ commonName: 'fp CA', validityDays: 1 });
    const fp = fingerprintOf(ca.certPem);
    const hex = fp.slice('sha256:'.length);
    const colons = (hex.toUpperCase().match(/../g) ?? []).join(':');
    for (const spelling of [fp, hex, colons, `sha256 Fingerprint=${colons}`, `SHA256:${hex.toUpperCase()}`, ` ${fp}\n`])
      expect(parseFingerprint(spelling)).toBe(fp);
    for (const bad of ['', 'sha256:', hex.slice(2), `${hex}00`, 'md5:' + hex, `sha256:${'g'.repeat(64)}`])
      expect(parseFingerprint(bad)).toBeUndefined();
  });

  describe('discoverPinnedCa', () => {
    let server: tls.Server;
    let port = 0;
    let caPem = '';
    beforeAll(async () => {
      const ca = await createCa({ commonName: 'pin CA', validityDays: 1 });
      const leaf = await issueServerCert(ca, { sans: ['localhost', '127.0.0.1'], validityDays: 1 });
      caPem = ca.certPem;
      server = tls.createServer({ cert: `${leaf.certPem}${ca.certPem}`, key: leaf.keyPem }, (s) => s.end());
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as { port: number }).port;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it('returns the CA whose fingerprint is the pin', async () => {
      expect(await discoverPinnedCa({ host: '127.0.0.1', port, pin: fingerprintOf(caPem) })).toBe(caPem);
    });

    it('refuses a server that presents no certificate with the pin (a TrustError)', async () => {
      const err: unknown = await discoverPinnedCa({ host: '127.0.0.1', port, pin: `sha256:${'a'.repeat(64)}` }).catch(
        (e: unknown) => e,
      );
      expect(isTrustError(err)).toBe(true);
      expect((err as Error).message).toContain('presented no certificate with fingerprint');
    });

    it('refuses a pinned CA whose chain does not carry the host name asked for', async () => {
      const err: unknown = await discoverPinnedCa({
        host: '127.0.0.1',
        port,
        servername: 'elsewhere.example',
        pin: fingerprintOf(caPem),
      }).catch((e: unknown) => e);
      expect(isTrustError(err)).toBe(true);
    });
  });
});
