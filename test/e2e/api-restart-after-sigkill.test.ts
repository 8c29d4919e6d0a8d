import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { readProcStat } from '@jr/journal';
import { API_MAIN, ManagedProcess, Stack, waitFor, waitForHttp } from '@jr/testing';

// Found where PID 1 reaps orphans late (and in containers without an init): a jr-api SIGKILLed and
// restarted at once on the same JR_DATA_DIR refused to start, "JR_DATA_DIR … is in use by jr-api pid N",
// N being the killed process, dead but not reaped yet (kill(N, 0) succeeds on a zombie).
it('a jr-api SIGKILLed and restarted at once on the same JR_DATA_DIR starts, though the killed one is not reaped yet', async () => {
  const stack = await new Stack('1s').start();
  // The first jr-api is started under a parent that never waits for it (`sh` exec'ing `sleep`): once
  // SIGKILLed it stays a zombie for as long as that parent lives, like an orphan under a late-reaping PID 1.
  const env = stack.api.env;
  await stack.api.stop();
  const logFile = path.join(stack.dir, 'api-unreaped.log');
  const parent = spawn(
    '/bin/sh',
    ['-c', '"$0" "$1" >>"$2" 2>&1 & echo $!; exec sleep 300', process.execPath, API_MAIN, logFile],
    { env, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  try {
    const pid = await new Promise<number>((resolve) =>
      parent.stdout.setEncoding('utf8').once('data', (d: string) => resolve(Number(d.trim()))),
    );
    await waitFor(async () => (await stack.fetch('/readyz').catch(() => undefined))?.status === 200, {
      timeoutMs: 30_000,
      what: 'the first jr-api',
    });
    const accepted = await stack.cli(['submit', '--json', '--', 'true']);
    expect(accepted.code).toBe(0);
    const { id } = JSON.parse(accepted.stdout) as { id: string };

    process.kill(pid, 'SIGKILL');
    await waitFor(() => readProcStat(pid)?.state === 'Z', {
      timeoutMs: 10_000,
      intervalMs: 10,
      what: `jr-api ${pid} to be a zombie`,
    });
    expect(() => process.kill(pid, 0)).not.toThrow(); // what the lock used to take for a live owner

    stack.api = new ManagedProcess('api', API_MAIN, env, path.join(stack.dir, 'api.log'));
    await waitForHttp(`${stack.baseUrl}/readyz`, stack.api, 30_000, () => stack.caPem);
    expect(readProcStat(pid)?.state).toBe('Z'); // the killed one was still unreaped while the new one started
    expect(stack.api.log()).not.toContain('is in use by jr-api');
    expect((await stack.job(id)).id).toBe(id);
  } finally {
    parent.kill('SIGKILL');
    await stack.close();
  }
});
