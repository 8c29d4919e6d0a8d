import { colorEnabled, colorsFor } from './colors';

describe('colours', () => {
  const tty = { isTTY: true, write: () => true };
  const pipe = { write: () => true };

  it('on for a terminal only; NO_COLOR (non-empty) and TERM=dumb turn them off; FORCE_COLOR wins', () => {
    expect(colorEnabled(tty, {})).toBe(true);
    expect(colorEnabled(pipe, {})).toBe(false);
    expect(colorEnabled(tty, { NO_COLOR: '1' })).toBe(false);
    expect(colorEnabled(tty, { NO_COLOR: '' })).toBe(true); // no-color.org: present and not empty
    expect(colorEnabled(tty, { TERM: 'dumb' })).toBe(false);
    expect(colorEnabled(pipe, { FORCE_COLOR: '1' })).toBe(true);
    expect(colorEnabled(pipe, { FORCE_COLOR: '' })).toBe(true);
    expect(colorEnabled(tty, { FORCE_COLOR: '0' })).toBe(false);
    expect(colorEnabled(tty, { FORCE_COLOR: 'false', NO_COLOR: '1' })).toBe(false);
    expect(colorEnabled(pipe, { FORCE_COLOR: '1', NO_COLOR: '1' })).toBe(true);
  });

  it('colours known states and leaves unknown ones (from a newer API, or hostile) plain', () => {
    const c = colorsFor(tty, {});
    expect(c.state('failed (exit_code)', 'failed')).toBe('\x1b[31mfailed (exit_code)\x1b[0m');
    expect(c.state('paused', 'paused')).toBe('paused');
    expect(c.state('x', '__proto__')).toBe('x');
    expect(c.state('x', 'constructor')).toBe('x');
    expect(colorsFor(pipe, {}).state('failed', 'failed')).toBe('failed');
  });
});
