import { createHash } from 'node:crypto';
import * as http from 'node:http';
import type { ArtifactMode } from './plan';

/**
 * The soak's download server: one artifact per job (`/a/<i>-<mode>.sh`), so every download really
 * reaches it. `slow` dribbles the body over ~1.5 s; `fail-first` answers 500 to the first request of
 * each path (the agent's download retry must get it on the next try).
 */
export class ArtifactServer {
  private readonly seen = new Set<string>();
  requests = 0;
  failures = 0;

  private constructor(private readonly server: http.Server) {}

  static async start(): Promise<ArtifactServer> {
    const holder: { self?: ArtifactServer } = {};
    const server = http.createServer((req, res) => holder.self?.handle(req, res));
    const self = new ArtifactServer(server);
    holder.self = self;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return self;
  }

  /** The URL and sha256 of job `i`'s artifact. */
  artifact(i: number, mode: ArtifactMode): { url: string; sha256: string; name: string } {
    const name = `${i}-${mode}.sh`;
    const address = this.server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    return { url: `http://127.0.0.1:${port}/a/${name}`, sha256: sha256(body(name)), name };
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.requests++;
    const name = (req.url ?? '').replace(/^\/a\//, '');
    if (name.includes('fail-first') && !this.seen.has(name)) {
      this.seen.add(name);
      this.failures++;
      res.writeHead(500).end('try again');
      return;
    }
    const data = body(name);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': data.length });
    if (!name.includes('slow')) {
      res.end(data);
      return;
    }
    const parts = 5;
    const size = Math.ceil(data.length / parts);
    let k = 0;
    const timer = setInterval(() => {
      if (res.destroyed || k >= parts) {
        clearInterval(timer);
        if (!res.destroyed) res.end();
        return;
      }
      res.write(data.subarray(k * size, (k + 1) * size));
      k++;
    }, 300);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

function body(name: string): Buffer {
  return Buffer.from(`#!/bin/sh\n# artifact ${name}\n${'x'.repeat(16_000)}\n`);
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
