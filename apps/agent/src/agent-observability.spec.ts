import * as net from 'node:net';
import pino from 'pino';
import { AgentObservability } from './agent-observability';

const logger = pino({ level: 'silent' });

describe('AgentObservability', () => {
  let obs: AgentObservability | undefined;
  afterEach(async () => {
    await obs?.close();
    obs = undefined;
  });

  it('serves the catalog on JR_METRICS_PORT with current gauges read at scrape time', async () => {
    obs = new AgentObservability({ metricsPort: 0, metricsHost: '127.0.0.1', slots: 3 });
    let running = 1;
    await obs.start({ running: () => running, outbox: () => ({ depth: 5, oldestAgeMs: 2_500 }) }, logger);
    const url = obs.url as string;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    running = 2;
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    for (const line of [
      'jr_agent_slots 3',
      'jr_agent_running_attempts 2',
      'jr_agent_outbox_depth 5',
      'jr_agent_outbox_oldest_age_seconds 2.5',
      'jr_build_info{service="jr-agent",version="0.1.0"} 1',
    ]) {
      expect(text.split('\n')).toContain(line);
    }
    expect(text).toContain('process_cpu_seconds_total');
    expect((await fetch(url.replace('/metrics', '/'))).status).toBe(404);
  });

  it('brackets an IPv6 listen address in its URL', async () => {
    obs = new AgentObservability({ metricsPort: 0, metricsHost: '::1', slots: 1 });
    await obs.start({ running: () => 0, outbox: () => undefined }, logger);
    expect(obs.url).toMatch(/^http:\/\/\[::1\]:\d+\/metrics$/);
    expect((await fetch(obs.url as string)).status).toBe(200);
  });

  it('serves nothing when JR_METRICS_PORT is unset (the handles still work, without runtime metrics)', async () => {
    obs = new AgentObservability({ metricsPort: undefined, metricsHost: '127.0.0.1', slots: 1 });
    await obs.start({ running: () => 0, outbox: () => undefined }, logger);
    expect(obs.url).toBeUndefined();
    obs.metrics.breakerOpened.inc();
    expect(await obs.metrics.render()).not.toContain('process_cpu_seconds_total');
  });

  it('stops the agent (exit 78) when the port cannot be had', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as net.AddressInfo).port;
    obs = new AgentObservability({ metricsPort: port, metricsHost: '127.0.0.1', slots: 1 });
    try {
      await expect(obs.start({ running: () => 0, outbox: () => undefined }, logger)).rejects.toMatchObject({
        name: 'AgentStopError',
        reason: 'metrics_unavailable',
        exitCode: 78,
        message: expect.stringContaining(`127.0.0.1:${port}`) as unknown,
      });
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  });
});
