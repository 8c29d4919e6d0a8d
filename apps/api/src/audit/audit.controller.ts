import { Controller, Get, Query } from '@nestjs/common';
import { RequireScope } from '../auth/scope.decorator';
import { AuditService, type AuditView } from './audit.service';

@Controller('v1/audit')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  @Get()
  @RequireScope('agents:admin')
  list(@Query() query: Record<string, unknown>): Promise<{ items: AuditView[]; nextCursor: string | null }> {
    return this.audit.list(query);
  }
}
