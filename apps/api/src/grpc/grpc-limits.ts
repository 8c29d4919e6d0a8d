import { status, type ServerUnaryCall } from '@grpc/grpc-js';
import { bearerToken } from '../auth/tokens';
import { grpcPeerAddress } from '../limits/client-address';
import { rateLimited, secretKey, type RateLimitsService } from '../limits/rate-limits.service';

type AnyCall = ServerUnaryCall<unknown, unknown>;

/**
 * Before a call is served: a locked-out address is refused; Enroll counts against its address, every
 * other call against the agent's credential (keyed by digest, so nobody can spend another agent's
 * budget without its credential). Refusals become RESOURCE_EXHAUSTED with `grpc-retry-pushback-ms`.
 */
export async function admitCall(limits: RateLimitsService, method: string, call: AnyCall): Promise<void> {
  const address = grpcPeerAddress(call.getPeer());
  const credential = bearerToken(authorization(call));
  // both questions at once: one write to Redis, one round trip (a call a lockout refuses still counts)
  const [lockedMs, verdict] = await Promise.all([
    limits.lockedOutMs(address),
    method === 'Enroll'
      ? limits.consume('enroll', address)
      : credential === undefined
        ? undefined
        : limits.consume('agent', secretKey(credential)),
  ]);
  if (lockedMs !== undefined)
    throw rateLimited('too many failed authentications from this address: locked out', lockedMs);
  if (verdict && !verdict.allowed) throw rateLimited(`rate limit exceeded (${verdict.name})`, verdict.resetMs);
}

/** An UNAUTHENTICATED answer (bad credential, bad enroll token) counts against the caller's address. */
export function noteRefusal(limits: RateLimitsService, call: AnyCall, code: status | undefined): void {
  if (code !== status.UNAUTHENTICATED) return;
  void limits.authFailed(grpcPeerAddress(call.getPeer())).catch(() => undefined);
}

function authorization(call: AnyCall): string | undefined {
  const value = call.metadata.get('authorization')[0];
  return typeof value === 'string' ? value : undefined;
}
