import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

/** A point a job's shell script waits at until the test opens it. */
export interface Gate {
  /** A shell command that returns once the gate is open; it only reads (a job may run as another user). */
  readonly wait: string;
  open(): void;
}

let gateDir: string | undefined;
const STALE_MS = 60 * 60_000;

/**
 * One shared directory for gate files, readable by every user (a job may run as another one). A test process may
 * be killed before it could clean up, so each process removes the files older than an hour when it first needs one.
 */
function dir(): string {
  if (gateDir !== undefined) return gateDir;
  const d = path.join(tmpdir(), 'jr-test-gates');
  mkdirSync(d, { recursive: true, mode: 0o755 });
  for (const name of readdirSync(d)) {
    const file = path.join(d, name);
    const stale = statSync(file, { throwIfNoEntry: false });
    if (stale && Date.now() - stale.mtimeMs > STALE_MS) rmSync(file, { force: true });
  }
  return (gateDir = d);
}

/**
 * A gate for a job that must still be running when a test breaks something (a proxy, a dependency): a `sleep` in
 * the script races the test's own polling, which on a loaded machine can be late by more than the sleep.
 */
export function newGate(): Gate {
  const file = path.join(dir(), randomBytes(6).toString('hex'));
  return { wait: `until [ -e '${file}' ]; do sleep 0.05; done`, open: () => writeFileSync(file, '') };
}
