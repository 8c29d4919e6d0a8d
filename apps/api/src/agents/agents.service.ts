import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { DomainError, newAgentId, type AgentList, type pb } from '@jr/contracts';
import { APP_CONFIG, CLOCK, type AppConfig, type Clock } from '../config/app-config';
import { AgentLiveness } from '../common/agent-liveness';
import { DomainEvents } from '../common/events';
import { bearerToken, hashSecret, newAgentSecret, parseAgentCredential, secretMatches, tokensEqual, type AgentCredential } from '../auth/tokens';
import { leaseExpiresAt } from '../dispatch/lease-expiry';
import { validateEnroll, validateHeartbeat } from '../grpc/request-validation';
import { isDependencyDown } from '../database/db-errors';
import { METRICS, type ApiMetrics } from '../telemetry/api-metrics';
import { AgentsRepository, type AgentRow } from './agents.repository';

/** Agents remembered for authentication while Postgres is unreachable. */
const MAX_REMEMBERED = 10_000;

/** Enrolment, agent authentication, heartbeats and their directives, and the operator's agent controls. */
@Injectable()
export class AgentsService implements OnApplicationBootstrap {
  /** The last row Postgres gave for each agent that authenticated: Report/Complete keep working while it is down. */
  private readonly remembered = new Map<string, AgentRow>();

  constructor(
    private readonly agents: AgentsRepository,
    private readonly events: DomainEvents,
    private readonly liveness: AgentLiveness,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(METRICS) private readonly metrics: ApiMetrics,
  ) {}

  /** Known agents up front, so that a Postgres outage right after a restart does not lock them out. */
  async onApplicationBootstrap(): Promise<void> {
    for (const row of await this.agents.listActive(MAX_REMEMBERED)) this.remembered.set(row.id, row);
  }

  async enroll(authorization: string | undefined, req: pb.EnrollRequest__Output): Promise<pb.EnrollResponse> {
    const token = bearerToken(authorization);
    if (token === undefined || !tokensEqual(token, this.config.enrollToken)) throw new DomainError('UNAUTHENTICATED', 'Enroll needs authorization: Bearer <JR_ENROLL_TOKEN>');
    const e = validateEnroll(req);
    const secret = newAgentSecret();
    const enrollment = { name: e.name, pool: e.pool, labels: e.labels, slots: e.slots, version: e.version };
    const id = await this.agents.enroll(enrollment, e.previousAgentId || undefined, newAgentId(), hashSecret(secret), new Date(this.clock.now()));
    return { agentId: id, credential: `${id}.${secret}`, heartbeatIntervalMs: this.config.heartbeatIntervalMs };
  }

  /** Every call but Enroll (Heartbeat checks in its own statement): `authorization: Bearer <agentId>.<secret>`. Draining and lost agents still authenticate. */
  async authenticate(authorization: string | undefined): Promise<AgentRow> {
    const cred = credentialOf(authorization);
    const agent = await this.find(cred.agentId);
    if (!agent || !secretMatches(cred.secret, agent.credential_hash)) throw unknownAgent();
    return agent;
  }

  /** Postgres first; while it is unreachable, the row it last gave (the credential hash included). */
  private async find(id: string): Promise<AgentRow | undefined> {
    try {
      const row = await this.agents.find(id);
      this.remember(id, row);
      return row;
    } catch (err) {
      const known = isDependencyDown(err) ? this.remembered.get(id) : undefined;
      if (known) return known;
      throw err;
    }
  }

  private remember(id: string, row: AgentRow | undefined): void {
    this.remembered.delete(id);
    if (row) this.remembered.set(id, row);
    if (this.remembered.size > MAX_REMEMBERED) this.remembered.delete(this.remembered.keys().next().value as string);
  }

  /**
   * Authentication, the report, lease extension, cancel requests and the reporting flag in one Postgres
   * statement. The credential is checked there, against the hash as it is now: a credential replaced by a
   * re-enrolment (on any replica) is refused at once.
   */
  async heartbeat(authorization: string | undefined, req: pb.HeartbeatRequest__Output): Promise<pb.HeartbeatResponse> {
    const cred = credentialOf(authorization);
    const hb = validateHeartbeat(req);
    const now = this.clock.now();
    const s = hb.state;
    const report = { slots: s?.slots ?? 0, running: s?.running ?? hb.running.length, breakerState: s?.breakerState || 'closed', outboxDepth: s?.outboxDepth ?? 0, outboxOldestAgeMs: s?.outboxOldestAgeMs ?? 0 };
    const result = await this.agents.heartbeat(cred.agentId, hashSecret(cred.secret), report, hb.running, new Date(now), leaseExpiresAt(now, this.config.heartbeatIntervalMs));
    if (!result) throw unknownAgent();
    this.liveness.heartbeat(cred.agentId, Date.now());
    this.remember(cred.agentId, result.agent);
    if (req.sentAtMs > 0) this.metrics.heartbeatLag.observe({ pool: result.agent.pool }, (Date.now() - req.sentAtMs) / 1000);
    const kept = new Set(result.extended.map((r) => `${r.jobId}/${r.attempt}`));
    const directives: pb.Directive[] = hb.running
      .filter((r) => !kept.has(`${r.jobId}/${r.attempt}`))
      .map((r) => ({ cancel: { jobId: r.jobId, attempt: r.attempt, reason: 'lease_lost' } }));
    for (const c of result.cancelRequested) directives.push({ cancel: { jobId: c.jobId, attempt: c.attempt, reason: 'cancelled' } });
    if (result.agent.drain_requested) directives.push({ drain: {} });
    if (result.reportingRequested) directives.push({ enableReporting: {} });
    return { directives, heartbeatIntervalMs: this.config.heartbeatIntervalMs, serverTimeMs: now };
  }

  list(): Promise<AgentList> {
    return this.agents.list().then((items) => ({ items }));
  }

  async drain(id: string): Promise<{ id: string; state: 'draining' }> {
    if (!(await this.agents.requestDrain(id))) throw new DomainError('NOT_FOUND', `no agent ${id}`);
    this.events.agentDrained(id);
    return { id, state: 'draining' };
  }

  async enableReporting(id: string | undefined): Promise<{ agents: number }> {
    const agents = await this.agents.requestReportingEnable(id);
    if (id !== undefined && agents === 0) throw new DomainError('NOT_FOUND', `no agent ${id}`);
    return { agents };
  }
}

function credentialOf(authorization: string | undefined): AgentCredential {
  const token = bearerToken(authorization);
  const cred = token === undefined ? undefined : parseAgentCredential(token);
  if (!cred) throw new DomainError('UNAUTHENTICATED', 'missing or malformed agent credential (authorization: Bearer <agent_id>.<secret>)');
  return cred;
}

function unknownAgent(): DomainError {
  return new DomainError('UNAUTHENTICATED', 'unknown agent or wrong credential; enroll again');
}
