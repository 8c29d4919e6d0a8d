import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, chown, mkdir, open, rename, rm, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { Backoff, sleep } from '@jr/resilience';
import { STRICT_URL_POLICY, UrlRefusedError, type ArtifactUrlPolicy } from './artifact-url-policy';
import { guardedFetch } from './guarded-fetch';

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
  /** Which URLs and addresses downloads may reach (default: https to public addresses only). */
  urlPolicy?: ArtifactUrlPolicy;
  /** A cache entry failed its re-hash: it was removed and is downloaded again. */
  onEvict?(sha256: string, actual: string): void;
}

/** Who an attempt's copies belong to (the job user); undefined: the agent's own user. */
export interface CopyOwner {
  uid: number;
  gid: number;
}

const SHA256_RE = /^[a-f0-9]{64}$/;

/**
 * Downloads `uses` artifacts once into `<cacheDir>/<sha256>` (verified, written to
 * `<sha256>.partial` and renamed into place, so a cache entry is always complete and correct) and
 * copies them into each attempt's artifacts directory under the URL's basename. Copies, not
 * symlinks: a job must not be able to change the cache through its own files. The cache sits in the
 * data directory (jobs cannot enter it), its files are 0444, and every hit is hashed again while it
 * is copied: a copy that does not match evicts the entry, which is downloaded again.
 *
 * A try that fails part-way leaves its bytes in the partial file; the next try (or the next agent
 * start) resumes with `Range` (and `If-Range` when the server gave an ETag or Last-Modified), or
 * restarts when the server answers 200. The sha256 is checked over the whole file either way; a
 * mismatch after resuming restarts from scratch once before it counts as a checksum failure.
 */
export class ArtifactCache {
  private readonly inflight = new Map<string, Promise<string>>();
  /** ETag or Last-Modified of the answer a partial file came from, for If-Range. */
  private readonly validators = new Map<string, string>();
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

