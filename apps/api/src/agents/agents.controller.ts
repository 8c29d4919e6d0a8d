import { Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { DomainError, type AgentList, type AgentViewState } from '@jr/contracts';
import { Audited } from '../audit/audit.decorator';
import { RequireScope } from '../auth/scope.decorator';
import { AgentsService, type AgentRemoval } from './agents.service';

@Controller('v1/agents')
export class AgentsController {
  constructor(private readonly agents: AgentsService) {}

  @Get()
  @RequireScope('agents:read')
  list(): Promise<AgentList> {
    return this.agents.list();
  }

  @Post('reporting/enable')
  @HttpCode(202)
  @RequireScope('agents:admin')
  @Audited({ action: 'agents.enable_reporting', target: { fixed: '*' } })
  enableReportingAll(): Promise<{ agents: number }> {
    return this.agents.enableReporting(undefined);
  }

  @Post(':id/reporting/enable')
  @HttpCode(202)
  @RequireScope('agents:admin')
  @Audited({ action: 'agents.enable_reporting', target: 'id' })
  enableReporting(@Param('id') id: string): Promise<{ agents: number }> {
    return this.agents.enableReporting(id);
  }

  @Post(':id/drain')
  @HttpCode(202)
  @RequireScope('agents:admin')
  @Audited({ action: 'agents.drain', target: 'id' })
  drain(@Param('id') id: string): Promise<{ id: string; state: 'draining' }> {
    return this.agents.drain(id);
  }

  @Post(':id/undrain')
  @HttpCode(202)
  @RequireScope('agents:admin')
  @Audited({ action: 'agents.undrain', target: 'id' })
  undrain(@Param('id') id: string): Promise<{ id: string; state: AgentViewState }> {
    return this.agents.undrain(id);
  }

  @Post(':id/revoke')
  @HttpCode(200)
  @RequireScope('agents:admin')
  @Audited({ action: 'agents.revoke', target: 'id' })
  revoke(@Param('id') id: string): Promise<{ id: string; revokedAt: string; attemptsEnded: number }> {
    return this.agents.revoke(id);
  }

  @Delete(':id')
  @RequireScope('agents:admin')
  @Audited({ action: 'agents.remove', target: 'id' })
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
