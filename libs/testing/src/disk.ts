import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';

/**
 * Mounts a tmpfs of `size` (e.g. `64m`) on `dir` so a test can fill a real file system. Needs root;
 * false when mounting is not allowed here (callers fall back or skip, and say so).
 */
export function tryMountTmpfs(dir: string, size: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Lazy unmount; nothing when it is not mounted (any more). */
export function tryUnmount(dir: string): void {
  try {
    execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
  } catch {
    // not mounted (any more)
  }
}

/** Takes every free byte of the file system holding `file` (down to single bytes). */
export function fillDisk(file: string): void {
  const fd = fs.openSync(file, 'w');
  try {
    for (const size of [1 << 20, 65_536, 4_096, 512, 16, 1]) {
      const chunk = Buffer.alloc(size, 1);
      for (;;) {
        try {
          if (fs.writeSync(fd, chunk) < size) break;
        } catch {
          break;
        }
      }
    }
  } finally {
    fs.closeSync(fd);
  }
}
