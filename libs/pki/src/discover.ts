import { X509Certificate } from 'node:crypto';
import * as tls from 'node:tls';
import { fingerprintOf } from './fingerprint';

export interface DiscoverOptions {
  host: string;
  port: number;
  /** `sha256:<hex>` as parseFingerprint returns it. */
  pin: string;
  /** The name the server certificate must carry (default: host). */
  servername?: string;
  timeoutMs?: number;
}

/** Why a server's identity could not be established: never retried by callers, an operator must act. */
export class TrustError extends Error {
  override readonly name = 'TrustError';
}

export function isTrustError(err: unknown): err is TrustError {
  return err instanceof TrustError || (err instanceof Error && err.name === 'TrustError');
}

/** A connection that never reached the TLS handshake (refused, reset, timed out): worth retrying. */
export class HandshakeUnavailableError extends Error {
  override readonly name = 'HandshakeUnavailableError';
}

/**
 * Learns the API's CA from a pin (kubeadm's `--discovery-token-ca-cert-hash` pattern): a first handshake
 * trusts nothing and reads the chain the server presents; the CA certificate whose fingerprint equals
 * the pin is taken; a second handshake must then verify with that CA alone (chain and host name). The
 * server must send its CA in its chain (jr-api's own CA does; an operator chain must include its root).
 */
export async function discoverPinnedCa(options: DiscoverOptions): Promise<string> {
  const chain = await handshake(options, { rejectUnauthorized: false });
  const ca = chain.find((c) => fingerprintOf(c) === options.pin);
  if (!ca) {
    const seen = chain.map((c) => `${c.subject.replace(/\n/g, ', ')} ${fingerprintOf(c)}`).join('; ');
    throw new TrustError(
      `the API at ${options.host}:${options.port} presented no certificate with fingerprint ${options.pin} (it sent: ${seen || 'nothing'})`,
    );
  }
  if (!ca.ca) throw new TrustError(`the certificate with fingerprint ${options.pin} is not a CA certificate`);
  const pem = ca.toString();
  await handshake(options, { rejectUnauthorized: true, ca: pem });
  return pem;
}

/** The certificates the server presents, leaf first (issuer links followed, self-signed root last). */
function handshake(options: DiscoverOptions, extra: tls.ConnectionOptions): Promise<X509Certificate[]> {
  return new Promise((resolve, reject) => {
    const servername = options.servername ?? options.host;
    const socket = tls.connect({
      host: options.host,
      port: options.port,
      ...(isIpLiteral(servername) ? {} : { servername }),
      ALPNProtocols: ['h2', 'http/1.1'],
      ...extra,
    });
    let handshaking = false;
    socket.setTimeout(options.timeoutMs ?? 10_000, () =>
      socket.destroy(new HandshakeUnavailableError(`no TLS handshake with ${options.host}:${options.port} in time`)),
    );
    socket.once('connect', () => (handshaking = true));
    socket.once('secureConnect', () => {
      const chain = peerChain(socket.getPeerCertificate(true));
      socket.end();
      resolve(chain);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      socket.destroy();
      if (err instanceof HandshakeUnavailableError) return reject(err);
      if (!handshaking && !isTlsCode(err.code))
        return reject(
          new HandshakeUnavailableError(`cannot connect to ${options.host}:${options.port}: ${err.message}`),
        );
      reject(
        new TrustError(
          `the API at ${options.host}:${options.port} failed TLS verification with the pinned CA (${err.code ?? err.message})`,
        ),
      );
    });
  });
}

function peerChain(leaf: tls.DetailedPeerCertificate): X509Certificate[] {
  const out: X509Certificate[] = [];
  const seen = new Set<string>();
  for (let c: tls.DetailedPeerCertificate | undefined = leaf; c?.raw && !seen.has(c.fingerprint256);) {
    seen.add(c.fingerprint256);
    out.push(new X509Certificate(c.raw));
    c = c.issuerCertificate;
  }
  return out;
}

function isIpLiteral(name: string): boolean {
  return /^[\d.]+$/.test(name) || name.includes(':');
}

function isTlsCode(code: string | undefined): boolean {
  return code !== undefined && /CERT|SSL|TLS|ALTNAME|SELF_SIGNED|VERIFY|ISSUER/.test(code);
}
