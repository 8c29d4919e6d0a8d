import { FaultProxy, type ProxyMode } from '@jr/testing';

/**
 * One agent's network path to the API: a FaultProxy per replica, the agent holding both
 * (`JR_API_GRPC=<to first>,<to second>`). A mode applies to both, so a partition cuts the agent off
 * from every replica (its failover finds no way round) and a slow link is slow whichever it uses.
 */
export class AgentLink {
  private constructor(private readonly proxies: FaultProxy[]) {}

  /** Proxies to `targets` (host:port, in the agent's order). */
  static async start(targets: string[]): Promise<AgentLink> {
    const proxies: FaultProxy[] = [];
    for (const t of targets) {
      const [host = '127.0.0.1', port] = t.split(':');
      proxies.push(await FaultProxy.start({ host, port: Number(port) }));
    }
    return new AgentLink(proxies);
  }

  /** The agent's JR_API_GRPC. */
  get endpoints(): string {
    return this.proxies.map((p) => p.address).join(',');
  }

  get currentMode(): ProxyMode {
    return this.proxies[0]?.currentMode ?? { kind: 'pass' };
  }

  setMode(mode: ProxyMode): void {
    for (const p of this.proxies) p.setMode(mode);
  }

  async close(): Promise<void> {
    for (const p of this.proxies) await p.close();
  }
}
