import 'reflect-metadata';
import { createHash, createPrivateKey, createPublicKey, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import {
  EC_P256,
  exportKeyPem,
  generateKeys,
  importKeyPem,
  pemText,
  randomSerial,
  type CertAndKey,
} from './certificates';
import { CertificateError } from './pem';

/** URI SAN prefix of an agent's client certificate: `urn:jobrunner:agent:<agent id>`. */
export const AGENT_URI_PREFIX = 'urn:jobrunner:agent:';
/** A CSR larger than this is refused before it is parsed. */
const MAX_CSR_PEM_BYTES = 16 * 1024;

/** A new ECDSA P-256 private key, PKCS#8 PEM (the agent's machine key). */
export async function createKeyPem(): Promise<string> {
  return exportKeyPem((await generateKeys()).privateKey);
}

/** A PKCS#10 certificate request for `keyPem`'s public key, self-signed with it (ECDSA P-256, SHA-256). */
export async function createCsr(keyPem: string, commonName = 'jr-agent'): Promise<string> {
  const privateKey = await importKeyPem(keyPem);
  const spki = createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' });
  const publicKey = await webcrypto.subtle.importKey('spki', spki, EC_P256, true, ['verify']);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: [{ CN: [commonName] }],
    keys: { privateKey, publicKey },
    signingAlgorithm: EC_P256,
  });
  return `${csr.toString('pem').trimEnd()}\n`;
}

export interface VerifiedCsr {
  csr: x509.Pkcs10CertificateRequest;
  /** `sha256:<hex>` of the request's SubjectPublicKeyInfo DER: the key's identity. */
  keySha256: string;
}

/**
 * Parses a PEM CSR and checks its self-signature (proof that the sender holds the private key) and that
 * its key is ECDSA P-256. Throws CertificateError with one line for the caller.
 */
export async function verifyCsr(pem: string): Promise<VerifiedCsr> {
  if (Buffer.byteLength(pem) > MAX_CSR_PEM_BYTES) throw new CertificateError('the certificate request is too large');
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(pem);
  } catch {
    throw new CertificateError('not a PEM PKCS#10 certificate request');
  }
  const alg = csr.publicKey.algorithm as { name?: string; namedCurve?: string };
  if (alg.name !== 'ECDSA' || alg.namedCurve !== 'P-256')
    throw new CertificateError('the certificate request must be for an ECDSA P-256 key');
  let valid = false;
  try {
    valid = await csr.verify();
  } catch {
    valid = false;
  }
  if (!valid) throw new CertificateError('the certificate request is not signed by its own key');
  return { csr, keySha256: keySha256(csr.publicKey.rawData) };
}

/** `sha256:<hex>` of a SubjectPublicKeyInfo DER. */
export function keySha256(spkiDer: ArrayBuffer | Buffer): string {
  return `sha256:${createHash('sha256')
    .update(Buffer.from(spkiDer as ArrayBuffer))
    .digest('hex')}`;
}

export interface ClientCertOptions {
  /** The agent id: CN and URI SAN `urn:jobrunner:agent:<id>`. */
  agentId: string;
  ttlMs: number;
  now?: Date;
}

export interface IssuedClientCert {
  certPem: string;
  /** Lower-case hex, no leading zeros (as `normalizeSerial` gives). */
  serial: string;
  notBefore: Date;
  notAfter: Date;
  keySha256: string;
}

/**
 * A TLS client certificate (clientAuth) for the CSR's key, signed by `ca`. Not backdated: only the
 * issuer's own TLS server verifies it, on the issuer's clock. Never outlives the CA.
 */
export async function issueClientCert(
  ca: CertAndKey,
  csrPem: string,
  options: ClientCertOptions,
): Promise<IssuedClientCert> {
  const { csr, keySha256: key } = await verifyCsr(csrPem);
  const caCert = new x509.X509Certificate(ca.certPem);
  const notBefore = new Date(Math.floor((options.now ?? new Date()).getTime() / 1000) * 1000);
  const notAfter = new Date(Math.min(notBefore.getTime() + options.ttlMs, caCert.notAfter.getTime()));
  const serial = randomSerial();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial,
    subject: [{ CN: [options.agentId] }],
    issuer: caCert.subjectName,
    notBefore,
    notAfter,
    publicKey: csr.publicKey,
    signingKey: await importKeyPem(ca.keyPem),
    signingAlgorithm: EC_P256,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false),
      new x509.SubjectAlternativeNameExtension(
        [{ type: 'url', value: `${AGENT_URI_PREFIX}${options.agentId}` }],
        false,
      ),
      await x509.AuthorityKeyIdentifierExtension.create(caCert, false),
    ],
  });
  return { certPem: pemText(cert), serial: normalizeSerial(serial), notBefore, notAfter, keySha256: key };
}

/** Serial numbers compared as Node prints them or as they were drawn: lower case, leading zeros dropped. */
export function normalizeSerial(hex: string): string {
  return hex
    .toLowerCase()
    .replace(/[^0-9a-f]/g, '')
    .replace(/^0+(?=.)/, '');
}

/** The agent id of a client certificate's `subjectaltname` (Node's `URI:urn:jobrunner:agent:<id>`), if exactly one. */
export function agentIdOfSan(subjectAltName: string | undefined): string | undefined {
  const ids = (subjectAltName ?? '')
    .split(', ')
    .filter((n) => n.startsWith(`URI:${AGENT_URI_PREFIX}`))
    .map((n) => n.slice(`URI:${AGENT_URI_PREFIX}`.length));
  return ids.length === 1 ? ids[0] : undefined;
}
