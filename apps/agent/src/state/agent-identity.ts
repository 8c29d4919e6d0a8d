import { createPrivateKey, X509Certificate } from 'node:crypto';
import * as path from 'node:path';
import { createCsr, createKeyPem, splitPemCertificates } from '@jr/pki';
import { AgentStopError } from '../errors';
import { readSmallFile, writeFileAtomic } from './durable-file';

const MAX_PEM_BYTES = 64 * 1024;

/** The client certificate in use and the times renewal is judged by. */
export interface ClientCertificate {
  chainPem: string;
  notBeforeMs: number;
  notAfterMs: number;
}

/**
 * The machine's identity for mutual TLS: an ECDSA P-256 key made here on first start and never sent
 * anywhere ($JR_DATA_DIR/agent-key.pem, 0600, written atomically), and the client certificate the API
 * signed for it (agent-cert.pem, next to credential.json).
 *
 * Renewal keeps the same key: the API pins the key at the agent's first certificate, so a re-enrolment
 * after a lapse proves possession of the previous key simply by the new CSR's self-signature (no second
 * signature scheme), and a stolen credential.json alone cannot move the agent to another machine's key.
 * A fresh key per renewal would add nothing against a reader of this directory (it would read the new
 * key too); an operator rotates the key by removing the agent and agent-key.pem (a new enrolment).
 */
export class AgentIdentity {
  private cert: ClientCertificate | undefined;

  private constructor(
    private readonly dataDir: string,
    readonly keyPem: string,
    /** One CSR for the process: the key does not change, and the API sets the subject itself. */
    readonly csrPem: string,
  ) {}

  static keyFile(dataDir: string): string {
    return path.join(dataDir, 'agent-key.pem');
  }

  static certFile(dataDir: string): string {
    return path.join(dataDir, 'agent-cert.pem');
  }

  /** Loads the key (making it on first start) and the stored certificate, when it is for this key. */
  static async open(dataDir: string): Promise<AgentIdentity> {
    const keyFile = AgentIdentity.keyFile(dataDir);
    let keyPem = (await readSmallFile(keyFile, MAX_PEM_BYTES))?.toString('utf8');
    if (keyPem === undefined) {
      keyPem = await createKeyPem();
      await writeFileAtomic(keyFile, keyPem, 0o600);
    }
    let csrPem: string;
    try {
      csrPem = await createCsr(keyPem);
    } catch (err) {
      throw new AgentStopError(
        'state_unreadable',
        `${keyFile}: not a usable ECDSA P-256 key (${(err as Error).message})`,
      );
    }
    const identity = new AgentIdentity(dataDir, keyPem, csrPem);
    const stored = (await readSmallFile(AgentIdentity.certFile(dataDir), MAX_PEM_BYTES))?.toString('utf8');
    if (stored !== undefined) identity.cert = identity.parse(stored);
    return identity;
  }

  get certificate(): ClientCertificate | undefined {
    return this.cert;
  }

  /** The certificate has passed its end (the API accepts only Enroll from this agent then). */
  lapsed(now = Date.now()): boolean {
    return this.cert !== undefined && now >= this.cert.notAfterMs;
  }

  /** From two thirds of the certificate's lifetime on (the API renews from half on). */
  renewalDue(now = Date.now()): boolean {
    const c = this.cert;
    return c !== undefined && now >= c.notBeforeMs + ((c.notAfterMs - c.notBeforeMs) * 2) / 3;
  }

  /** Keeps a chain the API issued: checked against our key, stored durably, then in use. */
  async adopt(chainPem: string): Promise<ClientCertificate> {
    const cert = this.parse(chainPem);
    if (!cert) throw new Error('the API sent a client certificate that is not for this agent key');
    await writeFileAtomic(AgentIdentity.certFile(this.dataDir), chainPem, 0o600);
    this.cert = cert;
    return cert;
  }

  private parse(chainPem: string): ClientCertificate | undefined {
    const leafPem = splitPemCertificates(chainPem)[0];
    if (leafPem === undefined) return undefined;
    try {
      const leaf = new X509Certificate(leafPem);
      if (!leaf.checkPrivateKey(createPrivateKey(this.keyPem))) return undefined;
      return { chainPem, notBeforeMs: Date.parse(leaf.validFrom), notAfterMs: Date.parse(leaf.validTo) };
    } catch {
      return undefined;
    }
  }
}
