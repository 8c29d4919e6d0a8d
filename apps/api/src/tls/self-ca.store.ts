import { randomBytes, X509Certificate } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import * as path from 'node:path';
import { createCa, fingerprintOf, issueServerCert, splitPemCertificates, type CertAndKey } from '@jr/pki';
import { TlsConfigError } from './tls-config.error';

const CA_DAYS = 3650;
const SERVER_DAYS = 397;
/** The server certificate is made anew at start-up once less than this is left. */
const RENEW_BEFORE_MS = 30 * 86_400_000;

export interface SelfCertificates {
  certPem: string;
  keyPem: string;
  caFile: string;
  caSha256: string;
  sans: string[];
  /** What this start made: nothing (all reused), the server certificate, or CA and certificate. */
  issued: 'none' | 'server' | 'ca+server';
}

/** The names the API's own certificate carries: loopback, this host, and the operator's extra names. */
export function selfSans(extra: string[]): string[] {
  return [...new Set(['localhost', '127.0.0.1', '::1', hostname(), ...extra])];
}

/**
 * `<dataDir>/tls/`: ca.pem, ca-key.pem, server.pem (server certificate + CA), server-key.pem; keys 0600,
 * every file written atomically. The CA is made once and kept (clients pin it); the server certificate
 * is made again when missing, near its end, not from this CA or lacking a wanted name.
 */
export async function ensureSelfCertificates(
  dataDir: string,
  extraSans: string[],
  now: Date,
): Promise<SelfCertificates> {
  const dir = path.join(dataDir, 'tls');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const files = {
    ca: path.join(dir, 'ca.pem'),
    caKey: path.join(dir, 'ca-key.pem'),
    cert: path.join(dir, 'server.pem'),
    key: path.join(dir, 'server-key.pem'),
  };
  const sans = selfSans(extraSans);
  let ca = await readPair(files.ca, files.caKey);
  let issued: SelfCertificates['issued'] = 'none';
  if (!ca) {
    ca = await createCa({ commonName: `jr-api CA ${hostname()}`.slice(0, 64), validityDays: CA_DAYS, now });
    await writeAtomic(files.caKey, ca.keyPem, 0o600);
    await writeAtomic(files.ca, ca.certPem, 0o644);
    issued = 'ca+server';
  }
  let server = await readPair(files.cert, files.key);
  if (!server || !serverCertFits(server.certPem, ca.certPem, sans, now)) {
    const leaf = await issueServerCert(ca, { sans, validityDays: SERVER_DAYS, now });
    server = { certPem: `${leaf.certPem}${ca.certPem}`, keyPem: leaf.keyPem };
    await writeAtomic(files.key, server.keyPem, 0o600);
    await writeAtomic(files.cert, server.certPem, 0o644);
    if (issued === 'none') issued = 'server';
  }
  return { ...server, caFile: files.ca, caSha256: fingerprintOf(ca.certPem), sans, issued };
}

/** The agent CA's files in `<dataDir>/tls/`. */
export function agentCaFiles(dataDir: string): { cert: string; key: string } {
  const dir = path.join(dataDir, 'tls');
  return { cert: path.join(dir, 'agent-ca.pem'), key: path.join(dir, 'agent-ca-key.pem') };
}

/**
 * `<dataDir>/tls/agent-ca.pem` and `agent-ca-key.pem` (0600): the CA that signs the agents' client
 * certificates, separate from the server CA (trusting a server is not admitting an agent). Made once
 * and kept, like the server CA; whatever serves the listeners (own CA or the operator's chain).
 */
export async function ensureAgentCa(dataDir: string, now: Date): Promise<CertAndKey & { made: boolean }> {
  const files = agentCaFiles(dataDir);
  await mkdir(path.dirname(files.cert), { recursive: true, mode: 0o700 });
  const existing = await readPair(files.cert, files.key);
  if (existing) return { ...existing, made: false };
  const ca = await createCa({ commonName: `jr-api agent CA ${hostname()}`.slice(0, 64), validityDays: CA_DAYS, now });
  await writeAtomic(files.key, ca.keyPem, 0o600);
  await writeAtomic(files.cert, ca.certPem, 0o644);
  return { ...ca, made: true };
}

/** Both files, or neither; one without the other is damage an operator must look at. */
async function readPair(certFile: string, keyFile: string): Promise<CertAndKey | undefined> {
  const [certPem, keyPem] = await Promise.all([readIfExists(certFile), readIfExists(keyFile)]);
  if (certPem === undefined && keyPem === undefined) return undefined;
  if (certPem === undefined || keyPem === undefined)
    throw new TlsConfigError(
      `${path.dirname(certFile)}: ${certPem === undefined ? certFile : keyFile} is missing but its pair exists; restore it, or remove both to make new ones (clients trusting the old CA must then be given the new one)`,
    );
  return { certPem, keyPem };
}

function serverCertFits(chainPem: string, caPem: string, sans: string[], now: Date): boolean {
  const first = splitPemCertificates(chainPem)[0];
  if (first === undefined) return false;
  const leaf = new X509Certificate(first);
  const ca = new X509Certificate(caPem);
  if (!leaf.checkIssued(ca) || !leaf.verify(ca.publicKey)) return false;
  if (Date.parse(leaf.validTo) - now.getTime() < RENEW_BEFORE_MS) return false;
  const names = new Set(
    (leaf.subjectAltName ?? '').split(', ').map((n) => canonicalName(n.replace(/^(DNS|IP Address):/, ''))),
  );
  return sans.every((n) => names.has(canonicalName(n)));
}

/** Lower case; IPv6 in its shortest form (Node may print a SAN as `0:0:0:0:0:0:0:1`). */
function canonicalName(name: string): string {
  const bare = name.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return isIP(bare) === 6 ? new URL(`http://[${bare}]`).hostname.slice(1, -1) : bare;
}

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new TlsConfigError(`cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

/** Temp file (fsync'd, mode set at creation), rename over the target, fsync the directory. */
async function writeAtomic(file: string, text: string, mode: number): Promise<void> {
  const tmp = `${file}.tmp-${randomBytes(6).toString('hex')}`;
  try {
    const handle = await open(tmp, 'wx', mode);
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
    const dir = await open(path.dirname(file), constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } finally {
    await rm(tmp, { force: true });
  }
}
