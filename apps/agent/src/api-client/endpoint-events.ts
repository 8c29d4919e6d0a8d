import type { AgentMetrics } from '@jr/telemetry';
import type { Logger } from 'pino';
import type { AgentConfig } from '../config/agent-config';
import type { FailbackDeps } from '../loops/failback-loop';
import type { AgentApiClient } from './agent-api.client';
import type { EndpointFailover, EndpointSwitch } from './endpoint-failover';

/** A switch of endpoint: one log line and jr_agent_api_endpoint_switches_total / jr_agent_api_on_primary. */
export function logEndpointSwitch(
  sw: EndpointSwitch,
  logger: Logger,
  metrics: Pick<AgentMetrics, 'apiEndpointSwitches' | 'apiOnPrimary'>,
): void {
  metrics.apiEndpointSwitches.inc({ kind: sw.kind });
  metrics.apiOnPrimary.set(sw.toPrimary ? 1 : 0);
  if (sw.kind === 'failback')
    logger.info({ from: sw.from, to: sw.to }, 'API endpoint: back on the primary (it stayed reachable long enough)');
  else
    logger.warn(
      { from: sw.from, to: sw.to },
      'API endpoint: failing over (calls to the current one were refused or unanswered); running jobs go on',
    );
}

/** The fail-back loop's view of the client. */
export function failbackDeps(api: AgentApiClient, config: Pick<AgentConfig, 'apiFailbackAfterMs'>): FailbackDeps {
  return {
    probePrimary: (timeoutMs) => api.probePrimary(timeoutMs),
    awayFromPrimary: () => api.endpoints.awayFromPrimary,
    failbackAfterMs: config.apiFailbackAfterMs,
  };
}

/** `jr-agent status`'s api line: the endpoint in use, and the primary when that is another. */
export function describeEndpoint(f: Pick<EndpointFailover, 'endpoint' | 'primary' | 'awayFromPrimary'>): string {
  return f.awayFromPrimary ? `${f.endpoint} (failed over from the primary ${f.primary})` : f.endpoint;
}
