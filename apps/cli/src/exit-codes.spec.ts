import { EXIT, exitCodeForJob, exitCodeForStatus } from './exit-codes';

describe('exit codes', () => {
  it('map each terminal job state and reason to the contract outcome code', () => {
    expect(exitCodeForJob('succeeded', null)).toBe(0);
    expect(exitCodeForJob('failed', 'exit_code')).toBe(1);
    expect(exitCodeForJob('failed', 'download_failed')).toBe(1);
    expect(exitCodeForJob('failed', 'attempts_exhausted')).toBe(6);
    expect(exitCodeForJob('cancelled', 'cancelled')).toBe(2);
    expect(exitCodeForJob('timed_out', 'timeout')).toBe(3);
    for (const s of ['queued', 'leased', 'running'] as const) expect(exitCodeForJob(s, null)).toBeUndefined();
  });

  it.each([
    [400, EXIT.USAGE],
    [413, EXIT.USAGE],
    [415, EXIT.USAGE],
    [401, EXIT.AUTH_REFUSED],
    [403, EXIT.AUTH_REFUSED],
    [404, EXIT.UNKNOWN_ID],
    [409, EXIT.ALREADY_TERMINAL],
    [429, EXIT.UNREACHABLE],
    [502, EXIT.UNREACHABLE],
    [503, EXIT.UNREACHABLE],
    [504, EXIT.UNREACHABLE],
    [500, EXIT.BAD_ANSWER],
    [418, EXIT.USAGE],
  ])('maps HTTP %i to exit %i', (status, code) => {
    expect(exitCodeForStatus(status)).toBe(code);
  });

  it('keeps the numbers of the contract', () => {
    expect(EXIT).toMatchObject({
      OK: 0,
      FAILED: 1,
      CANCELLED: 2,
      TIMED_OUT: 3,
      UNKNOWN_ID: 4,
      ALREADY_TERMINAL: 5,
      GAVE_UP: 6,
      WAIT_TIMED_OUT: 7,
      USAGE: 64,
      UNREACHABLE: 69,
      AUTH_REFUSED: 77,
    });
  });
});
