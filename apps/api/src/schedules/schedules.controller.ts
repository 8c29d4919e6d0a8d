import type { ServerResponse } from 'node:http';
import { Body, Controller, Delete, Get, HttpCode, Param, Post, Res } from '@nestjs/common';
import type { SchedulePage, ScheduleTriggered, ScheduleView } from '@jr/contracts';
import { Audited } from '../audit/audit.decorator';
import { Caller, type Principal } from '../auth/principal';
import { RequireScope } from '../auth/scope.decorator';
import { SchedulesService } from './schedules.service';

/** `/v1/schedules`: reading needs jobs:read, every change schedules:admin. */
@Controller('v1/schedules')
export class SchedulesController {
  constructor(private readonly schedules: SchedulesService) {}

  /** 201 for a new schedule; 200 when the same name was created with the same document (a retry). */
  @Post()
  @RequireScope('schedules:admin')
  @Audited({ action: 'schedules.create' })
  async create(@Body() body: unknown, @Caller() caller: Principal, @Res() res: ServerResponse): Promise<void> {
    const r = await this.schedules.create(body, caller);
    res
      .writeHead(r.created ? 201 : 200, { 'Content-Type': 'application/json; charset=utf-8' })
      .end(JSON.stringify({ id: r.id }));
  }

  @Get()
  @RequireScope('jobs:read')
  list(@Caller() caller: Principal): Promise<SchedulePage> {
    return this.schedules.list(caller);
  }

  /** By id (`s_…`) or by name. */
  @Get(':id')
  @RequireScope('jobs:read')
  get(@Param('id') id: string, @Caller() caller: Principal): Promise<ScheduleView> {
    return this.schedules.get(id, caller);
  }

  @Post(':id/pause')
  @HttpCode(200)
  @RequireScope('schedules:admin')
  @Audited({ action: 'schedules.pause', target: 'id' })
  pause(@Param('id') id: string, @Caller() caller: Principal): Promise<ScheduleView> {
    return this.schedules.pause(id, true, caller);
  }

  @Post(':id/resume')
  @HttpCode(200)
  @RequireScope('schedules:admin')
  @Audited({ action: 'schedules.resume', target: 'id' })
  resume(@Param('id') id: string, @Caller() caller: Principal): Promise<ScheduleView> {
    return this.schedules.pause(id, false, caller);
  }

  /** Makes the schedule's job now: 202 with the job's id. */
  @Post(':id/trigger')
  @HttpCode(202)
  @RequireScope('schedules:admin')
  @Audited({ action: 'schedules.trigger', target: 'id' })
  trigger(@Param('id') id: string, @Caller() caller: Principal): Promise<ScheduleTriggered> {
    return this.schedules.trigger(id, caller);
  }

  @Delete(':id')
  @HttpCode(204)
  @RequireScope('schedules:admin')
  @Audited({ action: 'schedules.delete', target: 'id' })
  async delete(@Param('id') id: string, @Caller() caller: Principal): Promise<void> {
    await this.schedules.delete(id, caller);
  }
}
