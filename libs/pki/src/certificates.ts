import 'reflect-metadata';
import { createPrivateKey, KeyObject, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';

/** A certificate and its private key, both PEM (key: PKCS#8 "PRIVATE KEY"). */
export interface CertAndKey {
  certPem: string;
  keyPem: string;
}

export const EC_P256: webcrypto.EcKeyGenParams & webcrypto.EcdsaParams = {
  name: 'ECDSA',
  namedCurve: 'P-256',
  hash: 'SHA-256',
};
const DAY_MS = 86_400_000;
/** Clocks of peers may lag: certificates start a little in the past. */
const BACKDATE_MS = 5 * 60_000;

export interface CaOptions {
  commonName: string;
  validityDays: number;
  now?: Date;
}

/** A self-signed ECDSA P-256 CA that may only sign end-entity certificates (path length 0). */
export async function createCa(options: CaOptions): Promise<CertAndKey> {
  const keys = await generateKeys();
  const notBefore = new Date((options.now ?? new Date()).getTime() - BACKDATE_MS);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: [{ CN: [options.commonName] }],
    notBefore,
    notAfter: new Date(notBefore.getTime() + options.validityDays * DAY_MS),
    signingAlgorithm: EC_P256,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: pemText(cert), keyPem: await exportKeyPem(keys.privateKey) };
}

export interface ServerCertOptions {
  /** DNS names and IP addresses the certificate is valid for (the first one is also the CN). */
  sans: string[];
  validityDays: number;
  now?: Date;
}

/** A TLS server certificate (serverAuth) for `sans`, signed by `ca`. */
export async function issueServerCert(ca: CertAndKey, options: ServerCertOptions): Promise<CertAndKey> {
  if (options.sans.length === 0) throw new Error('a server certificate needs at least one name');
  const caCert = new x509.X509Certificate(ca.certPem);
  const caKey = await importKeyPem(ca.keyPem);
  const keys = await generateKeys();
  const notBefore = new Date((options.now ?? new Date()).getTime() - BACKDATE_MS);
  const notAfterWanted = notBefore.getTime() + options.validityDays * DAY_MS;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: [{ CN: [options.sans[0] ?? 'jr-api'] }],
    issuer: caCert.subjectName,
    notBefore,
    // never outlive the CA: a chain with a longer-lived leaf fails verification at the CA's end
    notAfter: new Date(Math.min(notAfterWanted, caCert.notAfter.getTime())),
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm: EC_P256,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
      new x509.SubjectAlternativeNameExtension(options.sans.map(generalName), false),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCert, false),
    ],
  });
  return { certPem: pemText(cert), keyPem: await exportKeyPem(keys.privateKey) };
}

function generalName(name: string): { type: 'ip' | 'dns'; value: string } {
  const bare = name.replace(/^\[(.*)\]$/, '$1');
  return isIP(bare) ? { type: 'ip', value: bare } : { type: 'dns', value: name };
}

/** A fresh extractable ECDSA P-256 key pair. */
export function generateKeys(): Promise<webcrypto.CryptoKeyPair> {
  return webcrypto.subtle.generateKey(EC_P256, true, ['sign', 'verify']);
}

/** PKCS#8 PEM of a private key. */
export async function exportKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  return KeyObject.from(key).export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** A PEM private key (PKCS#8, SEC1) as a WebCrypto ECDSA P-256 signing key. */
export function importKeyPem(pem: string): Promise<webcrypto.CryptoKey> {
  const der = createPrivateKey(pem).export({ type: 'pkcs8', format: 'der' });
  return webcrypto.subtle.importKey('pkcs8', der, EC_P256, false, ['sign']);
}

/** 16 random bytes, the top bit cleared so the DER integer stays positive. */
export function randomSerial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] ?? 0) & 0x7f || 0x01;
  return Buffer.from(bytes).toString('hex');
}

/** PEM ending in a newline, so bundles can be concatenated. */
export function pemText(cert: x509.X509Certificate): string {
  return `${cert.toString('pem').trimEnd()}\n`;
}
