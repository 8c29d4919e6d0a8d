import { execFile } from 'node:child_process';
import { accessSync, constants as fsConstants } from 'node:fs';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { Logger } from 'pino';
import type { JobUserSpec } from '../config/isolation-config';
import { AgentStopError } from '../errors';

/** Who a step runs as. */
export interface JobUser {
  name: string;
  uid: number;
  gid: number;
  /** setpriv(1) to start steps with (a non-root agent with capabilities: see step-process.ts). */
  setpriv?: string;
}

/** What the agent itself is: its uid and effective capabilities (a bit mask, /proc/self/status CapEff). */
export interface AgentIdentity {
  uid: number;
  capEff: bigint;
}

/**
 * Capabilities a non-root agent needs to run steps as other users: become them (SETUID, SETGID), signal
 * their process groups (KILL), hand them their workspace and remove it afterwards (CHOWN, DAC_OVERRIDE, FOWNER).
 */
export const JOB_USER_CAPS: ReadonlyArray<[string, number]> = [
  ['CAP_CHOWN', 0],
  ['CAP_DAC_OVERRIDE', 1],
  ['CAP_FOWNER', 3],
  ['CAP_KILL', 5],
  ['CAP_SETGID', 6],
  ['CAP_SETUID', 7],
];

/** setpriv(1) in PATH, or undefined. */
export function findSetpriv(pathVar: string | undefined): string | undefined {
  for (const dir of (pathVar ?? '/usr/bin:/bin').split(':').filter((d) => d.startsWith('/'))) {
    const file = path.join(dir, 'setpriv');
    try {
      accessSync(file, fsConstants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

export async function agentIdentity(): Promise<AgentIdentity> {
  const status = await readFile('/proc/self/status', 'utf8').catch(() => '');
  const hex = /^CapEff:\s*([0-9a-f]+)$/im.exec(status)?.[1];
  return { uid: process.getuid?.() ?? -1, capEff: hex === undefined ? 0n : BigInt(`0x${hex}`) };
}

/** One passwd line (name:x:uid:gid:…) for a name or uid, from NSS (getent), else /etc/passwd. */
async function passwdEntry(key: string): Promise<string[] | undefined> {
  const line = await new Promise<string | undefined | null>((resolve) => {
    execFile('getent', ['passwd', key], { timeout: 10_000 }, (err, stdout) => {
      if (!err) resolve(stdout.split('\n')[0]);
      else resolve((err as NodeJS.ErrnoException).code === 'ENOENT' ? null : undefined);
    });
  });
  if (line === null) {
    const text = await readFile('/etc/passwd', 'utf8').catch(() => '');
    const rows = text.split('\n').map((l) => l.split(':'));
    return rows.find((r) => (/^\d+$/.test(key) ? r[2] === key : r[0] === key));
  }
  return line ? line.split(':') : undefined;
}

/** Resolves JR_JOB_USER(S) once at start-up; an unknown name stops the agent (exit 78). */
export async function resolveJobUsers(specs: readonly JobUserSpec[]): Promise<JobUser[]> {
  const out: JobUser[] = [];
  for (const spec of specs) {
    const entry = await passwdEntry(spec.kind === 'name' ? spec.name : String(spec.uid));
    if (spec.kind === 'name') {
      if (!entry || !/^\d+$/.test(entry[2] ?? '') || !/^\d+$/.test(entry[3] ?? ''))
        throw new AgentStopError('job_user_unusable', `JR_JOB_USER(S): no user named ${JSON.stringify(spec.name)}`);
      out.push({ name: spec.name, uid: Number(entry[2]), gid: Number(entry[3]) });
    } else {
      const gid = spec.gid ?? (entry ? Number(entry[3]) : spec.uid);
      out.push({ name: entry?.[0] ?? String(spec.uid), uid: spec.uid, gid });
    }
  }
  return out;
}

function missingCaps(capEff: bigint): string[] {
  return JOB_USER_CAPS.filter(([, bit]) => (capEff & (1n << BigInt(bit))) === 0n).map(([name]) => name);
}

/**
 * The start-up check: steps never run as root unless JR_ALLOW_ROOT_JOBS=1, and a non-root agent that
 * has job users holds the capabilities to run as them. Throws AgentStopError (exit 78); warns otherwise.
 */
export function checkJobIsolation(
  users: readonly JobUser[],
  self: AgentIdentity,
  allowRoot: boolean,
  logger: Logger,
  setpriv: string | undefined,
): void {
  const rootly = users.filter((u) => u.uid === 0 || u.gid === 0);
  const asRoot = (users.length === 0 && self.uid === 0) || rootly.length > 0;
  if (asRoot && !allowRoot) {
    const why =
      users.length === 0
        ? 'the agent runs as root and JR_JOB_USER is not set'
        : `JR_JOB_USER(S) ${rootly.map((u) => u.name).join(', ')} ${rootly.length > 1 ? 'are' : 'is'} uid or gid 0`;
    throw new AgentStopError(
      'root_jobs_refused',
      `refusing to run job steps as root (${why}): set JR_JOB_USER or JR_JOB_USERS to unprivileged users, or JR_ALLOW_ROOT_JOBS=1 to accept root jobs`,
    );
  }
  if (asRoot)
    logger.warn('JR_ALLOW_ROOT_JOBS=1: job steps run as root; they can read the agent credential and every other job');
  const others = users.filter((u) => u.uid !== self.uid);
  if (self.uid !== 0 && others.length > 0) {
    const missing = missingCaps(self.capEff);
    if (missing.length > 0)
      throw new AgentStopError(
        'job_user_unusable',
        `JR_JOB_USER(S) needs root or ${missing.join(', ')} (e.g. systemd AmbientCapabilities=) to run steps as ${others[0]?.name}`,
      );
  }
  if (self.uid !== 0 && others.length > 0 && setpriv === undefined)
    throw new AgentStopError(
      'job_user_unusable',
      'JR_JOB_USER(S) under a non-root agent needs setpriv(1) (util-linux) in PATH to start steps without its capabilities',
    );
  if (users.length === 0 && self.uid !== 0)
    logger.warn(
      { uid: self.uid },
      "job steps run as the agent's own user: they can read its data directory; set JR_JOB_USER to isolate them",
    );
  else if (users.some((u) => u.uid === self.uid && u.uid !== 0))
    logger.warn({ uid: self.uid }, "a job user is the agent's own user: its jobs can read the agent's data directory");
}

/**
 * Hands each running attempt a job user: a free one while there is one (JR_JOB_USERS: one per slot,
 * so no two jobs share a uid and none can read another's /proc/PID/environ), else the least busy.
 */
export class JobUserPool {
  private readonly busy: number[];

  constructor(private readonly users: readonly JobUser[]) {
    this.busy = users.map(() => 0);
  }

  /** Undefined user: steps run as the agent's own. `release` gives the user back (once). */
  acquire(): { user: JobUser | undefined; shared: boolean; release(): void } {
    if (this.users.length === 0) return { user: undefined, shared: false, release: () => undefined };
    let best = 0;
    for (let i = 1; i < this.busy.length; i++) if ((this.busy[i] as number) < (this.busy[best] as number)) best = i;
    const shared = (this.busy[best] as number) > 0 && this.users.length > 1;
    this.busy[best] = (this.busy[best] as number) + 1;
    let released = false;
    return {
      user: this.users[best],
      shared,
      release: () => {
        if (released) return;
        released = true;
        this.busy[best] = (this.busy[best] as number) - 1;
      },
    };
  }
}
