import type { IncomingMessage, ServerResponse } from 'node:http';
import { Injectable, type NestMiddleware } from '@nestjs/common';
import { bearerToken } from '../auth/tokens';
import { addressKey } from './client-address';
import { rateLimitHeaders, retryAfterMs } from './rate-limit-headers';
import { rateLimited, RateLimitsService, secretKey, type Verdict } from './rate-limits.service';

/** Probes a load balancer or kubelet sends: never limited (a 429 there would restart a healthy API). */
const EXEMPT = new Set(['/healthz', '/readyz']);

/**
 * Before anything else reads the request (auth, body): refuses locked-out addresses, counts the
 * request against its address and its bearer token, sets the RateLimit fields on the answer, and
 * counts every 401 answer as a failed authentication of the address. Tokens are keyed by digest, so a
 * client can only spend the budget of a token it holds.
 */
@Injectable()
export class RestLimitsMiddleware implements NestMiddleware<IncomingMessage, ServerResponse> {
  constructor(private readonly limits: RateLimitsService) {}

  use(req: IncomingMessage & { originalUrl?: string }, res: ServerResponse, next: (err?: unknown) => void): void {
    // Express rewrites req.url below a mount point; originalUrl is what the client asked for
    if (EXEMPT.has((req.originalUrl ?? req.url ?? '').split('?')[0] ?? '')) return next();
    this.check(req, res).then(next, next);
  }

  private async check(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const address = addressKey(req.socket.remoteAddress);
    const token = bearerToken(req.headers.authorization);
    const [lockedMs, ...counted] = await Promise.all([
      this.limits.lockedOutMs(address),
      this.limits.consume('address', address),
      token === undefined ? undefined : this.limits.consume('token', secretKey(token)),
    ]);
    const verdicts = counted.filter((v): v is Verdict => v !== undefined);
    for (const [name, value] of Object.entries(rateLimitHeaders(verdicts))) res.setHeader(name, value);
    if (lockedMs !== undefined)
      throw rateLimited('too many failed authentications from this address: locked out', lockedMs);
    const refused = verdicts.filter((v) => !v.allowed);
    if (refused.length > 0)
      throw rateLimited(`rate limit exceeded (${refused.map((v) => v.name).join(', ')})`, retryAfterMs(verdicts));
    res.once('finish', () => {
      if (res.statusCode === 401) void this.limits.authFailed(address).catch(() => undefined);
    });
  }
}
