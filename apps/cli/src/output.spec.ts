import { age, between, clean, formatTable, timestamp } from './output';

describe('output helpers', () => {
  it('neutralises terminal escapes and control characters from the API', () => {
    expect(clean('evil\x1b]0;pwned\x07\r\nname')).toBe('evil?]0;pwned???name');
    expect(clean(null)).toBe('-');
    expect(clean('x'.repeat(100), 10)).toBe(`${'x'.repeat(9)}…`);
  });

  it('pads all but the last column', () => {
    expect(
      formatTable(
        ['ID', 'STATE'],
        [
          ['j_1', 'queued'],
          ['j_22', 'ok'],
        ],
      ),
    ).toBe('ID    STATE\nj_1   queued\nj_22  ok\n');
  });

  it('renders times and ages, tolerating garbage', () => {
    const now = Date.parse('2025-01-01T00:01:30Z');
    expect(age('2025-01-01T00:00:00Z', now)).toBe('1m30s ago');
    expect(age('not a date', now)).toBe('-');
    expect(between('2025-01-01T00:00:00Z', '2025-01-01T00:00:02.500Z')).toBe('2.5s');
    expect(between('2025-01-01T00:00:02Z', '2025-01-01T00:00:00Z')).toBe('-');
    expect(timestamp('2025-01-01T00:00:00.123Z')).toBe('2025-01-01T00:00:00Z');
    expect(timestamp(null)).toBe('-');
  });
});
