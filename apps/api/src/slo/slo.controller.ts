import type { ServerResponse } from 'node:http';
import { Controller, Get, Query, Res } from '@nestjs/common';
import type { Incident, SloReport } from '@jr/contracts';
import { RequireScope } from '../auth/scope.decorator';
import { SloService } from './slo.service';

/** Service levels: `GET /v1/slo`, `GET /v1/slo/rules`, `GET /v1/incidents` (all read-only, jobs:read). */
@Controller('v1')
export class SloController {
  constructor(private readonly slo: SloService) {}

  @Get('slo')
  @RequireScope('jobs:read')
  report(@Query('window') window: unknown): Promise<SloReport> {
    return this.slo.report(window);
  }

  /** Prometheus recording and alerting rules for the configured objectives, as YAML. */
  @Get('slo/rules')
  @RequireScope('jobs:read')
  rules(@Res() res: ServerResponse): void {
    res.writeHead(200, { 'Content-Type': 'application/yaml; charset=utf-8' }).end(this.slo.rules());
  }

  @Get('incidents')
  @RequireScope('jobs:read')
  incidents(@Query('window') window: unknown): Promise<{ items: Incident[] }> {
    return this.slo.incidentList(window);
  }
}
