import type { ServerResponse } from 'node:http';
import { Controller, Get, Res } from '@nestjs/common';
import { Public } from '../auth/public.decorator';
import { RequireScope } from '../auth/scope.decorator';
import { HealthService } from './health.service';

@Controller()
export class HealthController {
  constructor(private readonly health: HealthService) {}

  @Public()
  @Get('healthz')
  healthz(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Public()
  @Get('readyz')
  async readyz(@Res() res: ServerResponse): Promise<void> {
    const view = await this.health.readiness();
    const headers: Record<string, string> = { 'Content-Type': 'application/json; charset=utf-8' };
    if (!view.ready) headers['Retry-After'] = '5';
    res.writeHead(view.ready ? 200 : 503, headers).end(JSON.stringify(view));
  }

  /** Scrapes read gauges refreshed in the background (MetricsCollectors): no database query per scrape. */
  @Get('metrics')
  @RequireScope('metrics:read')
  async metrics(@Res() res: ServerResponse): Promise<void> {
    const { text, contentType } = await this.health.metricsText();
    res.writeHead(200, { 'Content-Type': contentType }).end(text);
  }
}
