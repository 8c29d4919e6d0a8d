import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';

const PEM_CERT_RE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The certificates of a PEM bundle, in order; non-certificate blocks and text between them are ignored. */
export function splitPemCertificates(text: string): string[] {
  return (text.match(PEM_CERT_RE) ?? []).map((block) => `${block}\n`);
}

/** Thrown for a certificate, chain or key that cannot serve: `message` is one line for an operator. */
export class CertificateError extends Error {
  override readonly name = 'CertificateError';
}

export interface CheckedChain {
  leaf: X509Certificate;
  chain: X509Certificate[];
  key: KeyObject;
}

/**
 * Checks a server's PEM chain and key the way a client will: the first certificate is the server's,
 * the key is its private key, each certificate is signed by the next, none has expired.
 */
export function checkServerChain(certPem: string, keyPem: string, now: Date = new Date()): CheckedChain {
  const blocks = splitPemCertificates(certPem);
  if (blocks.length === 0) throw new CertificateError('holds no PEM certificate');
  let chain: X509Certificate[];
  try {
    chain = blocks.map((b) => new X509Certificate(b));
  } catch (err) {
    throw new CertificateError(`holds a certificate that cannot be parsed (${(err as Error).message})`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch {
    throw new CertificateError('the key is not a PEM private key (unencrypted PKCS#8, SEC1 or PKCS#1)');
  }
  const leaf = chain[0] as X509Certificate;
  if (!leaf.checkPrivateKey(key)) throw new CertificateError('the key does not belong to the first certificate');
  chain.forEach((cert, i) => {
    if (Date.parse(cert.validTo) <= now.getTime())
      throw new CertificateError(`certificate ${i + 1} (${cert.subject}) expired at ${cert.validTo}`);
    const issuer = chain[i + 1];
    if (issuer && !(cert.checkIssued(issuer) && cert.verify(issuer.publicKey)))
      throw new CertificateError(`certificate ${i + 1} (${cert.subject}) is not signed by the next one in the chain`);
  });
  return { leaf, chain, key };
}
