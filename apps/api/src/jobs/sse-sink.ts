import type { ServerResponse } from 'node:http';
import type { LogSink } from './job-logs.service';

/** Server-sent events on a raw response (its 'close' says the client left): `event: <name>` then one `data:` line per text line. */
export function sseSink(res: ServerResponse): LogSink {
  const closed = new AbortController();
  res.on('close', () => closed.abort());
  res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
  res.flushHeaders();
  return {
    closed: closed.signal,
    event: (name, data) => {
      if (closed.signal.aborted) return;
      const lines = data.split(/\r?\n/).map((l) => `data: ${l}`).join('\n');
      res.write(`event: ${name}\n${lines}\n\n`);
    },
  };
}
