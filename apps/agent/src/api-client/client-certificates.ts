import type { Logger } from 'pino';
import type { HeartbeatDeps } from '../loops/heartbeat-loop';
import { AgentIdentity, type ClientCertificate } from '../state/agent-identity';
import type { AgentApiClient } from './agent-api.client';
import type { ApiTrust } from './api-trust';

/**
 * Mutual TLS for the agent: opens its key and stored certificate, puts the certificate on the channel
 * whenever a new one is stored (enrolment, renewal), and renews it on the heartbeat. Nothing in plain text.
 */
export class ClientCertificates {
  private constructor(
    readonly identity: AgentIdentity | undefined,
    private readonly trust: ApiTrust,
    private readonly api: AgentApiClient,
    private readonly logger: Logger,
    /** How long a replaced channel stays open: a Lease long poll begun on it ends first. */
    private readonly retireAfterMs: number,
  ) {}

  static async open(
    config: { dataDir: string; leaseWaitMs: number },
    trust: ApiTrust,
    api: AgentApiClient,
    logger: Logger,
  ): Promise<ClientCertificates> {
    const identity = trust.source === 'insecure' ? undefined : await AgentIdentity.open(config.dataDir);
    const certs = new ClientCertificates(identity, trust, api, logger, config.leaseWaitMs + 60_000);
    if (identity?.certificate) certs.present(identity.certificate);
    return certs;
  }

  /** The channel presents `cert` from now on (calls in flight finish on the old one). */
  present(cert: ClientCertificate): void {
    if (!this.identity) return;
    this.api.switchChannel(this.trust.withClientCertificate(this.identity.keyPem, cert.chainPem), this.retireAfterMs);
    this.logger.info({ notAfter: new Date(cert.notAfterMs).toISOString() }, 'presenting the client certificate');
  }

  /** The heartbeat's renewal hooks: our CSR from two thirds of the lifetime on; the new chain stored, then used. */
  renewal(): HeartbeatDeps['renewal'] {
    const identity = this.identity;
    if (!identity) return undefined;
    return {
      csr: () => (identity.renewalDue() ? identity.csrPem : ''),
      accept: async (chainPem) => {
        try {
          this.present(await identity.adopt(chainPem));
        } catch (err) {
          // the current certificate stays in use; the next heartbeat asks again
          this.logger.warn({ err: (err as Error).message }, 'could not keep the renewed client certificate');
        }
      },
    };
  }
}
