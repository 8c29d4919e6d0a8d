import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import * as path from 'node:path';
import { z } from 'zod';

/** What enrolling gave us, kept across restarts in $JR_DATA_DIR/credential.json (mode 0600). */
export interface StoredCredential {
  agentId: string;
  credential: string;
  apiAddress: string;
  enrolledAt: string;
  /** What the agent enrolled as; a change in config re-enrolls so the API learns it. */
  identity?: EnrolledIdentity;
}

export interface EnrolledIdentity {
  name: string;
  pool: string;
  labels: Record<string, string>;
  slots: number;
}

const credentialSchema = z.strictObject({
  agentId: z.string().min(1).max(200),
  credential: z
    .string()
    .min(1)
    .max(4096)
    .regex(/^[\x21-\x7e]+$/),
  apiAddress: z.string().max(4096),
  enrolledAt: z.string().max(64),
  identity: z
    .strictObject({
      name: z.string().max(200),
      pool: z.string().max(63),
      labels: z.record(z.string().max(63), z.string().max(63)),
      slots: z.number().int(),
    })
    .optional(),
});

export type LoadResult =
  { state: 'absent' } | { state: 'ok'; credential: StoredCredential } | { state: 'unreadable'; detail: string };

const MAX_FILE_BYTES = 64 * 1024;

export class CredentialStore {
  constructor(private readonly dataDir: string) {}

  get file(): string {
    return path.join(this.dataDir, 'credential.json');
  }

  async load(): Promise<LoadResult> {
    let text: string;
    try {
      const handle = await open(this.file, 'r');
      try {
        const buf = Buffer.alloc(MAX_FILE_BYTES + 1);
        const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
        if (bytesRead > MAX_FILE_BYTES) return { state: 'unreadable', detail: `larger than ${MAX_FILE_BYTES} bytes` };
        text = buf.subarray(0, bytesRead).toString('utf8');
      } finally {
        await handle.close();
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'absent' };
      return { state: 'unreadable', detail: (err as Error).message };
    }
    return parseCredential(text);
  }

  /** Atomic: write a temp file (0600), fsync it, rename it over the old one, fsync the directory. */
  async save(credential: StoredCredential): Promise<void> {
    await mkdir(this.dataDir, { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.tmp-${randomBytes(6).toString('hex')}`;
    try {
      const handle = await open(tmp, 'wx', 0o600);
      try {
        await handle.writeFile(`${JSON.stringify(credential, null, 2)}\n`);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, this.file);
      await fsyncDir(this.dataDir);
    } finally {
      await rm(tmp, { force: true });
    }
  }
}

function parseCredential(text: string): LoadResult {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { state: 'unreadable', detail: 'not JSON' };
  }
  const parsed = credentialSchema.safeParse(json);
  if (!parsed.success)
    return { state: 'unreadable', detail: parsed.error.issues.map((i) => i.path.join('.') || '(root)').join(', ') };
  return { state: 'ok', credential: parsed.data };
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