  /** Provides every artifact in `dir` (owned by `owner`); rejects with DownloadError (or the signal's reason). */
  async materialize(uses: Artifact[], dir: string, signal: AbortSignal, owner?: CopyOwner): Promise<void> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const taken = new Map<string, string>();
    for (const a of uses) {
      const name = fileNameFor(a, taken);
      if (name === undefined) continue;
      await this.copyVerified(a, path.join(dir, name), signal, owner);
    }
  }

  /** Copies the cache entry to `dest`, hashing what it copies; a mismatch evicts the entry and fetches it again once. */
  private async copyVerified(a: Artifact, dest: string, signal: AbortSignal, owner?: CopyOwner): Promise<void> {
    for (let round = 1; ; round++) {
      const cached = await this.get(a, signal);
      const actual = await copyHashing(cached, dest);
      if (actual === a.sha256) break;
      await rm(dest, { force: true });
      await rm(cached, { force: true });
      this.o.onEvict?.(a.sha256, actual);
      if (round >= 2)
        throw new DownloadError('checksum_mismatch', `the cached ${a.url} changed again after downloading it afresh`);
    }
    if (owner) await chown(dest, owner.uid, owner.gid);
    await chmod(dest, 0o444);
  }

  /** The cache path of one artifact (verified when downloaded), downloading it at most once at a time. */
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
    await mkdir(this.o.cacheDir, { recursive: true, mode: 0o700 });
    const backoff = this.backoff();
    const partial = `${target}.partial`;
    // Tries without progress count; one that added bytes to the partial file starts the count over.
    for (let attempt = 1, tries = 1; ; attempt++, tries++) {
      const before = await sizeOf(partial);
      try {
        await this.fetchTo(a, target, partial, signal);
        return target;
      } catch (err) {
        if (signal.aborted) throw signal.reason;
        if (err instanceof RetryableDownload && (await sizeOf(partial)) > before) tries = 0;
        if (!(err instanceof RetryableDownload) || tries >= this.tries) {
          await rm(partial, { force: true });
          throw asDownloadError(a, err, attempt);
        }
        await sleep(backoff.next(), signal);
      }
    }
  }

  /** One try: resumes `partial` when it has bytes, verifies the whole, renames it to `target`. */
  private async fetchTo(a: Artifact, target: string, partial: string, signal: AbortSignal): Promise<void> {
    const idle = new IdleTimer(this.idleTimeoutMs);
    try {
      const have = await sizeOf(partial);
      const headers: Record<string, string> = {};
      const validator = this.validators.get(a.sha256);
      if (have > 0) headers.range = `bytes=${have}-`;
      if (have > 0 && validator) headers['if-range'] = validator;
      const res = await guardedFetch(
        a.url,
        { signal: AbortSignal.any([signal, idle.signal]), headers },
        this.o.urlPolicy ?? STRICT_URL_POLICY,
      ).catch((err: unknown) => {
        if (err instanceof UrlRefusedError) throw new DownloadError('download_failed', err.message);
        throw new RetryableDownload(idle.signal.aborted ? 'no answer in time' : describe(err));
      });
      const from = await this.resumeOffset(res, have, partial);
      const v = res.headers.get('etag') ?? res.headers.get('last-modified');
      if (v && from === 0) this.validators.set(a.sha256, v);
      const hash = createHash('sha256');
      if (from > 0) await hashFile(partial, hash);
      await this.writeBody(res, partial, from, hash, idle);
      const digest = hash.digest('hex');
      if (digest !== a.sha256) {
        await rm(partial, { force: true });
        if (from > 0) throw new RetryableDownload(`checksum mismatch after resuming at byte ${from}; starting over`);
        throw new DownloadError(
          'checksum_mismatch',
          `checksum mismatch for ${a.url}: expected sha256 ${a.sha256}, got ${digest}`,
        );
      }
      await chmod(partial, 0o444);
      await rename(partial, target);
    } finally {
      idle.stop();
    }
  }

  /** Where the body goes in the partial file: `have` for a matching 206, 0 for a fresh 200. Throws otherwise. */
  private async resumeOffset(res: Response, have: number, partial: string): Promise<number> {
    if (res.status === 206 && have > 0 && contentRangeStart(res.headers.get('content-range')) === have) return have;
    if (res.ok && res.status !== 206) return 0;
    await res.body?.cancel().catch(() => undefined);
    if (res.status === 206 || res.status === 416) {
      // A range we did not ask for, or one the server cannot serve (the partial is stale): start over.
      await rm(partial, { force: true });
      throw new RetryableDownload(`HTTP ${res.status} to a resume request; starting over`);
    }
    const message = `HTTP ${res.status}`;
    throw res.status >= 500 || res.status === 429 || res.status === 408
      ? new RetryableDownload(message)
      : new DownloadError('download_failed', message);
  }

  private async writeBody(res: Response, file: string, from: number, hash: Hash, idle: IdleTimer): Promise<void> {
    const handle = await open(file, from > 0 ? 'r+' : 'w', 0o644);
    let total = from;
    let position = from;
    try {
      if (from === 0) await handle.truncate(0);
      if (res.body) {
        for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
          idle.touch();
          total += chunk.length;
          if (total > this.maxBytes) throw new DownloadError('download_failed', `larger than ${this.maxBytes} bytes`);
          hash.update(chunk);
          const { bytesWritten } = await handle.write(chunk, 0, chunk.length, position);
          position += bytesWritten;
        }
      }
      await handle.truncate(position);
      await handle.sync();
    } catch (err) {
      if (err instanceof DownloadError) throw err;
      throw new RetryableDownload(idle.signal.aborted ? 'stalled' : describe(err));
    } finally {
      await handle.close();
    }
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
  if (err instanceof DownloadError)
    return new DownloadError(
      err.reason,
      err.reason === 'checksum_mismatch' ? err.message : `cannot download ${a.url}: ${err.message}`,
    );
  return new DownloadError('download_failed', `cannot download ${a.url} after ${tries} tries: ${describe(err)}`);
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  return cause instanceof Error ? `${err.message} (${cause.message})` : err.message;
}

async function sizeOf(p: string): Promise<number> {
  return stat(p).then(
    (s) => (s.isFile() ? s.size : 0),
    () => 0,
  );
}

/** Copies `src` to `dest` (0600 until the caller sets its mode) and returns the sha256 of what was copied. */
async function copyHashing(src: string, dest: string): Promise<string> {
  const hash = createHash('sha256');
  const out = await open(dest, 'w', 0o600);
  try {
    for await (const chunk of createReadStream(src)) {
      const buf = chunk as Buffer;
      hash.update(buf);
      await out.write(buf);
    }
    await out.sync();
  } finally {
    await out.close();
  }
  return hash.digest('hex');
}

async function hashFile(p: string, hash: Hash): Promise<void> {
  for await (const chunk of createReadStream(p)) hash.update(chunk as Buffer);
}

/** The first byte of `bytes <start>-<end>/<total>`, or undefined. */
export function contentRangeStart(header: string | null): number | undefined {
  const m = header?.match(/^bytes (\d{1,15})-(\d{1,15})\/(\d{1,15}|\*)$/);
  return m ? Number(m[1]) : undefined;
}

async function isFile(p: string): Promise<boolean> {
  return stat(p).then(
    (s) => s.isFile(),
    () => false,
  );
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
