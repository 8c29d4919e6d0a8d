import { X509Certificate } from 'node:crypto';

/**
 * `sha256:<64 lowercase hex>` of a certificate's DER: the same digest as
 * `openssl x509 -noout -fingerprint -sha256` prints (there upper case with colons).
 */
export function fingerprintOf(cert: string | Buffer | X509Certificate): string {
  const parsed = cert instanceof X509Certificate ? cert : new X509Certificate(cert);
  return `sha256:${parsed.fingerprint256.replace(/:/g, '').toLowerCase()}`;
}

/**
 * Reads a fingerprint as an operator may paste it: `sha256:ab12…`, `AB:12:…` (openssl), with or
 * without openssl's `sha256 Fingerprint=` prefix; case and colons do not matter. Undefined when it
 * is not 32 bytes of hex.
 */
export function parseFingerprint(text: string): string | undefined {
  const bare = text
    .trim()
    .replace(/^sha-?256\s*(fingerprint)?\s*[:=]?\s*/i, '')
    .replace(/:/g, '')
    .toLowerCase();
  return /^[0-9a-f]{64}$/.test(bare) ? `sha256:${bare}` : undefined;
}
