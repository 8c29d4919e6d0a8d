import type { PeerCertificate } from 'node:tls';
import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { DomainError } from '@jr/contracts';
import { agentIdOfSan, CertificateError, issueClientCert, normalizeSerial, verifyCsr } from '@jr/pki';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { LOGGER, type Logger } from '../common/logger';
import { SERVER_TLS, type ServerTls } from '../tls/server-tls';
import { AgentCertificatesRepository } from './agent-certificates.repository';

/** Who a call's client certificate says it is (checked: agent CA, known serial, not revoked, not expired). */
export interface PeerIdentity {
  agentId: string;
  serial: string;
  notBeforeMs: number;
  notAfterMs: number;
}

/** Serials remembered (known ones, and revoked ones) so that no call costs a query once its serial is seen. */
const MAX_CACHED = 10_000;

/**
 * The agents' client certificates over TLS: issuing them from a CSR, and checking the one a call
 * presents. With JR_INSECURE=1 (no SERVER_TLS) there are none: the bearer credential alone counts.
 * Certificate times are the real clock's, never the injected CLOCK: OpenSSL checks validity on real time.
 */
@Injectable()
export class AgentCertificatesService implements OnApplicationBootstrap {
  private readonly known = new Map<string, { agentId: string; notAfterMs: number }>();
  private readonly revoked = new Set<string>();

  constructor(
    private readonly certs: AgentCertificatesRepository,
    @Inject(SERVER_TLS) private readonly tls: ServerTls | null,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  /** The certificates in use up front, so that a Postgres outage right after a restart does not lock agents out. */
  async onApplicationBootstrap(): Promise<void> {
    if (!this.tls) return;
    const rows = await this.certs.listUnexpired(new Date(), MAX_CACHED);
    for (const row of rows.reverse())
      if (row.revoked_at) this.markRevoked([row.serial]);
      else this.remember(row.serial, row.agent_id, row.not_after.getTime());
  }

  /** Certificates are issued and required (the listeners speak TLS). */
  get enabled(): boolean {
    return this.tls !== null;
  }

  /** `sha256:` of the key a CSR asks for, its self-signature checked; INVALID_INPUT when it is no valid CSR. */
  async keyOf(csrPem: string): Promise<string> {
    try {
      return (await verifyCsr(csrPem)).keySha256;
    } catch (err) {
      if (err instanceof CertificateError) throw new DomainError('INVALID_INPUT', `csr_pem: ${err.message}`);
      throw err;
    }
  }

  /** A client certificate for `agentId` from the CSR, recorded; the chain PEM (leaf, agent CA). '' in plain text. */
  async issue(agentId: string, csrPem: string): Promise<string> {
    if (!this.tls || !csrPem) return '';
    await this.keyOf(csrPem); // a clear INVALID_INPUT before anything is signed
    const issued = await issueClientCert(this.tls.agentCa, csrPem, {
      agentId,
      ttlMs: this.config.agentCertTtlMs,
      now: new Date(Date.now()),
    });
    await this.certs.record({ serial: issued.serial, agentId, issuedAt: issued.notBefore, notAfter: issued.notAfter });
    this.remember(issued.serial, agentId, issued.notAfter.getTime());
    return `${issued.certPem}${this.tls.agentCa.certPem}`;
  }

  /**
   * Every call but Enroll, over TLS: the certificate the TLS layer verified against the agent CA (grpc-js
   * gives none for a missing or untrusted one), not expired now (a connection outlives its handshake),
   * a serial we issued and did not revoke, naming the agent whose bearer credential came with it.
   * Undefined in plain text.
   */
  async verifyPeer(peer: PeerCertificate | undefined, credentialAgentId: string): Promise<PeerIdentity | undefined> {
    if (!this.tls) return undefined;
    if (!peer?.raw) throw refused('no valid client certificate from the agent CA; enroll (with a CSR) to get one');
    const agentId = agentIdOfSan(peer.subjectaltname);
    const serial = normalizeSerial(peer.serialNumber);
    const notAfterMs = Date.parse(peer.valid_to);
    if (!agentId) throw refused('the client certificate names no agent');
    if (!(notAfterMs > Date.now())) throw refused(`the client certificate expired at ${peer.valid_to}; enroll again`);
    if (agentId !== credentialAgentId)
      throw refused(`the credential is agent ${credentialAgentId}'s, the client certificate agent ${agentId}'s`);
    if (this.revoked.has(serial)) throw revokedCert();
    if (!this.known.has(serial)) {
      const row = await this.certs.find(serial);
      if (!row || row.agent_id !== agentId) throw refused('the client certificate is not one the API issued');
      if (row.revoked_at) {
        this.markRevoked([serial]);
        throw revokedCert();
      }
      this.remember(serial, agentId, row.not_after.getTime());
    }
    return { agentId, serial, notBeforeMs: Date.parse(peer.valid_from), notAfterMs };
  }

  /**
   * Renewal on the heartbeat: a new certificate once the presented one is past half its lifetime (the
   * agent asks from two thirds on), for the pinned key only. '' when not due or refused (logged): the
   * heartbeat itself stands, and the agent asks again next time.
   */
  async renew(peer: PeerIdentity | undefined, pinnedKey: string | null, csrPem: string): Promise<string> {
    if (!peer || !csrPem) return '';
    if (Date.now() < peer.notBeforeMs + (peer.notAfterMs - peer.notBeforeMs) / 2) return '';
    try {
      const key = await this.keyOf(csrPem);
      if (pinnedKey !== null && key !== pinnedKey)
        throw new DomainError('FORBIDDEN', "the renewal CSR is for another key than the agent's certificates");
      return await this.issue(peer.agentId, csrPem);
    } catch (err) {
      this.log.warn({ agentId: peer.agentId, err: (err as Error).message }, 'certificate renewal refused');
      return '';
    }
  }

  /** Revokes the agent's certificates: refused on this replica from its next call on. */
  async revokeAgent(agentId: string): Promise<void> {
    this.markRevoked(await this.certs.revokeAgent(agentId, new Date(Date.now())));
  }

  private markRevoked(serials: string[]): void {
    for (const serial of serials) {
      this.known.delete(serial);
      this.revoked.add(serial);
      if (this.revoked.size > MAX_CACHED) this.revoked.delete(this.revoked.values().next().value as string);
    }
  }

  private remember(serial: string, agentId: string, notAfterMs: number): void {
    this.known.set(serial, { agentId, notAfterMs });
    if (this.known.size > MAX_CACHED) this.known.delete(this.known.keys().next().value as string);
  }
}

function refused(message: string, refusal = 'client_certificate'): DomainError {
  return new DomainError('UNAUTHENTICATED', message, { refusal });
}

function revokedCert(): DomainError {
  return refused('the client certificate was revoked', 'certificate_revoked');
}

export function isCertRevoked(err: unknown): boolean {
  return err instanceof DomainError && err.details?.refusal === 'certificate_revoked';
}
