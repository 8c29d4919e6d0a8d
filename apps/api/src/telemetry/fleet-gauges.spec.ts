import { newApiMetrics } from './api-metrics';
import { setFleetGauges, setQueueGauges } from './fleet-gauges';
import type { FleetAgentRow } from './metrics.repository';

const agent = (over: Partial<FleetAgentRow>): FleetAgentRow => ({
  id: 'ag_1',
  name: 'host-1',
  pool: 'default',
  version: '0.1.0',
  state: 'active',
  slots: 4,
  running: 1,
  breakerState: 'closed',
  outboxDepth: 0,
  outboxOldestAgeSeconds: 0,
  lastHeartbeatSeconds: 1_700_000_000,
  ...over,
});

const lines = (text: string, name: string): string[] =>
  text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));

describe('queue gauges', () => {
  it('follow pools as they appear and disappear (a vanished pool is not reported forever)', async () => {
    const m = newApiMetrics();
    setQueueGauges(m, [
      { pool: 'default', depth: 3, oldestAgeSeconds: 12.5 },
      { pool: 'gpu', depth: 0, oldestAgeSeconds: 0 },
    ]);
    let text = await m.render();
    expect(lines(text, 'jr_queue_depth')).toEqual(['jr_queue_depth{pool="default"} 3', 'jr_queue_depth{pool="gpu"} 0']);
    expect(lines(text, 'jr_queue_oldest_age_seconds')).toContain('jr_queue_oldest_age_seconds{pool="default"} 12.5');
    setQueueGauges(m, [{ pool: 'arm', depth: 1, oldestAgeSeconds: 1 }]);
    text = await m.render();
    expect(lines(text, 'jr_queue_depth')).toEqual(['jr_queue_depth{pool="arm"} 1']);
  });
});

describe('fleet gauges', () => {
  it('counts agents by pool and state with every state of a known pool present', async () => {
    const m = newApiMetrics();
    setFleetGauges(m, [
      agent({}),
      agent({ id: 'ag_2', state: 'draining' }),
      agent({ id: 'ag_3', pool: 'gpu', state: 'lost' }),
    ]);
    const text = await m.render();
    expect(lines(text, 'jr_fleet_agents').sort()).toEqual(
      [
        'jr_fleet_agents{pool="default",state="active"} 1',
        'jr_fleet_agents{pool="default",state="draining"} 1',
        'jr_fleet_agents{pool="default",state="lost"} 0',
        'jr_fleet_agents{pool="gpu",state="active"} 0',
        'jr_fleet_agents{pool="gpu",state="draining"} 0',
        'jr_fleet_agents{pool="gpu",state="lost"} 1',
      ].sort(),
    );
  });

  it('reports breaker and outbox per live agent, and drops an agent once it is lost', async () => {
    const m = newApiMetrics();
    setFleetGauges(m, [
      agent({ breakerState: 'open', outboxDepth: 17, outboxOldestAgeSeconds: 42 }),
      agent({ id: 'ag_2', name: 'host-2' }),
    ]);
    let text = await m.render();
    expect(lines(text, 'jr_fleet_breaker_open')).toEqual([
      'jr_fleet_breaker_open{agent="ag_1",pool="default"} 1',
      'jr_fleet_breaker_open{agent="ag_2",pool="default"} 0',
    ]);
    expect(lines(text, 'jr_fleet_outbox_depth')).toContain('jr_fleet_outbox_depth{agent="ag_1",pool="default"} 17');
    expect(lines(text, 'jr_fleet_outbox_oldest_age_seconds')).toContain(
      'jr_fleet_outbox_oldest_age_seconds{agent="ag_1",pool="default"} 42',
    );
    expect(lines(text, 'jr_fleet_agent_info')).toContain(
      'jr_fleet_agent_info{agent="ag_2",name="host-2",pool="default",version="0.1.0"} 1',
    );
    setFleetGauges(m, [
      agent({ state: 'lost', breakerState: 'open', outboxDepth: 17 }),
      agent({ id: 'ag_2', name: 'host-2' }),
    ]);
    text = await m.render();
    for (const name of [
      'jr_fleet_breaker_open',
      'jr_fleet_outbox_depth',
      'jr_fleet_slots',
      'jr_fleet_running_attempts',
      'jr_fleet_agent_info',
      'jr_fleet_last_heartbeat_timestamp_seconds',
    ]) {
      expect(lines(text, name).some((l) => l.includes('agent="ag_1"'))).toBe(false);
      expect(lines(text, name).some((l) => l.includes('agent="ag_2"'))).toBe(true);
    }
  });

  it('with no agents left, reports no per-agent series at all', async () => {
    const m = newApiMetrics();
    setFleetGauges(m, [agent({})]);
    setFleetGauges(m, []);
    const text = await m.render();
    expect(lines(text, 'jr_fleet_slots')).toEqual([]);
    expect(lines(text, 'jr_fleet_agents')).toEqual([]);
  });
});
