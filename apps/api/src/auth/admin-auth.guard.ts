import type { IncomingMessage } from 'node:http';
import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { checkAdminToken } from './admin-auth';
import { ExpectedToken } from './tokens';
import { IS_PUBLIC } from './public.decorator';

@Injectable()
export class AdminAuthGuard implements CanActivate {
  private readonly adminToken: ExpectedToken;

  constructor(
    private readonly reflector: Reflector,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.adminToken = new ExpectedToken(config.adminToken);
  }

  canActivate(context: ExecutionContext): boolean {
    const isPublic = this.reflector.getAllAndOverride<boolean | undefined>(IS_PUBLIC, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (isPublic === true) return true;
    const req = context.switchToHttp().getRequest<IncomingMessage>();
    checkAdminToken(req.headers.authorization, this.adminToken);
    return true;
  }
}
