import { Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { DomainError, type AgentList, type AgentViewState } from '@jr/contracts';
import { AgentsService, type AgentRemoval } from './agents.service';

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

  @Post(':id/undrain')
  @HttpCode(202)
  undrain(@Param('id') id: string): Promise<{ id: string; state: AgentViewState }> {
    return this.agents.undrain(id);
  }

  // scope: agents:admin
  // audit: agents.revoke
  @Post(':id/revoke')
  @HttpCode(200)
  revoke(@Param('id') id: string): Promise<{ id: string; revokedAt: string; attemptsEnded: number }> {
    return this.agents.revoke(id);
  }

  @Delete(':id')
  remove(@Param('id') id: string, @Query('force') force: unknown): Promise<AgentRemoval> {
    return this.agents.remove(id, parseForce(force));
  }
}

/** `?force=true|1` (or `false|0`, or absent); anything else is a 400, not a silent "no". */
function parseForce(value: unknown): boolean {
  if (value === undefined || value === 'false' || value === '0') return false;
  if (value === 'true' || value === '1' || value === '') return true;
  throw new DomainError('INVALID_INPUT', 'force must be true or false');
}
