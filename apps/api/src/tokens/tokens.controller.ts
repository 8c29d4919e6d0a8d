import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { Audited } from '../audit/audit.decorator';
import { Caller, type Principal } from '../auth/principal';
import { RequireScope } from '../auth/scope.decorator';
import { parseTokenRequest } from './token-request';
import { TokensService, type CreatedToken, type TokenView } from './tokens.service';

@Controller('v1/tokens')
@RequireScope('tokens:admin')
export class TokensController {
  constructor(private readonly tokens: TokensService) {}

  /** 201 with the token, shown this once. */
  @Post()
  @HttpCode(201)
  @Audited({ action: 'tokens.create' })
  create(@Body() body: unknown, @Caller() caller: Principal): Promise<CreatedToken> {
    return this.tokens.create(parseTokenRequest(body), caller);
  }

  @Get()
  list(): Promise<{ items: TokenView[] }> {
    return this.tokens.list();
  }

  @Post(':id/revoke')
  @HttpCode(200)
  @Audited({ action: 'tokens.revoke', target: 'id' })
  revoke(@Param('id') id: string): Promise<TokenView> {
    return this.tokens.revoke(id);
  }
}
