import { Global, Module, type DynamicModule } from '@nestjs/common';
import { METRICS, type ApiMetrics } from './api-metrics';
import { MetricsCollectors } from './metrics-collectors.service';
import { MetricsRepository } from './metrics.repository';

/** The API's metrics, built before the application (the journals report fsync durations into it). */
@Global()
@Module({})
export class MetricsModule {
  static forRoot(metrics: ApiMetrics): DynamicModule {
    return {
      module: MetricsModule,
      providers: [{ provide: METRICS, useValue: metrics }, MetricsRepository, MetricsCollectors],
      exports: [METRICS],
    };
  }
}
