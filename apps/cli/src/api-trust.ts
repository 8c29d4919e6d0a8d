import { readFileSync } from 'node:fs';
import { Agent, type Dispatcher } from 'undici';
import { discoverPinnedCa, isTrustError } from '@jr/pki';
import type { CliConfig } from './config';
import { UnreachableError } from './cli-error';

/**
 * The connection pool for this run: for https, one that trusts JR_CA_FILE / the context's caFile, or
 * the CA the API presents whose fingerprint is JR_API_CA_SHA256 (learnt with one handshake that trusts
 * nothing, then verified like any CA); else the system's CAs. One per endpoint `url` (a pin is learnt
 * from the endpoint the request goes to).
 */
export async function dispatcherFor(config: CliConfig, url: URL = config.apiUrl): Promise<Dispatcher | undefined> {
  if (url.protocol !== 'https:') return undefined;
  let ca: string | undefined;
  if (config.caFile !== undefined) ca = readFileSync(config.caFile, 'utf8');
  else if (config.caPin !== undefined) ca = await pinnedCa(url, config.caPin);
  if (ca === undefined) return undefined;
  return new Agent({ connect: { ca } });
}

async function pinnedCa(url: URL, pin: string): Promise<string> {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = url.port === '' ? 443 : Number(url.port);
  try {
    return await discoverPinnedCa({ host, port, pin, timeoutMs: 10_000 });
  } catch (err) {
    if (isTrustError(err)) throw new UnreachableError(`cannot trust the API at ${url.host}: ${err.message}`);
    throw new UnreachableError(`cannot reach the API at ${url.origin}/ (${(err as Error).message})`);
  }
}

const TLS_CODE_RE = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ALTNAME|ERR_SSL|ERR_TLS/;

/** The sentence for a failed TLS handshake (`reason`: the error code), or undefined when it was not one. */
export function tlsFailureHint(
  reason: string | undefined,
  config: Pick<CliConfig, 'caFile' | 'caPin'>,
): string | undefined {
  if (reason === undefined || !TLS_CODE_RE.test(reason)) return undefined;
  if (/WRONG_VERSION_NUMBER|PACKET_LENGTH|ERR_SSL/.test(reason))
    return 'the API does not speak TLS there (a plain-text API needs an http:// URL and JR_INSECURE=1)';
  const trusted =
    config.caFile !== undefined
      ? `the CA in ${config.caFile}`
      : config.caPin !== undefined
        ? 'the pinned CA'
        : "the system's CAs";
  return `its TLS certificate does not verify with ${trusted}; set JR_CA_FILE to the API's CA (jr-api logs its path) or JR_API_CA_SHA256 to its fingerprint`;
}
