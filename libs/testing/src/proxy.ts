import * as net from 'node:net';

/**
 * How the proxy treats traffic, switchable at run time (applies to open connections and new ones):
 * - pass: forwards both ways;
 * - latency: forwards every chunk `ms` later (order kept);
 * - blackhole: accepts, forwards nothing and holds what arrives (a network partition: TCP buffers
 *   fill, nothing is answered); switching back to pass or latency releases the held bytes;
 * - reset: destroys open connections with a TCP RST and resets new ones at once;
 * - dropAfter: forwards `bytes` more bytes per connection (both directions together), then resets it.
 */
export type ProxyMode =
  | { kind: 'pass' }
  | { kind: 'latency'; ms: number }
  | { kind: 'blackhole' }
  | { kind: 'reset' }
  | { kind: 'dropAfter'; bytes: number };

export interface ProxyStats {
  accepted: number;
  /** Bytes forwarded client -> target and target -> client. */
  bytesUp: number;
  bytesDown: number;
  /** Connections the proxy cut (reset mode, dropAfter). */
  resets: number;
  open: number;
}

export interface ProxyTarget {
  host: string;
  port: number;
}

/**
 * A fault-injecting TCP proxy on 127.0.0.1 for tests: put it between a client and a server (gRPC is
 * HTTP/2 over TCP, so it works transparently) and switch the mode while the test runs.
 */
export class FaultProxy {
  private mode: ProxyMode = { kind: 'pass' };
  private readonly links = new Set<Link>();
  readonly stats: ProxyStats = { accepted: 0, bytesUp: 0, bytesDown: 0, resets: 0, open: 0 };

  private constructor(
    private readonly server: net.Server,
    private target: ProxyTarget,
  ) {}

  /** Listens on 127.0.0.1 (`port` 0: any free port) and forwards to `target`. */
  static async start(target: ProxyTarget, port = 0): Promise<FaultProxy> {
    const server = net.createServer({ pauseOnConnect: true });
    const proxy = new FaultProxy(server, target);
    server.on('connection', (socket) => proxy.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    return proxy;
  }

  get port(): number {
    const address = this.server.address();
    return typeof address === 'object' && address ? address.port : 0;
  }

  /** host:port to hand to the client. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get currentMode(): ProxyMode {
    return this.mode;
  }

  /** Switches every open connection and every later one to `mode`. */
  setMode(mode: ProxyMode): void {
    validateMode(mode);
    this.mode = { ...mode };
    for (const link of [...this.links]) link.apply(this.mode);
  }

  /** Points new connections at another target (open ones keep theirs). */
  retarget(target: ProxyTarget): void {
    this.target = target;
  }

  /** Resets every open connection without changing the mode. */
  resetAll(): void {
    for (const link of [...this.links]) link.reset();
  }

  async close(): Promise<void> {
    for (const link of [...this.links]) link.reset();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    this.stats.accepted += 1;
    if (this.mode.kind === 'reset') {
      this.stats.resets += 1;
      client.resetAndDestroy();
      return;
    }
    const link = new Link(client, this.target, this.stats, () => this.links.delete(link));
    this.links.add(link);
    link.apply(this.mode);
  }
}

function validateMode(mode: ProxyMode): void {
  if (mode.kind === 'latency' && !(Number.isFinite(mode.ms) && mode.ms >= 0))
    throw new RangeError('latency ms must be >= 0');
  if (mode.kind === 'dropAfter' && !(Number.isSafeInteger(mode.bytes) && mode.bytes >= 0))
    throw new RangeError('dropAfter bytes must be an integer >= 0');
}

/** One client connection and its upstream connection. */
class Link {
  private upstream: net.Socket | undefined;
  private mode: ProxyMode = { kind: 'blackhole' };
  private budget = Infinity;
  private closed = false;
  /** Per direction: when the last delayed chunk is due, so latency keeps the order. */
  private readonly due = { up: 0, down: 0 };
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly client: net.Socket,
    private readonly target: ProxyTarget,
    private readonly stats: ProxyStats,
    private readonly forget: () => void,
  ) {
    stats.open += 1;
    // Forward at once, as the endpoints asked for (gRPC sets TCP_NODELAY): no Nagle delays added here.
    client.setNoDelay(true);
    client.on('error', () => this.reset());
    client.on('close', () => this.reset());
  }

  apply(mode: ProxyMode): void {
    if (this.closed) return;
    this.mode = mode;
    switch (mode.kind) {
      case 'reset':
        this.stats.resets += 1;
        return this.reset();
      case 'blackhole':
        this.client.pause();
        this.upstream?.pause();
        return;
      case 'dropAfter':
        this.budget = mode.bytes;
        break;
      case 'pass':
      case 'latency':
        this.budget = Infinity;
        break;
    }
    this.connectUpstream();
    this.client.resume();
    this.upstream?.resume();
  }

  private connectUpstream(): void {
    if (this.upstream) return;
    const upstream = net.connect({ host: this.target.host, port: this.target.port, noDelay: true });
    this.upstream = upstream;
    upstream.on('error', () => this.reset());
    upstream.on('close', () => this.reset());
    upstream.on('data', (chunk: Buffer) => this.forward(chunk, this.client, 'down'));
    this.client.on('data', (chunk: Buffer) => this.forward(chunk, upstream, 'up'));
    if (this.mode.kind === 'blackhole') upstream.pause();
  }

  private forward(chunk: Buffer, to: net.Socket, direction: 'up' | 'down'): void {
    if (this.closed) return;
    let data = chunk;
    if (data.length > this.budget) data = data.subarray(0, this.budget);
    this.budget -= data.length;
    if (direction === 'up') this.stats.bytesUp += data.length;
    else this.stats.bytesDown += data.length;
    const delayMs = this.mode.kind === 'latency' ? this.mode.ms : 0;
    const cutAfter = this.budget <= 0;
    if (delayMs === 0 && this.due[direction] <= Date.now()) this.deliver(data, to, cutAfter);
    else this.later(data, to, direction, delayMs, cutAfter);
  }

  private later(data: Buffer, to: net.Socket, direction: 'up' | 'down', delayMs: number, cutAfter: boolean): void {
    const due = Math.max(Date.now() + delayMs, this.due[direction]);
    this.due[direction] = due;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.deliver(data, to, cutAfter);
    }, due - Date.now());
    this.timers.add(timer);
  }

  private deliver(data: Buffer, to: net.Socket, cutAfter: boolean): void {
    if (this.closed) return;
    if (data.length > 0) to.write(data);
    if (cutAfter) {
      this.stats.resets += 1;
      // Let the allowed bytes leave before the RST.
      to.end(() => this.reset());
    }
  }

  reset(): void {
    if (this.closed) return;
    this.closed = true;
    this.stats.open -= 1;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    if (!this.client.destroyed) this.client.resetAndDestroy();
    if (this.upstream && !this.upstream.destroyed) this.upstream.resetAndDestroy();
    this.forget();
  }
}
