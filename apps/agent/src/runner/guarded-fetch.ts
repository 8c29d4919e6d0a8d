import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import * as http from 'node:http';
import * as https from 'node:https';
import type { LookupFunction } from 'node:net';
import { Readable } from 'node:stream';
import {
  checkArtifactUrl,
  refusedAddress,
  refusedName,
  UrlRefusedError,
  type ArtifactUrlPolicy,
} from './artifact-url-policy';

const MAX_REDIRECTS = 5;
const NULL_BODY = new Set([204, 205, 304]);

/**
 * A resolver that refuses names resolving to a refused address. The socket connects to the address
 * this returned, so a name that resolves differently a moment later (DNS rebinding) cannot slip past.
 */
export function guardedLookup(policy: ArtifactUrlPolicy): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 4);
      for (const a of addresses) {
        const why = refusedAddress(a.address, policy);
        if (why !== undefined) return callback(refusedName(hostname, why), '', 4);
      }
      if (options.all) return (callback as unknown as (e: null, all: LookupAddress[]) => void)(null, addresses);
      const first = addresses[0];
      if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '', 4);
      callback(null, first.address, first.family);
    });
  };
}

/**
 * GET `raw` as fetch() would (a web Response), but through the policy: the scheme and any literal
 * address are checked before connecting, names after resolving them, and each redirect (followed
 * here, at most 5) gets the same checks before it is followed.
 */
export async function guardedFetch(
  raw: string,
  init: { headers: Record<string, string>; signal: AbortSignal },
  policy: ArtifactUrlPolicy,
): Promise<Response> {
  let url = checkArtifactUrl(raw, policy);
  for (let hop = 0; ; hop++) {
    const res = await request(url, init, policy);
    const location =
      res.statusCode !== undefined && res.statusCode >= 300 && res.statusCode < 400 && res.headers.location;
    if (!location) return toResponse(res);
    res.resume();
    if (hop >= MAX_REDIRECTS) throw new UrlRefusedError(`more than ${MAX_REDIRECTS} redirects from ${raw}`);
    let next: string;
    try {
      next = new URL(location, url).href;
    } catch {
      throw new UrlRefusedError(`a redirect from ${url.href} to an invalid location`);
    }
    url = checkArtifactUrl(next, policy);
  }
}

function request(
  url: URL,
  init: { headers: Record<string, string>; signal: AbortSignal },
  policy: ArtifactUrlPolicy,
): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const options: https.RequestOptions = {
      method: 'GET',
      headers: { 'accept-encoding': 'identity', ...init.headers },
      signal: init.signal,
      lookup: guardedLookup(policy),
      agent: false,
    };
    const req = (url.protocol === 'https:' ? https : http).request(url, options, resolve);
    req.once('error', (err) =>
      reject(err instanceof UrlRefusedError ? err : (refusal(err) ?? new TypeError('fetch failed', { cause: err }))),
    );
    req.end();
  });
}

/** The lookup's refusal, when that is what failed the connection. */
function refusal(err: Error): UrlRefusedError | undefined {
  return err.name === 'UrlRefusedError' ? (err as UrlRefusedError) : undefined;
}

function toResponse(res: http.IncomingMessage): Response {
  const headers = new Headers();
  for (const [k, v] of Object.entries(res.headers)) {
    if (v === undefined) continue;
    for (const value of Array.isArray(v) ? v : [v]) headers.append(k, value);
  }
  const status = res.statusCode ?? 0;
  if (NULL_BODY.has(status)) {
    res.resume();
    return new Response(null, { status, headers });
  }
  return new Response(Readable.toWeb(res) as ReadableStream<Uint8Array>, { status, headers });
}
