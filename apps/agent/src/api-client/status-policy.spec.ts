import { status as Status } from '@grpc/grpc-js';
import { STATUS_POLICY, actionFor, type AgentMethod } from './status-policy';
import { pushbackFrom } from '../errors';

const METHODS: AgentMethod[] = ['Enroll', 'Heartbeat', 'Lease', 'Report', 'Complete'];
const codes = Object.values(Status).filter((v): v is Status => typeof v === 'number');

describe('STATUS_POLICY', () => {
  it('covers every gRPC status code with a reason', () => {
    for (const code of codes) {
      expect(STATUS_POLICY[code]).toBeDefined();
      expect(STATUS_POLICY[code].why.length).toBeGreaterThan(10);
    }
  });

  it.each(['UNAVAILABLE', 'DEADLINE_EXCEEDED', 'RESOURCE_EXHAUSTED', 'ABORTED', 'INTERNAL'] as const)(
    'retries %s on every method',
    (name) => {
      for (const m of METHODS) expect(actionFor(Status[name], m)).toBe('retry');
    },
  );

  it.each(['UNAUTHENTICATED', 'PERMISSION_DENIED', 'UNIMPLEMENTED'] as const)('stops the agent on %s', (name) => {
    for (const m of METHODS) expect(actionFor(Status[name], m)).toBe('stop');
  });

  it('reads FAILED_PRECONDITION as superseded only on the fenced calls', () => {
    expect(actionFor(Status.FAILED_PRECONDITION, 'Report')).toBe('superseded');
    expect(actionFor(Status.FAILED_PRECONDITION, 'Complete')).toBe('superseded');
    expect(actionFor(Status.FAILED_PRECONDITION, 'Heartbeat')).toBe('retry');
    expect(actionFor(Status.FAILED_PRECONDITION, 'Lease')).toBe('retry');
  });

  it('drops malformed requests instead of resending them forever', () => {
    for (const m of METHODS) expect(actionFor(Status.INVALID_ARGUMENT, m)).toBe('drop');
  });

  it('retries an unknown future code rather than crashing', () => {
    expect(actionFor(99 as Status, 'Report')).toBe('retry');
  });
});

describe('grpc-retry-pushback-ms', () => {
  it('reads a non-negative integer, ignores anything else', () => {
    expect(pushbackFrom(['1500'])).toBe(1500);
    expect(pushbackFrom(['0'])).toBe(0);
    for (const bad of [[], ['-1'], ['1.5'], ['soon'], [Buffer.from('10')], ['99999999999']])
      expect(pushbackFrom(bad)).toBeUndefined();
  });

  it('RESOURCE_EXHAUSTED is "busy, retry later", never a stop', () => {
    expect(actionFor(Status.RESOURCE_EXHAUSTED, 'Lease')).toBe('retry');
    expect(actionFor(Status.RESOURCE_EXHAUSTED, 'Enroll')).toBe('retry');
    expect(actionFor(Status.RESOURCE_EXHAUSTED, 'Report')).toBe('retry');
  });
});

describe('a TLS verification failure', () => {
  it('stops the agent instead of retrying; other UNAVAILABLE answers are retried', () => {
    const tlsFailure =
      'No connection established. Last error: Error: self-signed certificate in certificate chain. Resolution note: ';
    expect(actionFor(Status.UNAVAILABLE, 'Heartbeat', tlsFailure)).toBe('stop');
    expect(actionFor(Status.UNAVAILABLE, 'Lease', "Error: Hostname/IP does not match certificate's altnames")).toBe(
      'stop',
    );
    expect(
      actionFor(Status.UNAVAILABLE, 'Heartbeat', 'No connection established. Last error: connect ECONNREFUSED'),
    ).toBe('retry');
    expect(actionFor(Status.UNAVAILABLE, 'Report')).toBe('retry');
  });
});
