import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createCa, fingerprintOf, issueServerCert } from '@jr/pki';

/** A CA and a loopback server certificate signed by it, as files, made once per test process. */
export interface TestTls {
  dir: string;
  caFile: string;
  caPem: string;
  caSha256: string;
  /** Server chain (certificate + CA) and key for localhost, 127.0.0.1 and ::1: JR_TLS_CERT / JR_TLS_KEY. */
  certFile: string;
  keyFile: string;
  /** A shared agent CA (JR_AGENT_CA_CERT / JR_AGENT_CA_KEY): replicas of one test trust each other's agents. */
  agentCaFile: string;
  agentCaKeyFile: string;
}

let made: Promise<TestTls> | undefined;
let ready: TestTls | undefined;

/** The test CA (the API processes tests start serve its certificate unless a test says otherwise). */
export function testTls(): Promise<TestTls> {
  return (made ??= makeTestTls().then((t) => (ready = t)));
}

/** The test CA once testTls() has made it (synchronous callers: grpc clients built after an API started). */
export function testTlsIfMade(): TestTls | undefined {
  return ready;
}

async function makeTestTls(): Promise<TestTls> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jr-test-tls-'));
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  const ca = await createCa({ commonName: 'jr test CA', validityDays: 30 });
  const server = await issueServerCert(ca, { sans: ['localhost', '127.0.0.1', '::1'], validityDays: 30 });
  const t: TestTls = {
    dir,
    caFile: path.join(dir, 'ca.pem'),
    caPem: ca.certPem,
    caSha256: fingerprintOf(ca.certPem),
    certFile: path.join(dir, 'server.pem'),
    keyFile: path.join(dir, 'server-key.pem'),
    agentCaFile: path.join(dir, 'agent-ca.pem'),
    agentCaKeyFile: path.join(dir, 'agent-ca-key.pem'),
  };
  const agentCa = await createCa({ commonName: 'jr test agent CA', validityDays: 30 });
  fs.writeFileSync(t.agentCaFile, agentCa.certPem);
  fs.writeFileSync(t.agentCaKeyFile, agentCa.keyPem, { mode: 0o600 });
  fs.writeFileSync(t.caFile, ca.certPem);
  fs.writeFileSync(t.certFile, `${server.certPem}${ca.certPem}`);
  fs.writeFileSync(t.keyFile, server.keyPem, { mode: 0o600 });
  return t;
}
