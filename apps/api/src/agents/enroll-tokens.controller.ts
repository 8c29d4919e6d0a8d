import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { Audited } from '../audit/audit.decorator';
import { RequireScope } from '../auth/scope.decorator';
import { EnrollTokensService, type EnrollTokenView } from './enroll-tokens.service';

/** Operator enroll tokens (`jr tokens create-enroll|list-enroll|revoke-enroll`), scope `agents:admin`. */
@Controller('v1/enroll-tokens')
export class EnrollTokensController {
  constructor(private readonly tokens: EnrollTokensService) {}

  @Post()
  @HttpCode(201)
  @RequireScope('agents:admin')
  @Audited({ action: 'enroll_tokens.create' })
  create(@Body() body: unknown): Promise<EnrollTokenView & { token: string }> {
    return this.tokens.create(body);
  }

  @Get()
  @RequireScope('agents:admin')
  list(): Promise<{ items: EnrollTokenView[] }> {
    return this.tokens.list();
  }

  @Post(':id/revoke')
  @HttpCode(200)
  @RequireScope('agents:admin')
  @Audited({ action: 'enroll_tokens.revoke', target: 'id' })
  revoke(@Param('id') id: string): Promise<EnrollTokenView> {
    return this.tokens.revoke(id);
  }
}
