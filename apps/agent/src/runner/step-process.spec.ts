import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { groupAlive } from './process-group';
import { processAlive, tempDir } from './runner.test-helper';
import { runStepProcess, type StepProcessOptions } from './step-process';

function collect(): { onOutput: StepProcessOptions['onOutput']; text(stream?: 'stdout' | 'stderr'): string } {
  const out = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
  return { onOutput: (s, d) => out[s].push(d), text: (s = 'stdout') => Buffer.concat(out[s]).toString('utf8') };
}

describe('runStepProcess (real child processes)', () => {
  let work: Awaited<ReturnType<typeof tempDir>>;
  beforeEach(async () => (work = await tempDir('step')));
  afterEach(() => work.remove());

  const base = (o: Partial<StepProcessOptions>): StepProcessOptions => ({
    command: { kind: 'shell', script: 'true' },
    cwd: work.dir,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    timeoutMs: 0,
    killGraceMs: 200,
    signal: new AbortController().signal,
    onOutput: () => undefined,
    ...o,
  });

  it('runs an argv step without a shell: $HOME stays literal', async () => {
    const out = collect();
    const r = await runStepProcess(
      base({ command: { kind: 'argv', args: ['/bin/echo', '$HOME', '`id`', 'a b'] }, onOutput: out.onOutput }),
    );
    expect(r).toMatchObject({ ended: 'exited', exitCode: 0, signal: '', groupGone: true });
    expect(out.text()).toBe('$HOME `id` a b\n');
  });

  it('runs a shell string with /bin/sh -c in the work directory, stdin closed', async () => {
    const out = collect();
    const r = await runStepProcess(
      base({
        command: { kind: 'shell', script: 'pwd; echo err >&2; read x || echo no-stdin; exit 3' },
        onOutput: out.onOutput,
      }),
    );
    expect(r).toMatchObject({ ended: 'exited', exitCode: 3 });
    expect(out.text()).toBe(`${work.dir}\nno-stdin\n`);
    expect(out.text('stderr')).toBe('err\n');
  });

  it('reports a missing program as exit 127 with a clear line on stderr', async () => {
    const out = collect();
    const r = await runStepProcess(
      base({ command: { kind: 'argv', args: ['/nonexistent/tool', 'x'] }, onOutput: out.onOutput }),
    );
    expect(r).toMatchObject({ ended: 'spawn_failed', exitCode: 127 });
    expect(out.text('stderr')).toMatch(/^jr-agent: cannot start "\/nonexistent\/tool": .*ENOENT/);
  });

  it('reports a non-executable program as exit 126', async () => {
    const r = await runStepProcess(base({ command: { kind: 'argv', args: [path.join(work.dir)] } }));
    expect(r.exitCode).toBe(126);
  });

  it('times out a tree whose grandchild ignores TERM and leaves no process of the group alive', async () => {
    const script = 'trap "" TERM; sleep 1000 & echo $! > grandchild.pid; wait';
    const r = await runStepProcess(base({ command: { kind: 'shell', script }, timeoutMs: 300, killGraceMs: 300 }));
    expect(r.ended).toBe('timed_out');
    expect(r.groupGone).toBe(true);
    const pgid = r.pid as number;
    expect(() => process.kill(-pgid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
    const grandchild = Number(await readFile(path.join(work.dir, 'grandchild.pid'), 'utf8'));
    expect(() => process.kill(grandchild, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
  });

  it('kills what a step left running in the background after it exited', async () => {
    const out = collect();
    const r = await runStepProcess(
      base({
        command: { kind: 'shell', script: '(trap "" TERM; exec sleep 1000) >/dev/null 2>&1 & echo $!' },
        onOutput: out.onOutput,
      }),
    );
    expect(r).toMatchObject({ ended: 'exited', exitCode: 0, groupGone: true });
    const orphan = Number(out.text().trim());
    // The orphan was re-parented away from the step; it may linger as a zombie if PID 1 never reaps.
    expect(processAlive(orphan)).toBe(false);
    expect(await groupAlive(r.pid as number)).toBe(false);
  });

  it('terminates the step when the attempt is cancelled, TERM first', async () => {
    const out = collect();
    const ac = new AbortController();
    const script = 'trap "echo got TERM; exit 7" TERM; echo started; while :; do sleep 0.05; done';
    const running = runStepProcess(
      base({ command: { kind: 'shell', script }, signal: ac.signal, onOutput: out.onOutput, killGraceMs: 5_000 }),
    );
    await waitForText(out, 'started');
    ac.abort({ outcome: 'cancelled', reason: 'cancelled' });
    const r = await running;
    expect(r).toMatchObject({ ended: 'interrupted', exitCode: 7, groupGone: true });
    expect(out.text()).toContain('got TERM');
  });

  it('KILLs after the grace period when TERM is ignored', async () => {
    const ac = new AbortController();
    const out = collect();
    const running = runStepProcess(
      base({
        command: { kind: 'shell', script: 'trap "" TERM; echo up; while :; do sleep 0.05; done' },
        signal: ac.signal,
        killGraceMs: 200,
        onOutput: out.onOutput,
      }),
    );
    await waitForText(out, 'up');
    ac.abort({ outcome: 'cancelled', reason: 'cancelled' });
    const r = await running;
    expect(r).toMatchObject({ ended: 'interrupted', exitCode: -1, signal: 'SIGKILL', groupGone: true });
  });

  it('kills a step at once when the attempt is already stopped', async () => {
    const ac = new AbortController();
    ac.abort({ outcome: 'cancelled', reason: 'cancelled' });
    const r = await runStepProcess(base({ command: { kind: 'shell', script: 'sleep 1000' }, signal: ac.signal }));
    expect(r.ended).toBe('interrupted');
  });

  it('pauses a chatty step while the reporter is behind and loses nothing', async () => {
    let paused = true;
    let resume: (() => void) | undefined;
    const chunks: Buffer[] = [];
    const running = runStepProcess(
      base({
        command: { kind: 'shell', script: 'head -c 1000000 /dev/zero' },
        onOutput: (_s, d) => chunks.push(d),
        flow: { shouldPause: () => paused, onResume: (r) => (resume = r) },
      }),
    );
    await new Promise((r) => setTimeout(r, 200));
    const whilePaused = chunks.reduce((n, c) => n + c.length, 0);
    expect(whilePaused).toBeLessThan(1_000_000);
    paused = false;
    resume?.();
    await running;
    expect(chunks.reduce((n, c) => n + c.length, 0)).toBe(1_000_000);
  });
});

async function waitForText(out: { text(): string }, text: string): Promise<void> {
  for (let i = 0; i < 200 && !out.text().includes(text); i++) await new Promise((r) => setTimeout(r, 25));
}
