import { Global, Module } from '@nestjs/common';
import { RateLimitsService } from './rate-limits.service';
import { RestLimitsMiddleware } from './rest-limits.middleware';

/** Rate limits and address lockouts (REST middleware, gRPC handlers), shared across replicas via Redis. */
@Global()
@Module({
  providers: [RateLimitsService, RestLimitsMiddleware],
  exports: [RateLimitsService],
})
export class LimitsModule {}
