import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import * as tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { discoverPinnedCa, fingerprintOf, isTrustError, splitPemCertificates } from '@jr/pki';
import type { AgentConfig } from '../config/agent-config';
import { AgentStopError } from '../errors';
import type { Logger } from 'pino';
import { Backoff, sleep } from '@jr/resilience';
import { readSmallFile, writeFileAtomic } from '../state/durable-file';

/** The CA learnt from a pin at enrollment, kept so that later starts trust it and nothing else. */
export function savedCaFile(dataDir: string): string {
  return path.join(dataDir, 'api-ca.pem');
}

export interface ApiTrust {
  credentials: grpc.ChannelCredentials;
  /** What the credentials trust, for the log: a file, the pinned CA, the system store, or nothing (plain text). */
  source: 'JR_CA_FILE' | 'pinned' | 'system' | 'insecure';
  /** The same trust, presenting the agent's client certificate (mutual TLS); plain text ignores it. */
  withClientCertificate(keyPem: string, chainPem: string): grpc.ChannelCredentials;
}

/**
 * The channel credentials for the API, decided once at start-up: JR_CA_FILE; else the CA saved from an
 * earlier pin (learnt anew when JR_API_CA_SHA256 names another); else a pin's discovery; else the
 * system's CAs. Then one handshake per endpoint (JR_API_GRPC may list several) checks each verifies
 * with them, so an untrusted API stops the agent (exit 76) at once instead of failing every call as
 * UNAVAILABLE. An endpoint that is down is not checked (its calls are, later: the same rule stops the agent).
 */
export async function resolveApiTrust(config: AgentConfig, log: Logger, signal?: AbortSignal): Promise<ApiTrust> {
  if (config.tls.mode === 'insecure') {
    log.warn(
      'JR_INSECURE=1: talking to the API in plain text; the credential, leases and job output cross the network readable',
    );
    const insecure = grpc.credentials.createInsecure();
    return { credentials: insecure, source: 'insecure', withClientCertificate: () => insecure };
  }
  // Every endpoint must verify with the same trust: replicas of one deployment share the server CA.
  const targets = config.apiEndpoints.map(hostPort).filter((t): t is HostPort => t !== undefined);
  let ca: string | undefined;
  let source: ApiTrust['source'] = 'system';
  if (config.tls.caFile !== undefined) {
    ca = await readCaFile(config.tls.caFile);
    source = 'JR_CA_FILE';
  } else {
    const file = savedCaFile(config.dataDir);
    const saved = (await readSmallFile(file, 1024 * 1024))?.toString('utf8');
    const pin = config.tls.pin;
    if (saved !== undefined && (pin === undefined || fingerprintOf(saved) === pin)) {
      ca = saved;
      source = 'pinned';
    } else if (pin !== undefined && targets.length > 0) {
      ca = await discover(targets, pin, log, signal);
      await writeFileAtomic(file, ca, 0o644);
      log.info(
        { caFile: file, caSha256: pin },
        "learnt the API's CA from JR_API_CA_SHA256; from now on only this CA is trusted",
      );
      source = 'pinned';
    }
  }
  for (const target of targets) await checkHandshake(target, ca, source);
  const root = ca === undefined ? null : Buffer.from(ca);
  return {
    credentials: grpc.credentials.createSsl(root),
    source,
    withClientCertificate: (keyPem, chainPem) =>
      grpc.credentials.createSsl(root, Buffer.from(keyPem), Buffer.from(chainPem)),
  };
}

async function readCaFile(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new AgentStopError(
      'state_unreadable',
      `JR_CA_FILE ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
    );
  }
  if (splitPemCertificates(text).length === 0)
    throw new AgentStopError('state_unreadable', `JR_CA_FILE ${file}: holds no PEM certificate`);
  return text;
}

/**
 * The pin's discovery waits for an API that is down (as enrolling does), asking the endpoints in turn
 * (primary first); a wrong certificate stops at once.
 */
async function discover(targets: HostPort[], pin: string, log: Logger, signal?: AbortSignal): Promise<string> {
  const backoff = new Backoff({ initialMs: 500, maxMs: 15_000 });
  for (let i = 0; ; i = (i + 1) % targets.length) {
    const target = targets[i] as HostPort;
    try {
      return await discoverPinnedCa({ ...target, pin });
    } catch (err) {
      if (isTrustError(err)) throw untrusted(`${target.host}:${target.port}: ${err.message}`);
      if (signal?.aborted) throw err;
      log.warn(
        { endpoint: `${target.host}:${target.port}`, err: (err as Error).message },
        'cannot reach the API to learn its CA; retrying',
      );
      if (i === targets.length - 1) await sleep(backoff.next(), signal);
    }
  }
}

/** One TLS handshake as the channel will make it; a refused connection is left to the normal retries. */
function checkHandshake(target: HostPort, ca: string | undefined, source: ApiTrust['source']): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: target.host,
      port: target.port,
      ...(ca !== undefined ? { ca } : {}),
      ...(isIpLiteral(target.host) ? {} : { servername: target.host }),
      ALPNProtocols: ['h2'],
    });
    let connected = false;
    socket.setTimeout(10_000, () => {
      socket.destroy();
      resolve();
    });
    socket.once('connect', () => (connected = true));
    socket.once('secureConnect', () => {
      socket.end();
      resolve();
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      socket.destroy();
      if (!connected) return resolve();
      const trusted =
        source === 'JR_CA_FILE' ? 'the CA in JR_CA_FILE' : source === 'pinned' ? 'the pinned CA' : "the system's CAs";
      reject(
        untrusted(
          `the API at ${target.host}:${target.port} failed TLS verification with ${trusted} (${err.code ?? err.message}); set JR_CA_FILE to its CA or JR_API_CA_SHA256 to its fingerprint (jr-api logs both), or JR_INSECURE=1 for a plain-text API`,
        ),
      );
    });
  });
}

function untrusted(message: string): AgentStopError {
  return new AgentStopError('tls_untrusted', message);
}

interface HostPort {
  host: string;
  port: number;
}

/** `host:port`, `[v6]:port`, `dns:///host:port`, `ipv4:a.b.c.d:port`; other gRPC targets (unix:) have none. */
export function hostPort(address: string): HostPort | undefined {
  const bare = address.replace(/^(dns:(\/\/[^/]*\/)?|ipv4:|ipv6:)/, '');
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(bare);
  if (!m) return undefined;
  return { host: m[1] ?? m[2] ?? '', port: Number(m[3]) };
}

function isIpLiteral(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}
