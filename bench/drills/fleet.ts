/** The drill's agents (real jr-agent processes holding both sites' endpoints) and what they count. */
import * as path from 'node:path';
import { fetchTrusting, freePort, startAgentProcess, waitFor, type ManagedProcess } from '@jr/testing';
import { sumSamples } from '../lib/api-client';
import type { Site, SiteCommon } from './site';

export interface DrillAgent {
  name: string;
  proc: ManagedProcess;
  metricsPort: number;
}

export async function startAgents(
  dir: string,
  common: SiteCommon,
  endpoints: Site[],
  count: number,
  slots: number,
): Promise<DrillAgent[]> {
  const agents: DrillAgent[] = [];
  for (let i = 0; i < count; i++) {
    const name = `drill-agent-${i}`;
    const metricsPort = await freePort();
    const proc = startAgentProcess(
      {
        grpcTarget: endpoints.map((s) => s.grpcAddress).join(','),
        dataDir: path.join(dir, name),
        enrollToken: common.enrollToken,
        name,
        slots,
        heartbeatInterval: common.heartbeatInterval,
        extraEnv: {
          JR_CA_FILE: common.caFile,
          JR_API_FAILBACK_AFTER: '3s',
          JR_METRICS_PORT: String(metricsPort),
          JR_LOG_LEVEL: 'warn',
        },
      },
      path.join(dir, `${name}.log`),
    );
    agents.push({ name, proc, metricsPort });
  }
  return agents;
}

/** Waits until `site` lists every agent as active. */
export async function waitAgentsActive(site: Site, common: SiteCommon, caPem: string, names: string[]): Promise<void> {
  await waitFor(
    async () => {
      const res = await fetchTrusting(`${site.restUrl}/v1/agents`, {
        ca: caPem,
        headers: { authorization: `Bearer ${common.adminToken}` },
      }).catch(() => undefined);
      if (!res?.ok) return false;
      const { items } = (await res.json()) as { items: Array<{ name: string; state: string }> };
      return names.every((n) => items.some((a) => a.name === n && a.state === 'active'));
    },
    { timeoutMs: 30_000, what: `agents ${names.join(', ')} active on site ${site.name}` },
  );
}

/** Sums one counter over the agents' own /metrics (an agent that does not answer counts 0). */
export async function agentCounter(agents: DrillAgent[], metric: string): Promise<number> {
  let sum = 0;
  for (const a of agents) {
    const text = await fetch(`http://127.0.0.1:${a.metricsPort}/metrics`)
      .then((r) => r.text())
      .catch(() => '');
    sum += sumSamples(text, metric, {});
  }
  return sum;
}
