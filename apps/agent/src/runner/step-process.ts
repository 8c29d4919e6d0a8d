import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import type { OutputStream } from './attempt-events';
import { ensureGroupGone, killGroupLeavesFirst, signalGroup } from './process-group';
import { forgetStep, recordStep } from './step-registry';

export type StepCommand = { kind: 'shell'; script: string } | { kind: 'argv'; args: string[] };

/** Lets the reporter slow a chatty step down (pausing its pipes) instead of buffering without bound. */
export interface OutputFlow {
  shouldPause(): boolean;
  onResume(resume: () => void): void;
}

export interface StepProcessOptions {
  command: StepCommand;
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** 0: no step timeout. */
  timeoutMs: number;
  /** TERM -> KILL delay. */
  killGraceMs: number;
  /** Aborted when the attempt stops (cancel, job timeout, shutdown): the step is terminated. */
  signal: AbortSignal;
  onOutput(stream: OutputStream, data: Buffer): void;
  flow?: OutputFlow;
  /** Where the step's process group is recorded while it runs (see step-registry.ts). */
  registryDir?: string;
  /** Run as this uid/gid (supplementary groups cleared); undefined: as the agent's own user. */
  user?: StepUser;
}

export interface StepUser {
  uid: number;
  gid: number;
  /**
   * setpriv(1), when the agent is not root but holds capabilities (systemd AmbientCapabilities=): a uid
   * change between non-root users keeps every capability, so setpriv changes the ids and clears the
   * inheritable and ambient sets before the step's program starts with none. Undefined (the agent is root):
   * spawn sets the ids itself, and leaving uid 0 clears all capabilities.
   */
  setpriv?: string;
}

/** The program and arguments that start `file args` as `user`. */
export function launch(file: string, args: string[], user: StepUser | undefined): [string, string[], object] {
  if (!user) return [file, args, {}];
  if (user.setpriv === undefined) return [file, args, { uid: user.uid, gid: user.gid }];
  const ids = ['--reuid', String(user.uid), '--regid', String(user.gid), '--clear-groups'];
  return [user.setpriv, [...ids, '--inh-caps=-all', '--ambient-caps=-all', '--', file, ...args], {}];
}

export interface StepProcessResult {
  /** How it ended: on its own, by the step timeout, by the attempt's signal, or never started. */
  ended: 'exited' | 'timed_out' | 'interrupted' | 'spawn_failed';
  /** The exit status; -1 when killed by a signal; 127 (126 for EACCES) when it could not start. */
  exitCode: number;
  signal: string;
  pid: number | undefined;
  /** False when some process of the group could not be killed (it escaped or is unkillable). */
  groupGone: boolean;
}

const OUTPUT_CLOSE_WAIT_MS = 2_000;

/** Runs one step as its own process group and resolves once nothing of the group is left. */
export async function runStepProcess(o: StepProcessOptions): Promise<StepProcessResult> {
  const [file, args] =
    o.command.kind === 'shell'
      ? ['/bin/sh', ['-c', o.command.script]]
      : [o.command.args[0] ?? '', o.command.args.slice(1)];
  let child: ChildProcess;
  try {
    // With uid/gid, libuv calls setgroups(0, NULL) before setgid/setuid: no supplementary group survives.
    const [program, argv, ids] = launch(file, args, o.user);
    child = spawn(program, argv, { cwd: o.cwd, env: o.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'], ...ids });
  } catch (err) {
    return spawnFailed(file, err, o);
  }
  if (child.pid === undefined) {
    const [err] = (await once(child, 'error')) as [unknown];
    return spawnFailed(file, err, o);
  }
  if (o.registryDir !== undefined) recordStep(o.registryDir, child.pid);
  const result = await new StepProcess(child, child.pid, o).wait();
  if (o.registryDir !== undefined && result.groupGone) forgetStep(o.registryDir, child.pid);
  return result;
}

function spawnFailed(file: string, err: unknown, o: StepProcessOptions): StepProcessResult {
  const code = (err as NodeJS.ErrnoException).code;
  const message = err instanceof Error ? err.message : String(err);
  o.onOutput('stderr', Buffer.from(`jr-agent: cannot start ${JSON.stringify(file)}: ${message}\n`));
  return {
    ended: 'spawn_failed',
    exitCode: code === 'EACCES' ? 126 : 127,
    signal: '',
    pid: undefined,
    groupGone: true,
  };
}

class StepProcess {
  private terminating: 'timed_out' | 'interrupted' | undefined;
  private graceTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly child: ChildProcess,
    private readonly pid: number,
    private readonly o: StepProcessOptions,
  ) {}

  async wait(): Promise<StepProcessResult> {
    const exited = once(this.child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    const output = this.pipeOutput();
    const stepTimer =
      this.o.timeoutMs > 0 ? setTimeout(() => this.terminate('timed_out'), this.o.timeoutMs) : undefined;
    const onAbort = (): void => this.terminate('interrupted');
    if (this.o.signal.aborted) onAbort();
    else this.o.signal.addEventListener('abort', onAbort, { once: true });
    const [code, signal] = await exited;
    clearTimeout(stepTimer);
    clearTimeout(this.graceTimer);
    this.o.signal.removeEventListener('abort', onAbort);
    // The leader is gone; whatever it left behind in its group must not outlive the step.
    if (signalGroup(this.pid, 0)) await killGroupLeavesFirst(this.pid, this.pid, 0);
    const groupGone = await ensureGroupGone(this.pid);
    await output;
    return {
      ended: this.terminating ?? 'exited',
      exitCode: code ?? -1,
      signal: signal ?? '',
      pid: this.pid,
      groupGone,
    };
  }

  /** TERM the group now, KILL it (leaves first) after the grace period. */
  private terminate(why: 'timed_out' | 'interrupted'): void {
    if (this.terminating) return;
    this.terminating = why;
    signalGroup(this.pid, 'SIGTERM');
    this.graceTimer = setTimeout(
      () => void killGroupLeavesFirst(this.pid, this.pid).catch(() => undefined),
      this.o.killGraceMs,
    );
  }

  /** Resolves when both pipes closed, or soon after exit if an escaped process still holds them. */
  private async pipeOutput(): Promise<void> {
    const streams: Array<[OutputStream, Readable]> = [
      ['stdout', this.child.stdout as Readable],
      ['stderr', this.child.stderr as Readable],
    ];
    for (const [name, stream] of streams) stream.on('data', (data: Buffer) => this.onData(name, data, streams));
    const closed = Promise.all(streams.map(([, s]) => once(s, 'close').catch(() => undefined)));
    await once(this.child, 'exit');
    // What is already in the pipes is the step's output: read it even if the reporter asked for a pause.
    for (const [, s] of streams) s.resume();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([closed, new Promise((r) => (timer = setTimeout(r, OUTPUT_CLOSE_WAIT_MS)))]);
    clearTimeout(timer);
    for (const [, s] of streams) s.destroy();
  }

  private onData(name: OutputStream, data: Buffer, streams: Array<[OutputStream, Readable]>): void {
    this.o.onOutput(name, data);
    const flow = this.o.flow;
    if (!flow?.shouldPause() || streams.every(([, s]) => s.isPaused())) return;
    for (const [, s] of streams) s.pause();
    flow.onResume(() => streams.forEach(([, s]) => s.resume()));
  }
}
