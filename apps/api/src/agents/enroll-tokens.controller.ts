import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { EnrollTokensService, type EnrollTokenView } from './enroll-tokens.service';

/** Operator enroll tokens (`jr tokens create-enroll|list-enroll|revoke-enroll`). Admin token: the global guard. */
@Controller('v1/enroll-tokens')
export class EnrollTokensController {
  constructor(private readonly tokens: EnrollTokensService) {}

  // scope: agents:admin
  // audit: enroll-tokens.create
  @Post()
  @HttpCode(201)
  create(@Body() body: unknown): Promise<EnrollTokenView & { token: string }> {
    return this.tokens.create(body);
  }

  // scope: agents:admin
  @Get()
  list(): Promise<{ items: EnrollTokenView[] }> {
    return this.tokens.list();
  }

  // scope: agents:admin
  // audit: enroll-tokens.revoke
  @Post(':id/revoke')
  @HttpCode(200)
  revoke(@Param('id') id: string): Promise<EnrollTokenView> {
    return this.tokens.revoke(id);
  }
}
