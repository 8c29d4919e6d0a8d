import { X509Certificate } from 'node:crypto';
import { agentIdOfSan, createCa, createCsr, createKeyPem, issueClientCert, normalizeSerial, verifyCsr } from './index';

describe('agent client certificates', () => {
  it('a CSR verifies by its own signature and names its key; another key gives another identity', async () => {
    const key = await createKeyPem();
    const csr = await createCsr(key);
    const verified = await verifyCsr(csr);
    expect(verified.keySha256).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect((await verifyCsr(await createCsr(key, 'other'))).keySha256).toBe(verified.keySha256);
    expect((await verifyCsr(await createCsr(await createKeyPem()))).keySha256).not.toBe(verified.keySha256);
  });

  it('refuses a CSR whose signature does not match its key, and text that is no CSR', async () => {
    const csr = await createCsr(await createKeyPem());
    const der = Buffer.from(csr.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    der.writeUInt8((der.at(-5) ?? 0) ^ 0xff, der.length - 5); // inside the signature
    const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    await expect(verifyCsr(tampered)).rejects.toThrow(/not signed by its own key|not a PEM/);
    await expect(verifyCsr('hello')).rejects.toThrow(/not a PEM PKCS#10/);
    await expect(verifyCsr('x'.repeat(20_000))).rejects.toThrow(/too large/);
  });

  it('issues a clientAuth certificate for the CSR key, named by the agent id, verifying with the CA only', async () => {
    const ca = await createCa({ commonName: 'agent CA', validityDays: 1 });
    const other = await createCa({ commonName: 'other CA', validityDays: 1 });
    const key = await createKeyPem();
    const now = new Date();
    const issued = await issueClientCert(ca, await createCsr(key), { agentId: 'a_abc', ttlMs: 15_000, now });
    const cert = new X509Certificate(issued.certPem);
    expect(cert.subject).toBe('CN=a_abc');
    expect(agentIdOfSan(cert.subjectAltName)).toBe('a_abc');
    expect(cert.checkPrivateKey((await import('node:crypto')).createPrivateKey(key))).toBe(true);
    expect(cert.verify(new X509Certificate(ca.certPem).publicKey)).toBe(true);
    expect(cert.verify(new X509Certificate(other.certPem).publicKey)).toBe(false);
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']); // clientAuth only
    expect(Date.parse(cert.validTo) - Date.parse(cert.validFrom)).toBe(15_000);
    expect(normalizeSerial(cert.serialNumber)).toBe(issued.serial);
  });

  it('reads exactly one agent id from a subjectaltname', () => {
    expect(agentIdOfSan('URI:urn:jobrunner:agent:a_1')).toBe('a_1');
    expect(agentIdOfSan('DNS:x, URI:urn:jobrunner:agent:a_1, URI:urn:jobrunner:agent:a_2')).toBeUndefined();
    expect(agentIdOfSan(undefined)).toBeUndefined();
    expect(normalizeSerial('00AB:CD')).toBe('abcd');
  });
});
