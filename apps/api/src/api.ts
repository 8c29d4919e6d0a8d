import type { Server } from 'node:http';
import { NestFactory } from '@nestjs/core';
import type { INestApplication } from '@nestjs/common';
import { AppModule } from './app.module';
import { systemClock, type AppConfig, type Clock } from './config/app-config';
import { createLogger, NestPinoLogger, type Logger } from './common/logger';
import { GrpcServerService } from './grpc/grpc-server.service';
import { closeApiJournals, openApiJournals } from './journal/journal.module';
import { newApiMetrics, type ApiMetrics } from './telemetry/api-metrics';
import { observeHttpRequests } from './telemetry/http-metrics';
import { hardenHttpServer, tlsServerLimits } from './limits/http-hardening';
import { loadServerTls, SERVER_TLS, type ServerTls } from './tls/server-tls';

export interface StartOptions {
  /** Injected time for lease logic (tests move it forward); defaults to the system clock. */
  clock?: Clock;
  logger?: Logger;
  /** Default: a fresh registry without runtime metrics (main.ts passes one with them). */
  metrics?: ApiMetrics;
  /** The listeners' TLS material as loadServerTls made it (main.ts loads it first to report bad files as config errors); default: loaded here. */
  tls?: ServerTls | null;
}

export interface RunningApi {
  app: INestApplication;
  httpPort: number;
  grpcPort: number;
  /** What both listeners serve; null with JR_INSECURE=1. */
  tls: ServerTls | null;
  /** Graceful stop: not ready, listeners drained, workers closed, journal and pools closed. */
  stop(): Promise<void>;
}

/**
 * Builds the Nest application. The journals are recovered first, before anything else exists;
 * migrations, the journals' replay and the gRPC listener then run in init.
 */
export async function createApp(config: AppConfig, options: StartOptions = {}): Promise<INestApplication> {
  const log = options.logger ?? createLogger(config.logLevel);
  const metrics = options.metrics ?? newApiMetrics();
  const tls = options.tls !== undefined ? options.tls : ((await loadServerTls(config, log)) ?? null);
  const journals = await openApiJournals(config, log, metrics);
  try {
    const app = await NestFactory.create(
      AppModule.forRoot(config, options.clock ?? systemClock, log, journals, metrics, tls),
      {
        // a socket that never finishes its TLS handshake is cut like one that never finishes its request head
        ...(tls
          ? { httpsOptions: { cert: tls.certPem, key: tls.keyPem, ...tlsServerLimits(config.limits.http) } }
          : {}),
        bodyParser: false,
        logger: new NestPinoLogger(log),
        abortOnError: false,
      },
    );
    observeHttpRequests(app.getHttpServer() as Server, metrics);
    hardenHttpServer(app.getHttpServer() as Server, config.limits.http);
    return app;
  } catch (err) {
    await closeApiJournals(journals);
    throw err;
  }
}

/** Starts both listeners and logs `{"msg":"jr-api ready","httpPort":…,"grpcPort":…}` once both are up. */
export async function startApi(config: AppConfig, options: StartOptions = {}): Promise<RunningApi> {
  const log = options.logger ?? createLogger(config.logLevel);
  const app = await createApp(config, { ...options, logger: log });
  try {
    await app.listen(config.httpPort, config.bindHost);
  } catch (err) {
    await app.close().catch(() => undefined);
    throw err;
  }
  const address = (app.getHttpServer() as Server).address();
  const httpPort = typeof address === 'object' && address ? address.port : config.httpPort;
  const grpcPort = app.get(GrpcServerService).port;
  const tls = app.get<ServerTls | null>(SERVER_TLS);
  log.info({ httpPort, grpcPort, tls: tls !== null }, 'jr-api ready');
  let stopping: Promise<void> | undefined;
  return { app, httpPort, grpcPort, tls, stop: () => (stopping ??= app.close()) };
}
