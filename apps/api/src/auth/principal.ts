import type { IncomingMessage } from 'node:http';
import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { DomainError, type Scope } from '@jr/contracts';

/** Who is calling: the bootstrap admin token (every scope) or an API token. Set by the auth guard. */
export interface Principal {
  /** `canary`: the API's own canary submitter (canaryToken), who alone may submit `canary: true` jobs. */
  kind: 'admin' | 'token' | 'canary';
  /** `admin`, or the token id (what the audit log records as the actor). */
  id: string;
  name: string;
  scopes: ReadonlySet<Scope>;
  /** A pool-restricted token submits to, reads and cancels only jobs of this pool. */
  pool: string | null;
  /** The peer address of the request (no proxy header is trusted). */
  address: string;
}

const PRINCIPAL = Symbol('jr:principal');
type WithPrincipal = IncomingMessage & { [PRINCIPAL]?: Principal };

export function setPrincipal(req: IncomingMessage, principal: Principal): void {
  (req as WithPrincipal)[PRINCIPAL] = principal;
}

export function principalOf(req: IncomingMessage): Principal | undefined {
  return (req as WithPrincipal)[PRINCIPAL];
}

export function clientAddress(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? 'unknown';
}

/** The caller of a guarded route, as a handler parameter: `@Caller() caller: Principal`. */
export const Caller = createParamDecorator((_: unknown, ctx: ExecutionContext): Principal => {
  const principal = principalOf(ctx.switchToHttp().getRequest<IncomingMessage>());
  if (!principal) throw new DomainError('UNAUTHENTICATED', 'no authenticated caller');
  return principal;
});
