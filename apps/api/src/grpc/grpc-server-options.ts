import type { ServerOptions } from '@grpc/grpc-js';
import type { AppConfig } from '../config/app-config';

/** After the GOAWAY of an aged connection: room for a Lease long poll begun just before it to be answered. */
const AGE_GRACE_MARGIN_MS = 10_000;

/**
 * The agents' gRPC server options. `grpc.max_connection_age_ms` (JR_GRPC_MAX_CONNECTION_AGE, ±10 %
 * jitter by grpc-js) sends each connection a GOAWAY when it is that old: the agent's channel opens a new
 * connection for its next calls, which a load balancer may send to another replica, so a fleet spreads
 * again after a replica was down or added. The calls in flight finish on the old connection: the grace
 * (`grpc.max_connection_age_grace_ms`) is the longest Lease hold (JR_LEASE_WAIT_MAX) plus 10 s, and
 * agents' other calls have shorter deadlines, so no call is cut. 0 turns it off.
 */
export function grpcServerOptions(config: Pick<AppConfig, 'grpcMaxConnectionAgeMs' | 'leaseWaitMaxMs'>): ServerOptions {
  const age =
    config.grpcMaxConnectionAgeMs > 0
      ? {
          'grpc.max_connection_age_ms': config.grpcMaxConnectionAgeMs,
          'grpc.max_connection_age_grace_ms': config.leaseWaitMaxMs + AGE_GRACE_MARGIN_MS,
        }
      : {};
  return {
    'grpc.max_receive_message_length': 4 * 1024 * 1024,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.http2.min_ping_interval_without_data_ms': 10_000,
    'grpc.keepalive_time_ms': 60_000,
    'grpc.keepalive_timeout_ms': 20_000,
    ...age,
  };
}
