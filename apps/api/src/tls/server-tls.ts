import { readFile } from 'node:fs/promises';
import { CertificateError, checkServerChain, fingerprintOf, splitPemCertificates, type CertAndKey } from '@jr/pki';
import type { AppConfig } from '../config/app-config';
import type { Logger } from '../common/logger';
import { agentCaFiles, ensureAgentCa, ensureSelfCertificates } from './self-ca.store';
import { TlsConfigError } from './tls-config.error';

/** What both listeners serve: the PEM chain (server certificate first) and its key. */
export interface ServerTls {
  certPem: string;
  keyPem: string;
  /** The CA clients should trust, when the API made it (undefined for an operator's chain). */
  caFile?: string;
  /** `sha256:<hex>` of the chain's last certificate (the CA, when the chain includes it). */
  caSha256: string;
  /** Signs the agents' client certificates; gRPC requires one of its certificates on every call but Enroll. */
  agentCa: CertAndKey;
}

/** Injection token of the listeners' material (null with JR_INSECURE=1). */
export const SERVER_TLS = Symbol('ServerTls');

const MAX_PEM_BYTES = 1024 * 1024;

/**
 * The listeners' TLS material, or undefined with JR_INSECURE=1. The operator's files are checked the
 * way a client would check them; without them the API's own CA and certificate are made or reused.
 */
export async function loadServerTls(config: AppConfig, log: Logger): Promise<ServerTls | undefined> {
  const tls = config.tls;
  if (tls.mode === 'insecure') {
    log.warn('JR_INSECURE=1: REST and gRPC listen in plain text; never do this on a network you do not control');
    return undefined;
  }
  if (tls.mode === 'operator') {
    const certPem = await readPem('JR_TLS_CERT', tls.certFile);
    const keyPem = await readPem('JR_TLS_KEY', tls.keyFile);
    const chain = check(certPem, keyPem, `JR_TLS_CERT ${tls.certFile} / JR_TLS_KEY ${tls.keyFile}`);
    const root = chain.chain[chain.chain.length - 1] ?? chain.leaf;
    const caSha256 = fingerprintOf(root);
    log.info(
      { certFile: tls.certFile, subject: chain.leaf.subject, validTo: chain.leaf.validTo, caSha256 },
      "jr-api TLS: the operator's certificate",
    );
    return { certPem, keyPem, caSha256, agentCa: await loadAgentCa(config, log) };
  }
  const own = await ensureSelfCertificates(config.dataDir, tls.extraSans, new Date());
  check(own.certPem, own.keyPem, `${own.caFile} (made by jr-api)`);
  log.info(
    { caFile: own.caFile, caSha256: own.caSha256, sans: own.sans, issued: own.issued },
    `jr-api TLS: own CA ${own.caSha256} in ${own.caFile} (clients: JR_CA_FILE=${own.caFile} or JR_API_CA_SHA256=${own.caSha256})`,
  );
  return {
    certPem: own.certPem,
    keyPem: own.keyPem,
    caFile: own.caFile,
    caSha256: own.caSha256,
    agentCa: await loadAgentCa(config, log),
  };
}

async function loadAgentCa(config: AppConfig, log: Logger): Promise<CertAndKey> {
  const files = config.agentCaFiles;
  if (files) {
    const certPem = await readPem('JR_AGENT_CA_CERT', files.certFile);
    const keyPem = await readPem('JR_AGENT_CA_KEY', files.keyFile);
    const { leaf } = check(certPem, keyPem, `JR_AGENT_CA_CERT ${files.certFile} / JR_AGENT_CA_KEY ${files.keyFile}`);
    if (!leaf.ca) throw new TlsConfigError(`JR_AGENT_CA_CERT ${files.certFile}: not a CA certificate`);
    log.info({ agentCaFile: files.certFile, agentCertTtlMs: config.agentCertTtlMs }, "jr-api agent CA: the operator's");
    return { certPem: splitPemCertificates(certPem)[0] ?? certPem, keyPem };
  }
  const ca = await ensureAgentCa(config.dataDir, new Date());
  check(ca.certPem, ca.keyPem, `${agentCaFiles(config.dataDir).cert} (made by jr-api)`);
  log.info(
    { agentCaFile: agentCaFiles(config.dataDir).cert, made: ca.made, agentCertTtlMs: config.agentCertTtlMs },
    'jr-api agent CA: agents get client certificates from it at enrolment; gRPC calls but Enroll need one',
  );
  return { certPem: ca.certPem, keyPem: ca.keyPem };
}

async function readPem(variable: string, file: string): Promise<string> {
  let buf: Buffer;
  try {
    buf = await readFile(file);
  } catch (err) {
    throw new TlsConfigError(
      `${variable}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
    );
  }
  if (buf.length > MAX_PEM_BYTES) throw new TlsConfigError(`${variable}: ${file} is larger than 1 MiB`);
  const text = buf.toString('utf8');
  if (!text.includes('-----BEGIN ')) throw new TlsConfigError(`${variable}: ${file} is not PEM`);
  return text;
}

function check(certPem: string, keyPem: string, where: string): ReturnType<typeof checkServerChain> {
  try {
    return checkServerChain(certPem, keyPem);
  } catch (err) {
    if (err instanceof CertificateError) throw new TlsConfigError(`${where}: ${err.message}`);
    throw err;
  }
}
