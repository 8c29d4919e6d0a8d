import { createAgentMetrics, startMetricsServer, type AgentMetrics, type MetricsServer } from '@jr/telemetry';
import type { Logger } from 'pino';
import type { AgentConfig } from './config/agent-config';
import { AgentStopError } from './errors';
import { AGENT_VERSION } from './version';

/** What the scrape-time gauges read: the agent's live state. */
export interface GaugeSource {
  running(): number;
  /** Undefined while the outbox is not open. */
  outbox(): { depth: number; oldestAgeMs: number } | undefined;
}

/**
 * The agent's own metrics (the catalog's jr_agent_* handles, fed where things happen) and, when
 * JR_METRICS_PORT is set, the HTTP server exposing them on GET /metrics. Gauges that describe
 * current state (running attempts, outbox depth and age) are read from the agent at scrape time.
 */
export class AgentObservability {
  readonly metrics: AgentMetrics;
  private server: MetricsServer | undefined;

  constructor(private readonly config: Pick<AgentConfig, 'metricsPort' | 'metricsHost' | 'slots'>) {
    // Runtime metrics (process_*, nodejs_*) only when someone can scrape them.
    this.metrics = createAgentMetrics(undefined, {
      version: AGENT_VERSION,
      defaultMetrics: config.metricsPort !== undefined,
    });
    this.metrics.slots.set(config.slots);
  }

  /** Where the metrics are served (undefined: JR_METRICS_PORT unset). */
  get url(): string | undefined {
    if (!this.server) return undefined;
    const host = this.server.host.includes(':') ? `[${this.server.host}]` : this.server.host;
    return `http://${host}:${this.server.port}/metrics`;
  }

  /** Registers the scrape-time gauges and starts the server; a port that cannot be had stops the agent. */
  async start(source: GaugeSource, logger: Logger): Promise<void> {
    this.metrics.beforeScrape(() => this.collect(source));
    const { metricsPort: port, metricsHost: host } = this.config;
    if (port === undefined) return;
    try {
      this.server = await startMetricsServer({ port, host, metrics: this.metrics });
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      throw new AgentStopError(
        'metrics_unavailable',
        `cannot serve metrics on ${host}:${port} (JR_METRICS_HOST/JR_METRICS_PORT): ${typeof code === 'string' ? code : String(err)}`,
      );
    }
    logger.info({ url: this.url }, 'serving metrics');
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    await server?.close();
  }

  private collect(source: GaugeSource): void {
    const m = this.metrics;
    m.running.set(source.running());
    const outbox = source.outbox();
    if (!outbox) return;
    m.outboxDepth.set(outbox.depth);
    m.outboxOldestAge.set(outbox.oldestAgeMs / 1000);
  }
}
