import { createHash, randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { copyFile, mkdir, open, rename, rm, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { Backoff, sleep } from '@jr/resilience';

export interface Artifact {
  url: string;
  sha256: string;
}

/** Why an artifact could not be provided; the attempt fails with this reason and is not retried here. */
export class DownloadError extends Error {
  override readonly name = 'DownloadError';
  constructor(
    readonly reason: 'download_failed' | 'checksum_mismatch',
    message: string,
  ) {
    super(message);
  }
}

export interface ArtifactCacheOptions {
  cacheDir: string;
  tries?: number;
  /** A try is abandoned when no byte arrived for this long (headers included). */
  idleTimeoutMs?: number;
  maxBytes?: number;
  backoff?: Backoff;
}

const SHA256_RE = /^[a-f0-9]{64}$/;

/**
 * Downloads `uses` artifacts once into `<cacheDir>/<sha256>` (verified, written to a temp file and
 * renamed into place, so a cache entry is always complete and correct) and copies them into each
 * attempt's artifacts directory under the URL's basename. Copies, not symlinks: a job must not be
 * able to change the cache through its own files.
 */
export class ArtifactCache {
  private readonly inflight = new Map<string, Promise<string>>();
  private readonly tries: number;
  private readonly idleTimeoutMs: number;
  private readonly maxBytes: number;
  private readonly backoff: () => Backoff;

  constructor(private readonly o: ArtifactCacheOptions) {
    this.tries = o.tries ?? 3;
    this.idleTimeoutMs = o.idleTimeoutMs ?? 30_000;
    this.maxBytes = o.maxBytes ?? 2 * 1024 ** 3;
    this.backoff = () => o.backoff ?? new Backoff({ initialMs: 500, maxMs: 5_000 });
  }

  /** Provides every artifact in `dir`; rejects with DownloadError (or the signal's reason). */
  async materialize(uses: Artifact[], dir: string, signal: AbortSignal): Promise<void> {
    await mkdir(dir, { recursive: true });
    const taken = new Map<string, string>();
    for (const a of uses) {
      const cached = await this.get(a, signal);
      const name = fileNameFor(a, taken);
      if (name === undefined) continue;
      await copyFile(cached, path.join(dir, name), fsConstants.COPYFILE_FICLONE);
    }
  }

  /** The verified cache path of one artifact, downloading it at most once at a time. */
  async get(a: Artifact, signal: AbortSignal): Promise<string> {
    if (!SHA256_RE.test(a.sha256)) throw new DownloadError('download_failed', `invalid sha256 for ${a.url}`);
    const target = path.join(this.o.cacheDir, a.sha256);
    if (await isFile(target)) return target;
    let pending = this.inflight.get(a.sha256);
    if (!pending) {
      pending = this.download(a, target, signal).finally(() => this.inflight.delete(a.sha256));
      this.inflight.set(a.sha256, pending);
    }
    return pending;
  }

  private async download(a: Artifact, target: string, signal: AbortSignal): Promise<string> {
    await mkdir(this.o.cacheDir, { recursive: true });
    const backoff = this.backoff();
    for (let attempt = 1; ; attempt++) {
      try {
        await this.fetchTo(a, target, signal);
        return target;
      } catch (err) {
        if (signal.aborted) throw signal.reason;
        if (!(err instanceof RetryableDownload) || attempt >= this.tries) throw asDownloadError(a, err, attempt);
        await sleep(backoff.next(), signal);
      }
    }
  }

  private async fetchTo(a: Artifact, target: string, signal: AbortSignal): Promise<void> {
    const idle = new IdleTimer(this.idleTimeoutMs);
    const tmp = `${target}.tmp-${randomBytes(6).toString('hex')}`;
    try {
      const res = await fetch(a.url, { signal: AbortSignal.any([signal, idle.signal]), redirect: 'follow' }).catch((err: unknown) => {
        throw new RetryableDownload(idle.signal.aborted ? 'no answer in time' : describe(err));
      });
      if (!res.ok) {
        await res.body?.cancel().catch(() => undefined);
        const message = `HTTP ${res.status}`;
        throw res.status >= 500 || res.status === 429 || res.status === 408 ? new RetryableDownload(message) : new DownloadError('download_failed', message);
      }
      const digest = await this.writeBody(res, tmp, idle);
      if (digest !== a.sha256) {
        throw new DownloadError('checksum_mismatch', `checksum mismatch for ${a.url}: expected sha256 ${a.sha256}, got ${digest}`);
      }
      await rename(tmp, target);
    } finally {
      idle.stop();
      await rm(tmp, { force: true });
    }
  }

  private async writeBody(res: Response, tmp: string, idle: IdleTimer): Promise<string> {
    const hash = createHash('sha256');
    const file = await open(tmp, 'w', 0o644);
    let total = 0;
    try {
      if (res.body) {
        for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
          idle.touch();
          total += chunk.length;
          if (total > this.maxBytes) throw new DownloadError('download_failed', `larger than ${this.maxBytes} bytes`);
          hash.update(chunk);
          await file.write(chunk);
        }
      }
      await file.sync();
    } catch (err) {
      if (err instanceof DownloadError) throw err;
      throw new RetryableDownload(idle.signal.aborted ? 'stalled' : describe(err));
    } finally {
      await file.close();
    }
    return hash.digest('hex');
  }
}

class RetryableDownload extends Error {
  override readonly name = 'RetryableDownload';
}

/** Aborts when `touch()` was not called for `ms`. */
class IdleTimer {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout;
  constructor(ms: number) {
    this.timer = setTimeout(() => this.controller.abort(new Error('idle')), ms);
  }
  get signal(): AbortSignal {
    return this.controller.signal;
  }
  touch(): void {
    this.timer.refresh();
  }
  stop(): void {
    clearTimeout(this.timer);
  }
}

function asDownloadError(a: Artifact, err: unknown, tries: number): Error {
  if (err instanceof DownloadError) return new DownloadError(err.reason, err.reason === 'checksum_mismatch' ? err.message : `cannot download ${a.url}: ${err.message}`);
  return new DownloadError('download_failed', `cannot download ${a.url} after ${tries} tries: ${describe(err)}`);
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  return cause instanceof Error ? `${err.message} (${cause.message})` : err.message;
}

async function isFile(p: string): Promise<boolean> {
  return stat(p).then((s) => s.isFile(), () => false);
}

/**
 * The URL's basename when it is a safe file name, else the sha256; a second artifact with the same
 * name gets a sha-prefixed one. Undefined when the same content is already there under that name.
 */
export function fileNameFor(a: Artifact, taken: Map<string, string>): string | undefined {
  let name = a.sha256;
  try {
    const base = decodeURIComponent(path.posix.basename(new URL(a.url).pathname));
    if (/^[^/\\\0]{1,200}$/.test(base) && base !== '.' && base !== '..') name = base;
  } catch {
    // keep the sha256
  }
  const holder = taken.get(name);
  if (holder === a.sha256) return undefined;
  if (holder !== undefined) name = `${a.sha256.slice(0, 12)}-${name}`;
  if (taken.get(name) === a.sha256) return undefined;
  taken.set(name, a.sha256);
  return name;
}
