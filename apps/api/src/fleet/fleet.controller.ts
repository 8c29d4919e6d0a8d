import { Controller, Get, Param, Query } from '@nestjs/common';
import type { TargetPage } from '@jr/contracts';
import { Caller, type Principal } from '../auth/principal';
import { RequireScope } from '../auth/scope.decorator';
import { FleetService } from './fleet.service';

@Controller('v1/jobs')
export class FleetController {
  constructor(private readonly fleet: FleetService) {}

  /** A fleet job's targets: `?state=&limit=&cursor=`. */
  @Get(':id/targets')
  @RequireScope('jobs:read')
  targets(
    @Param('id') id: string,
    @Query() query: Record<string, unknown>,
    @Caller() caller: Principal,
  ): Promise<TargetPage> {
    return this.fleet.targets(id, query, caller.pool);
  }
}
