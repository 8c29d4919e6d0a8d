/**
 * The `jr` process (apps/cli/bin/jr.js requires this file): runs the program on process.argv and
 * exits with its code. Tests import `run` from ./program instead and never load this file.
 */
import { run } from './program';

process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  // `jr logs ID | head`: the reader went away; that is not our failure
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

function onInterrupt(handler: () => void): () => void {
  process.on('SIGINT', handler);
  return () => process.off('SIGINT', handler);
}

void run(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
  onInterrupt,
}).then((code) => {
  process.exitCode = code;
  // stdout and stderr are synchronous for files, pipes and TTYs on Linux; wait for them elsewhere
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
});

export { run };
