import type { ServerResponse } from 'node:http';
import { Controller, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import type { JobPage, JobView, SubmitResult } from '@jr/contracts';
import { JobLogsService } from './job-logs.service';
import { JobsService } from './jobs.service';
import { sseSink } from './sse-sink';

@Controller('v1/jobs')
export class JobsController {
  constructor(
    private readonly jobs: JobsService,
    private readonly logService: JobLogsService,
  ) {}

  @Get()
  list(@Query() query: Record<string, unknown>): Promise<JobPage> {
    return this.jobs.list(query);
  }

  @Get(':id')
  get(@Param('id') id: string): Promise<JobView> {
    return this.jobs.get(id);
  }

  @Post(':id/cancel')
  @HttpCode(202)
  cancel(@Param('id') id: string): Promise<SubmitResult> {
    return this.jobs.cancel(id);
  }

  @Get(':id/logs')
  async logs(@Param('id') id: string, @Query('follow') follow: unknown, @Res() res: ServerResponse): Promise<void> {
    if (follow !== '1' && follow !== 'true') {
      const body = await this.logService.text(id);
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': body.length }).end(body);
      return;
    }
    await this.logService.assertExists(id);
    await this.logService.follow(id, sseSink(res));
    res.end();
  }
}
