import type { IncomingMessage } from 'node:http';
import { Inject, Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { catchError, from, mergeMap, type Observable } from 'rxjs';
import { isDomainError } from '@jr/contracts';
import { LOGGER, type Logger } from '../common/logger';
import { principalOf } from '../auth/principal';
import { AUDITED, type AuditSpec } from './audit.decorator';
import { actorOf, AuditService } from './audit.service';

/**
 * Writes the audit row of every @Audited route once its handler settles, before the answer goes out:
 * `ok`, or the refusal's error code. Routes recorded by the intake relay (`recordedBy: 'intake'`)
 * get rows here only for authorization refusals.
 */
@Injectable()
export class AuditInterceptor implements NestInterceptor {
  constructor(
    private readonly reflector: Reflector,
    private readonly audit: AuditService,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const spec = this.reflector.get<AuditSpec | undefined>(AUDITED, context.getHandler());
    if (!spec) return next.handle();
    const req = context.switchToHttp().getRequest<IncomingMessage & { params?: Record<string, string> }>();
    return next.handle().pipe(
      mergeMap((value: unknown) => from(this.write(spec, req, 'ok', value).then(() => value))),
      catchError((err: unknown) =>
        from(
          this.write(spec, req, outcomeOf(err), undefined).then(() => {
            throw err;
          }),
        ),
      ),
    );
  }

  private async write(
    spec: AuditSpec,
    req: IncomingMessage & { params?: Record<string, string> },
    outcome: string,
    value: unknown,
  ): Promise<void> {
    if (spec.recordedBy === 'intake' && outcome !== 'forbidden') return;
    const principal = principalOf(req);
    if (!principal) return;
    try {
      await this.audit.record({
        actor: actorOf(principal),
        action: spec.action,
        target: auditTarget(spec, req, value),
        outcome,
      });
    } catch (err) {
      // the call itself took effect: answering with an error now would tell the caller it did not
      this.log.error({ err: String(err), action: spec.action }, 'audit record could not be written');
    }
  }
}

export function auditTarget(spec: AuditSpec, req: { params?: Record<string, string> }, value?: unknown): string | null {
  if (typeof spec.target === 'object') return spec.target.fixed;
  if (spec.target !== undefined) return req.params?.[spec.target]?.slice(0, 128) ?? null;
  const id = (value as { id?: unknown } | undefined)?.id;
  return typeof id === 'string' ? id : null;
}

export function outcomeOf(err: unknown): string {
  return isDomainError(err) ? err.code.toLowerCase() : 'error';
}
