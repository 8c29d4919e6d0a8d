import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { experimental, Server, ServerCredentials } from '@grpc/grpc-js';
import { loadAgentProto } from '@jr/contracts';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { LOGGER, type Logger } from '../common/logger';
import { AgentsService } from '../agents/agents.service';
import { DispatchService } from '../dispatch/dispatch.service';
import { ResultsService } from '../results/results.service';
import { RateLimitsService } from '../limits/rate-limits.service';
import { METRICS, type ApiMetrics } from '../telemetry/api-metrics';
import { agentServiceHandlers } from './agent-service.handlers';
import { grpcServerOptions } from './grpc-server-options';
import { SERVER_TLS, type ServerTls } from '../tls/server-tls';

const SHUTDOWN_GRACE_MS = 5_000;

/**
 * TLS with the same chain and key as REST, asking every client for a certificate verified against the
 * agent CA but not requiring one at the handshake: Enroll must work without (it is how an agent gets
 * its first), and the handlers refuse every other call without one (`getAuthContext()` carries the
 * peer certificate only when it verified). `ServerCredentials.createSsl(ca, pairs, true)` cannot do
 * this: it leaves Node's `rejectUnauthorized` at true, so a client without a certificate fails its
 * handshake; grpc-js's certificate-provider credentials set `rejectUnauthorized` from
 * `requireClientCertificate` (false here).
 */
export function serverCredentials(tls: ServerTls | null): ServerCredentials {
  if (!tls) return ServerCredentials.createInsecure();
  const provider = staticProvider(Buffer.from(tls.agentCa.certPem), Buffer.from(tls.certPem), Buffer.from(tls.keyPem));
  // one provider for both roles: grpc-js (1.14) swaps the two parameters between this function and its class
  return experimental.createCertificateProviderServerCredentials(provider, provider, false);
}

/**
 * Fixed material (a restart picks up new files). It answers a listener on the next turn, not inside
 * `addListener`: grpc-js registers its listener on the credentials before its own watcher of the
 * server, so an answer given at once would reach no server (its connections would be dropped).
 */
function staticProvider(ca: Buffer, certificate: Buffer, privateKey: Buffer): experimental.CertificateProvider {
  return {
    addCaCertificateListener: (listener) => setImmediate(() => listener({ caCertificate: ca })),
    removeCaCertificateListener: () => undefined,
    addIdentityCertificateListener: (listener) => setImmediate(() => listener({ certificate, privateKey })),
    removeIdentityCertificateListener: () => undefined,
  };
}

/** The agents' gRPC listener (grpc-js, over TLS unless JR_INSECURE=1), started at bootstrap and drained at shutdown. */
@Injectable()
export class GrpcServerService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private server: Server | undefined;
  private boundPort = 0;

  constructor(
    private readonly agents: AgentsService,
    private readonly dispatch: DispatchService,
    private readonly results: ResultsService,
    private readonly limits: RateLimitsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(METRICS) private readonly metrics: ApiMetrics,
    @Inject(LOGGER) private readonly log: Logger,
    @Inject(SERVER_TLS) private readonly tls: ServerTls | null,
  ) {}

  get port(): number {
    return this.boundPort;
  }

  async onApplicationBootstrap(): Promise<void> {
    const server = new Server(grpcServerOptions(this.config));
    server.addService(
      loadAgentProto().jobrunner.v1.AgentService.service,
      agentServiceHandlers({
        agents: this.agents,
        dispatch: this.dispatch,
        results: this.results,
        metrics: this.metrics,
        log: this.log,
        limits: this.limits,
      }),
    );
    const host = this.config.bindHost.includes(':') ? `[${this.config.bindHost}]` : this.config.bindHost;
    this.boundPort = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`${host}:${this.config.grpcPort}`, serverCredentials(this.tls), (err, port) =>
        err ? reject(err) : resolve(port),
      ),
    );
    this.server = server;
  }

  /** Stops taking calls; in-flight ones get a grace period, then the rest are cut. */
  async beforeApplicationShutdown(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.dispatch.stopLeasing();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, SHUTDOWN_GRACE_MS);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
