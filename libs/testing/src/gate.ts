import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

/** A point a job's shell script waits at until the test opens it. */
export interface Gate {
  /** A shell command that returns once the gate is open (and removes the gate's file). */
  readonly wait: string;
  open(): Promise<void>;
}

/**
 * A gate for a job that must still be running when a test breaks something (a proxy, a dependency): a `sleep` in
 * the script races the test's own polling, which on a loaded machine can be late by more than the sleep.
 */
export function newGate(): Gate {
  const file = path.join(tmpdir(), `jr-gate-${randomBytes(6).toString('hex')}`);
  return { wait: `until [ -e '${file}' ]; do sleep 0.05; done; rm -f '${file}'`, open: () => writeFile(file, '') };
}
