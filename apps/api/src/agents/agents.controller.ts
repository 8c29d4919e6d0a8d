import { Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import type { AgentList } from '@jr/contracts';
import { AgentsService } from './agents.service';

@Controller('v1/agents')
export class AgentsController {
  constructor(private readonly agents: AgentsService) {}

  @Get()
  list(): Promise<AgentList> {
    return this.agents.list();
  }

  @Post('reporting/enable')
  @HttpCode(202)
  enableReportingAll(): Promise<{ agents: number }> {
    return this.agents.enableReporting(undefined);
  }

  @Post(':id/reporting/enable')
  @HttpCode(202)
  enableReporting(@Param('id') id: string): Promise<{ agents: number }> {
    return this.agents.enableReporting(id);
  }

  @Post(':id/drain')
  @HttpCode(202)
  drain(@Param('id') id: string): Promise<{ id: string; state: 'draining' }> {
    return this.agents.drain(id);
  }
}
