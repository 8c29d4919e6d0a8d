import type { ServerResponse } from 'node:http';
import { Controller, Get, Headers, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import type { JobPage, JobView, SubmitResult } from '@jr/contracts';
import { Audited } from '../audit/audit.decorator';
import { Caller, type Principal } from '../auth/principal';
import { RequireScope } from '../auth/scope.decorator';
import { JobLogsService } from './job-logs.service';
import { JobsService } from './jobs.service';
import { logQuery } from './log-query';
import { sseSink, textSink } from './sse-sink';

@Controller('v1/jobs')
export class JobsController {
  constructor(
    private readonly jobs: JobsService,
    private readonly logService: JobLogsService,
  ) {}

  @Get()
  @RequireScope('jobs:read')
  list(@Query() query: Record<string, unknown>, @Caller() caller: Principal): Promise<JobPage> {
    return this.jobs.list(query, caller.pool);
  }

  @Get(':id')
  @RequireScope('jobs:read')
  get(@Param('id') id: string, @Caller() caller: Principal): Promise<JobView> {
    return this.jobs.get(id, caller.pool);
  }

  @Post(':id/cancel')
  @HttpCode(202)
  @RequireScope('jobs:cancel')
  @Audited({ action: 'jobs.cancel', target: 'id' })
  cancel(@Param('id') id: string, @Caller() caller: Principal): Promise<SubmitResult> {
    return this.jobs.cancel(id, caller.pool);
  }

  /** Plain text (`?markers=1`: step markers), or with `?follow=1` SSE until the job ends (resumes after `Last-Event-ID`). */
  @Get(':id/logs')
  @RequireScope('jobs:read')
  async logs(
    @Caller() caller: Principal,
    @Param('id') id: string,
    @Query() query: Record<string, unknown>,
    @Headers('last-event-id') lastEventId: unknown,
    @Res() res: ServerResponse,
  ): Promise<void> {
    const q = logQuery(query, lastEventId);
    if (caller.pool !== null) await this.jobs.get(id, caller.pool);
    await this.logService.assertExists(id);
    try {
      if (q.follow) await this.logService.follow(id, { markers: q.markers, from: q.from }, sseSink(res));
      else await this.logService.write(id, q.markers, textSink(res));
      res.end();
    } catch (err) {
      // the answer has begun: a problem document cannot follow, so the client must see a broken stream, never a short log
      if (!res.headersSent) throw err;
      res.destroy(err instanceof Error ? err : new Error(String(err)));
    }
  }
}
