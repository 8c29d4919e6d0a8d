import { grpcServerOptions } from './grpc-server-options';

describe('grpcServerOptions', () => {
  it('ages connections out after JR_GRPC_MAX_CONNECTION_AGE, with a grace longer than a Lease long poll', () => {
    const o = grpcServerOptions({ grpcMaxConnectionAgeMs: 300_000, leaseWaitMaxMs: 30_000 });
    expect(o['grpc.max_connection_age_ms']).toBe(300_000);
    expect(o['grpc.max_connection_age_grace_ms']).toBe(40_000);
    expect(o['grpc.keepalive_permit_without_calls']).toBe(1);
  });

  it('0: connections are never aged out', () => {
    const o = grpcServerOptions({ grpcMaxConnectionAgeMs: 0, leaseWaitMaxMs: 30_000 });
    expect('grpc.max_connection_age_ms' in o).toBe(false);
    expect('grpc.max_connection_age_grace_ms' in o).toBe(false);
  });
});
