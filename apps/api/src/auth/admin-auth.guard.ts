import type { IncomingMessage } from 'node:http';
import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { DomainError, SCOPES, type Scope } from '@jr/contracts';
import { LOGGER, type Logger } from '../common/logger';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { AUDITED, type AuditSpec } from '../audit/audit.decorator';
import { auditTarget } from '../audit/audit.interceptor';
import { actorOf, AuditService } from '../audit/audit.service';
import { TokensService } from '../tokens/tokens.service';
import { bearerToken, CANARY_TOKEN_PREFIX, canaryToken, ExpectedToken } from './tokens';
import { clientAddress, setPrincipal, type Principal } from './principal';
import { IS_PUBLIC } from './public.decorator';
import { REQUIRED_SCOPE } from './scope.decorator';

const ALL_SCOPES: ReadonlySet<Scope> = new Set(SCOPES);
const CANARY_SCOPES: ReadonlySet<Scope> = new Set<Scope>(['jobs:submit']);

/**
 * Authentication and authorization of every REST route but the @Public() ones: the bearer is the
 * bootstrap JR_ADMIN_TOKEN (every scope) or an API token (`jrt_…`, its scopes, maybe one pool);
 * then the route's @RequireScope must be held (403 naming the missing scope). A refusal of an
 * @Audited route by an authenticated caller is itself audited.
 */
@Injectable()
export class AdminAuthGuard implements CanActivate {
  private readonly adminToken: ExpectedToken;
  private readonly canaryToken: ExpectedToken;

  constructor(
    private readonly reflector: Reflector,
    private readonly tokens: TokensService,
    private readonly audit: AuditService,
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(LOGGER) private readonly log: Logger,
  ) {
    this.adminToken = new ExpectedToken(config.adminToken);
    this.canaryToken = new ExpectedToken(canaryToken(config.adminToken));
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean | undefined>(IS_PUBLIC, targets) === true) return true;
    const req = context.switchToHttp().getRequest<IncomingMessage & { params?: Record<string, string> }>();
    const principal = await this.authenticate(req);
    setPrincipal(req, principal);
    const scope = this.reflector.getAllAndOverride<Scope | undefined>(REQUIRED_SCOPE, targets);
    if (scope === undefined ? principal.kind === 'admin' : principal.scopes.has(scope)) return true;
    const refusal = forbidden(scope);
    const spec = this.reflector.get<AuditSpec | undefined>(AUDITED, context.getHandler());
    if (spec) await this.auditRefusal(spec, principal, req, scope);
    throw refusal;
  }

  /** Best effort: a refusal answers 403 whether or not its audit row could be written (Postgres down). */
  private async auditRefusal(
    spec: AuditSpec,
    principal: Principal,
    req: { params?: Record<string, string> },
    scope: Scope | undefined,
  ): Promise<void> {
    await this.audit
      .record({
        actor: actorOf(principal),
        action: spec.action,
        target: auditTarget(spec, req),
        outcome: 'forbidden',
        detail: { missingScope: scope ?? 'admin' },
      })
      .catch((err: unknown) =>
        this.log.error({ err: String(err), action: spec.action }, 'audit record could not be written'),
      );
  }

  private async authenticate(req: IncomingMessage): Promise<Principal> {
    const token = bearerToken(req.headers.authorization);
    if (token === undefined)
      throw new DomainError('UNAUTHENTICATED', 'missing bearer token (Authorization: Bearer <token>)');
    const address = clientAddress(req);
    if (token.startsWith('jrt_')) return this.tokens.authenticate(token, address);
    if (token.startsWith(CANARY_TOKEN_PREFIX) && this.canaryToken.matches(token))
      return { kind: 'canary', id: 'canary', name: 'canary', scopes: CANARY_SCOPES, pool: null, address };
    if (!this.adminToken.matches(token)) throw new DomainError('UNAUTHENTICATED', 'invalid bearer token');
    return { kind: 'admin', id: 'admin', name: 'admin', scopes: ALL_SCOPES, pool: null, address };
  }
}

function forbidden(scope: Scope | undefined): DomainError {
  if (scope === undefined) return new DomainError('FORBIDDEN', 'this route is open to the bootstrap admin token only');
  return new DomainError('FORBIDDEN', `the token lacks the scope ${scope}`, { missingScope: scope });
}
