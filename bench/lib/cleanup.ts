/**
 * What must be undone if the run is interrupted (Ctrl-C, SIGTERM) in the middle of a section: its
 * stack (processes, database, key prefix), helper processes, scratch directories. A section's own
 * `finally` does this on every normal path; these hooks cover the signal, which skips `finally`.
 */
const hooks = new Set<() => Promise<void> | void>();

/** Registers `undo` until the returned function is called. */
export function onInterrupt(undo: () => Promise<void> | void): () => void {
  hooks.add(undo);
  return () => void hooks.delete(undo);
}

/** On SIGINT/SIGTERM: runs every registered hook, then exits 130. */
export function installInterruptCleanup(log: (line: string) => void): void {
  const handler = (signal: NodeJS.Signals): void => {
    log(`${signal}: cleaning up ${hooks.size} item(s) before exiting`);
    void Promise.allSettled([...hooks].map(async (undo) => undo())).then(() => process.exit(130));
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
}
