import * as path from 'node:path';
import { z } from 'zod';
import { readSmallFile, removeDurable, writeFileAtomic } from '../state/durable-file';

/** Why and since when reporting is suspended (the breaker opened). */
export interface Suspension {
  since: string;
  reason: string;
}

/** Where the "reporting suspended" flag lives; the breaker's own state is never persisted. */
export interface SuspendedFlagStore {
  /** The suspension, if any; an unreadable flag counts as suspended (we cannot tell it was lifted). */
  read(): Promise<Suspension | undefined>;
  write(suspension: Suspension | undefined): Promise<void>;
}

const schema = z.strictObject({ since: z.string().max(64), reason: z.string().max(1_000) });

/** `$JR_DATA_DIR/reporting-suspended.json` (0600): present while reporting is suspended. */
export class FileSuspendedFlag implements SuspendedFlagStore {
  constructor(private readonly dataDir: string) {}

  get file(): string {
    return path.join(this.dataDir, 'reporting-suspended.json');
  }

  async read(): Promise<Suspension | undefined> {
    let buf: Buffer | undefined;
    try {
      buf = await readSmallFile(this.file, 4_096);
    } catch (err) {
      return { since: new Date(0).toISOString(), reason: `flag file unreadable: ${(err as Error).message}` };
    }
    if (buf === undefined) return undefined;
    try {
      return schema.parse(JSON.parse(buf.toString('utf8')));
    } catch {
      return { since: new Date(0).toISOString(), reason: 'flag file unreadable' };
    }
  }

  async write(suspension: Suspension | undefined): Promise<void> {
    if (suspension === undefined) await removeDurable(this.file);
    else await writeFileAtomic(this.file, `${JSON.stringify(suspension)}\n`, 0o600);
  }
}
