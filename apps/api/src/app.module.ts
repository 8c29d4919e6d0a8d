import { Global, Module, type DynamicModule, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import { AgentsModule } from './agents/agents.module';
import { AuditInterceptor } from './audit/audit.interceptor';
import { AuditModule } from './audit/audit.module';
import { AdminAuthGuard } from './auth/admin-auth.guard';
import { BusModule } from './bus/bus.module';
import { CommonModule } from './common/common.module';
import { JsonBodyInterceptor } from './common/json-body.interceptor';
import { LOGGER, type Logger } from './common/logger';
import { ProblemFilter } from './common/problem.filter';
import { APP_CONFIG, CLOCK, type AppConfig, type Clock } from './config/app-config';
import { DatabaseModule } from './database/database.module';
import { DispatchModule } from './dispatch/dispatch.module';
import { FleetModule } from './fleet/fleet.module';
import { GrpcModule } from './grpc/grpc.module';
import { HealthModule } from './health/health.module';
import { IntakeModule } from './intake/intake.module';
import { IntakeStateModule } from './intake/intake-state.module';
import { JobsModule } from './jobs/jobs.module';
import { LeadershipModule } from './leadership/leadership.module';
import { LimitsModule } from './limits/limits.module';
import { RestLimitsMiddleware } from './limits/rest-limits.middleware';
import { JournalModule, type ApiJournals } from './journal/journal.module';
import { QueueModule } from './queue/queue.module';
import { ResultsModule } from './results/results.module';
import { SchedulesModule } from './schedules/schedules.module';
import { CanaryModule } from './canary/canary.module';
import { SloModule } from './slo/slo.module';
import { SecretsModule } from './secrets/secrets.module';
import { type ApiMetrics } from './telemetry/api-metrics';
import { MetricsModule } from './telemetry/metrics.module';
import { TokensModule } from './tokens/tokens.module';
import { SERVER_TLS, type ServerTls } from './tls/server-tls';

/** Configuration, clock and logger for every module: built once, before anything else. */
@Global()
@Module({})
export class ConfigModule {
  static forRoot(config: AppConfig, clock: Clock, log: Logger, tls: ServerTls | null = null): DynamicModule {
    return {
      module: ConfigModule,
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: CLOCK, useValue: clock },
        { provide: LOGGER, useValue: log },
        { provide: SERVER_TLS, useValue: tls },
      ],
      exports: [APP_CONFIG, CLOCK, LOGGER, SERVER_TLS],
    };
  }
}

@Module({})
export class AppModule implements NestModule {
  static forRoot(
    config: AppConfig,
    clock: Clock,
    log: Logger,
    journals: ApiJournals,
    metrics: ApiMetrics,
    tls: ServerTls | null = null,
  ): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config, clock, log, tls),
        CommonModule,
        SecretsModule,
        MetricsModule.forRoot(metrics),
        LimitsModule,
        DatabaseModule,
        LeadershipModule,
        AuditModule,
        TokensModule,
        QueueModule,
        BusModule,
        JournalModule.forRoot(journals),
        IntakeStateModule,
        JobsModule,
        AgentsModule,
        DispatchModule,
        IntakeModule,
        ResultsModule,
        SchedulesModule,
        SloModule,
        CanaryModule,
        FleetModule,
        HealthModule,
        GrpcModule,
      ],
      providers: [
        { provide: APP_GUARD, useClass: AdminAuthGuard },
        { provide: APP_FILTER, useClass: ProblemFilter },
        // after the guards: a request is authenticated before its body is read
        { provide: APP_INTERCEPTOR, useClass: JsonBodyInterceptor },
        { provide: APP_INTERCEPTOR, useClass: AuditInterceptor },
      ],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(RestLimitsMiddleware).forRoutes('*path');
  }
}
