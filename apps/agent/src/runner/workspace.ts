import { chmod, chown, lstat, mkdir, rm, stat } from 'node:fs/promises';
import * as path from 'node:path';
import type { JobUser } from './job-users';

/**
 * An attempt's private directory under JR_WORK_DIR, owned by its job user and 0700 (no other job
 * can look in): `work/` (the steps' cwd and HOME), `tmp/` (TMPDIR), `artifacts/` (JR_ARTIFACTS_DIR).
 * JR_WORK_DIR itself is 0711 and owned by the agent: job users can reach their own directory only.
 * Removed when the attempt ends.
 */
export class Workspace {
  private constructor(readonly dir: string) {}

  get work(): string {
    return path.join(this.dir, 'work');
  }
  get tmp(): string {
    return path.join(this.dir, 'tmp');
  }
  get artifacts(): string {
    return path.join(this.dir, 'artifacts');
  }

  static async create(root: string, id: string, user: JobUser | undefined): Promise<Workspace> {
    await prepareWorkRoot(root);
    const ws = new Workspace(path.join(root, id));
    await rm(ws.dir, { recursive: true, force: true });
    for (const dir of [ws.dir, ws.work, ws.tmp, ws.artifacts]) {
      await mkdir(dir, { mode: 0o700 });
      if (user) await chown(dir, user.uid, user.gid);
    }
    return ws;
  }

  remove(): Promise<void> {
    return rm(this.dir, { recursive: true, force: true, maxRetries: 2 });
  }
}

/** JR_WORK_DIR exists, is a real directory and is 0711 (listing it would show other jobs' ids). */
export async function prepareWorkRoot(root: string): Promise<void> {
  await mkdir(root, { recursive: true, mode: 0o711 });
  const s = await lstat(root);
  if (!s.isDirectory()) throw new Error(`JR_WORK_DIR ${root} is not a directory`);
  if ((s.mode & 0o777) !== 0o711) await chmod(root, 0o711);
}

/**
 * Why `user` cannot reach `root` (a directory on the way it may not search), or undefined. Checked at
 * start-up so a wrong JR_WORK_DIR fails the agent once, not every job.
 */
export async function unreachableBy(root: string, user: JobUser): Promise<string | undefined> {
  if (user.uid === 0) return undefined;
  for (let dir = path.dirname(root); ; dir = path.dirname(dir)) {
    const s = await stat(dir);
    const bits = s.uid === user.uid ? 0o100 : s.gid === user.gid ? 0o010 : 0o001;
    if ((s.mode & bits) === 0)
      return `${dir} (mode ${(s.mode & 0o777).toString(8).padStart(4, '0')}) keeps ${user.name} out of JR_WORK_DIR ${root}`;
    if (dir === path.dirname(dir)) return undefined;
  }
}
