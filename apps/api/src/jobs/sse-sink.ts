import type { ServerResponse } from 'node:http';

/** Where the plain log goes: bytes, each write resolved once the response can take more. */
export interface ByteSink {
  /** Aborted when the client goes away. */
  readonly closed: AbortSignal;
  write(chunk: Buffer): Promise<void>;
}

/** Where a follower's output goes: an SSE response in production. */
export interface LogSink {
  readonly closed: AbortSignal;
  /** Resolves once the response has room again (or the client left): the caller reads its next page only then. */
  event(name: 'log' | 'end', data: string, id?: string): Promise<void>;
  /** A comment line, to keep idle proxies and clients from timing the stream out. */
  keepAlive(): Promise<void>;
}

/** A raw response as a ByteSink (chunked, no Content-Length: the length is not known up front). */
export function textSink(res: ServerResponse): ByteSink {
  const closed = closedSignal(res);
  res.writeHead(200, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Cache-Control': 'no-cache',
    'X-Content-Type-Options': 'nosniff',
  });
  return { closed, write: (chunk) => writeRoomy(res, chunk, closed) };
}

/** Server-sent events on a raw response: `id:`, `event: <name>`, then one `data:` line per text line (split at LF only, so CRs survive). */
export function sseSink(res: ServerResponse): LogSink {
  const closed = closedSignal(res);
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache',
    Connection: 'keep-alive',
    'X-Accel-Buffering': 'no',
  });
  res.flushHeaders();
  return {
    closed,
    event: (name, data, id) => {
      const lines = data
        .split('\n')
        .map((l) => `data: ${l}`)
        .join('\n');
      return writeRoomy(res, `${id === undefined ? '' : `id: ${id}\n`}event: ${name}\n${lines}\n\n`, closed);
    },
    keepAlive: () => writeRoomy(res, ': keep-alive\n\n', closed),
  };
}

function closedSignal(res: ServerResponse): AbortSignal {
  const closed = new AbortController();
  res.once('close', () => closed.abort());
  return closed.signal;
}

/**
 * Writes and, when the response's buffer is past its high-water mark, waits for 'drain' (or the
 * client leaving): a reader that does not read holds one write's worth of memory, not the whole log.
 */
function writeRoomy(res: ServerResponse, chunk: Buffer | string, closed: AbortSignal): Promise<void> {
  if (closed.aborted || res.destroyed) return Promise.resolve();
  if (res.write(chunk)) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      closed.removeEventListener('abort', done);
      resolve();
    };
    res.once('drain', done);
    closed.addEventListener('abort', done, { once: true });
  });
}
