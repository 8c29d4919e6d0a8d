import type { ServerResponse } from 'node:http';
import { Controller, Get, Res } from '@nestjs/common';
import { Public } from '../auth/public.decorator';
import { HealthService } from './health.service';

@Public()
@Controller()
export class HealthController {
  constructor(private readonly health: HealthService) {}

  @Get('healthz')
  healthz(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('readyz')
  async readyz(@Res() res: ServerResponse): Promise<void> {
    const view = await this.health.readiness();
    const headers: Record<string, string> = { 'Content-Type': 'application/json; charset=utf-8' };
    if (!view.ready) headers['Retry-After'] = '5';
    res.writeHead(view.ready ? 200 : 503, headers).end(JSON.stringify(view));
  }

  @Get('metrics')
  async metrics(@Res() res: ServerResponse): Promise<void> {
    const { text, contentType } = await this.health.metricsText();
    res.writeHead(200, { 'Content-Type': contentType }).end(text);
  }
}
