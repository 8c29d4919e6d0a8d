import type { OutStream } from './output';

/** Colours for states in human output; `enabled` false makes every method return its text unchanged. */
export interface Colors {
  enabled: boolean;
  /** `text` in the colour of `state` (a job, attempt, step or agent state; unknown states stay plain). */
  state(text: string, state: string): string;
}

const SGR = new Map<string, number>(
  Object.entries({
    succeeded: 32,
    active: 32,
    failed: 31,
    timed_out: 31,
    lost: 31,
    cancelled: 33,
    stale: 33,
    draining: 33,
    running: 36,
    leased: 36,
    queued: 34,
    pending: 2,
    skipped: 2,
  }),
);

/**
 * Colour on when stdout is a terminal (not TERM=dumb) and NO_COLOR is unset or empty (no-color.org).
 * FORCE_COLOR, as in Node itself, overrides both: 1/2/3/true (or empty) forces colour on, 0/false off.
 */
export function colorEnabled(stdout: OutStream, env: Record<string, string | undefined>): boolean {
  const force = env.FORCE_COLOR;
  if (force !== undefined) return !['0', 'false'].includes(force.trim().toLowerCase());
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  return stdout.isTTY === true && env.TERM !== 'dumb';
}

export function colorsFor(stdout: OutStream, env: Record<string, string | undefined>): Colors {
  const enabled = colorEnabled(stdout, env);
  return {
    enabled,
    state: (text, state) => {
      const code = enabled ? SGR.get(state) : undefined;
      return code === undefined ? text : `\x1b[${code}m${text}\x1b[0m`;
    },
  };
}
