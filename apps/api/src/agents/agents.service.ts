import type { PeerCertificate } from 'node:tls';
import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import {
  AGENT_ID_RE,
  DomainError,
  formatDurationMs,
  type AgentList,
  type AgentViewState,
  type pb,
} from '@jr/contracts';
import { APP_CONFIG, CLOCK, type AppConfig, type Clock } from '../config/app-config';
import { AgentLiveness } from '../common/agent-liveness';
import { HeardAgents } from '../leadership/heard-agents';
import { DomainEvents } from '../common/events';
import { bearerToken, hashSecret, parseAgentCredential, secretMatches, type AgentCredential } from '../auth/tokens';
import { LEASE_HEARTBEATS, leaseExpiresAt } from '../dispatch/lease-expiry';
import { validateHeartbeat } from '../grpc/request-validation';
import { isDependencyDown } from '../database/db-errors';
import { METRICS, type ApiMetrics } from '../telemetry/api-metrics';
import { toAgentView } from './agent-view';
import { EnrollmentService } from './enrollment.service';
import { AgentCertificatesService, isCertRevoked } from './agent-certificates.service';
import { AgentsRepository, type AgentRow } from './agents.repository';

/** `DELETE /v1/agents/:id` */
export interface AgentRemoval {
  id: string;
  removed: true;
  /** Live attempts it held, now ending `lost` (only with force). */
  attemptsEnded: number;
}

/** Agents remembered for authentication while Postgres is unreachable. */
const MAX_REMEMBERED = 10_000;

/** Enrolment, agent authentication, heartbeats and their directives, and the operator's agent controls. */
@Injectable()
export class AgentsService implements OnApplicationBootstrap {
  /** The last row Postgres gave for each agent that authenticated: Report/Complete keep working while it is down. */
  private readonly remembered = new Map<string, AgentRow>();
  private readonly revoked = new Set<string>();

  constructor(
    private readonly agents: AgentsRepository,
    private readonly enrollment: EnrollmentService,
    private readonly certs: AgentCertificatesService,
    private readonly events: DomainEvents,
    private readonly liveness: AgentLiveness,
    private readonly heard: HeardAgents,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(METRICS) private readonly metrics: ApiMetrics,
  ) {}

  /** Known agents up front, so that a Postgres outage right after a restart does not lock them out. */
  async onApplicationBootstrap(): Promise<void> {
    for (const row of await this.agents.listActive(MAX_REMEMBERED)) this.remembered.set(row.id, row);
  }

  enroll(authorization: string | undefined, req: pb.EnrollRequest__Output): Promise<pb.EnrollResponse> {
    return this.enrollment.enroll(authorization, req);
  }

  /**
   * Every call but Enroll (Heartbeat checks in its own statement): `authorization: Bearer <agentId>.<secret>`
   * and, over TLS, the agent's client certificate (`peer`) naming the same agent. Draining and lost agents
   * still authenticate.
   */
  async authenticate(authorization: string | undefined, peer: PeerCertificate | undefined): Promise<AgentRow> {
    const cred = credentialOf(authorization);
    const agent = await this.find(cred.agentId);
    if (!agent || !secretMatches(cred.secret, agent.credential_hash)) throw unknownAgent();
    if (agent.revoked_at) throw this.refuseRevoked(agent.id);
    await this.certs.verifyPeer(peer, cred.agentId);
    return agent;
  }

  /** Throws for an agent revoked on this replica (its Lease calls in flight end refused, not empty). */
  assertNotRevokedHere(agentId: string): void {
    if (this.revoked.has(agentId)) throw revokedError(agentId);
  }

  /**
   * Marks the agent revoked on this replica. Learning it here first (it was revoked through another
   * replica) also answers the agent's Lease calls this replica holds.
   */
  private refuseRevoked(agentId: string, announce = true): DomainError {
    const known = this.revoked.has(agentId);
    this.revoked.add(agentId);
    if (this.revoked.size > MAX_REMEMBERED) this.revoked.delete(this.revoked.values().next().value as string);
    if (!known && announce) this.events.agentRevoked(agentId, []);
    return revokedError(agentId);
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
  async heartbeat(
    authorization: string | undefined,
    req: pb.HeartbeatRequest__Output,
    peer?: PeerCertificate,
  ): Promise<pb.HeartbeatResponse> {
    const cred = credentialOf(authorization);
    const hb = validateHeartbeat(req);
    // a revoked certificate is a revoked (or removed) agent: its own credential learns which, as without TLS
    const identity = await this.certs.verifyPeer(peer, cred.agentId).catch(async (err: unknown) => {
      throw isCertRevoked(err) ? await this.heartbeatRefusal(cred) : err;
    });
    const now = this.clock.now();
    const s = hb.state;
    const report = {
      running: s?.running ?? hb.running.length,
      breakerState: s?.breakerState || 'closed',
      outboxDepth: s?.outboxDepth ?? 0,
      outboxOldestAgeMs: s?.outboxOldestAgeMs ?? 0,
    };
    const heardAt = this.noteHeard(cred, hb.running);
    const result = await this.agents.heartbeat(
      cred.agentId,
      hashSecret(cred.secret),
      report,
      hb.running,
      new Date(now),
      leaseExpiresAt(now, this.config.heartbeatIntervalMs),
      this.config.replicaId,
    );
    if (!result) throw await this.heartbeatRefusal(cred);
    this.heard.stored(cred.agentId, heardAt);
    this.liveness.heartbeat(cred.agentId, Date.now());
    this.remember(cred.agentId, result.agent);
    if (req.sentAtMs > 0)
      this.metrics.heartbeatLag.observe({ pool: result.agent.pool }, (Date.now() - req.sentAtMs) / 1000);
    const kept = new Set(result.extended.map((r) => `${r.jobId}/${r.attempt}`));
    const directives: pb.Directive[] = hb.running
      .filter((r) => !kept.has(`${r.jobId}/${r.attempt}`))
      .map((r) => ({ cancel: { jobId: r.jobId, attempt: r.attempt, reason: 'lease_lost' } }));
    for (const c of result.cancelRequested)
      directives.push({ cancel: { jobId: c.jobId, attempt: c.attempt, reason: 'cancelled' } });
    if (result.agent.drain_requested) directives.push({ drain: {} });
    if (result.reportingRequested) directives.push({ enableReporting: {} });
    const certificateChainPem = await this.certs.renew(identity, result.agent.cert_key_sha256, hb.csrPem);
    return { directives, heartbeatIntervalMs: this.config.heartbeatIntervalMs, serverTimeMs: now, certificateChainPem };
  }

  /**
   * A heartbeat from an agent known here by its credential, before Postgres stores it: if it cannot be
   * stored (Postgres unreachable from this replica), the replica record still tells the leader that the
   * agent and the attempts it runs are alive (leadership/heard-agents.ts).
   */
  private noteHeard(cred: AgentCredential, running: Array<{ jobId: string; attempt: number }>): number {
    const at = Date.now();
    const known = this.remembered.get(cred.agentId);
    if (known && !known.revoked_at && secretMatches(cred.secret, known.credential_hash))
      this.heard.heard(
        cred.agentId,
        running.map((r) => `${r.jobId}/${r.attempt}`),
        at,
      );
    return at;
  }

  /** Why a heartbeat matched no agent: revoked (its own credential, so it learns why), or unknown. */
  private async heartbeatRefusal(cred: AgentCredential): Promise<DomainError> {
    const agent = await this.find(cred.agentId);
    if (agent?.revoked_at && secretMatches(cred.secret, agent.credential_hash)) return this.refuseRevoked(agent.id);
    return unknownAgent();
  }

  /**
   * Ends every credential of the agent at its next call (heartbeat, Lease, Report, Complete; its Lease
   * calls in flight here end at once), ends its live attempts `lost` now so their jobs run elsewhere,
   * and keeps it from enrolling again (by id or name) until an operator removes it. Idempotent.
   */
  async revoke(id: string): Promise<{ id: string; revokedAt: string; attemptsEnded: number }> {
    const result = isAgentId(id) ? await this.agents.revoke(id, new Date(this.clock.now())) : undefined;
    if (!result) throw noSuchAgent(id);
    this.remember(id, result.agent);
    this.refuseRevoked(id, false);
    await this.certs.revokeAgent(id);
    this.liveness.forget(id);
    this.heard.forget(id);
    this.events.agentRevoked(id, result.endedAttempts);
    return {
      id,
      revokedAt: (result.agent.revoked_at ?? new Date(this.clock.now())).toISOString(),
      attemptsEnded: result.endedAttempts.length,
    };
  }

  async list(): Promise<AgentList> {
    const rows = await this.agents.list();
    const now = this.clock.now();
    return { items: rows.map((row) => toAgentView(row, now, this.config.heartbeatIntervalMs)) };
  }

  async drain(id: string): Promise<{ id: string; state: 'draining' }> {
    if (!isAgentId(id) || !(await this.agents.requestDrain(id))) throw noSuchAgent(id);
    this.events.agentDrained(id);
    return { id, state: 'draining' };
  }

  /** Lifts a drain: the agent's next heartbeat has no drain directive, and it leases again. `state` is how it shows now. */
  async undrain(id: string): Promise<{ id: string; state: AgentViewState }> {
    const row = isAgentId(id) ? await this.agents.requestUndrain(id) : undefined;
    if (!row) throw noSuchAgent(id);
    this.remember(id, row);
    return { id, state: toAgentView(row, this.clock.now(), this.config.heartbeatIntervalMs).state };
  }

  /**
   * Forgets an agent: its credential ends (its next call is refused; an agent still running enrolls again,
   * as a new agent). Refused while it heartbeats or holds live attempts, unless `force`: then its live
   * attempts end `lost` at the reaper's next pass and their jobs go back through the retry decision.
   */
  async remove(id: string, force: boolean): Promise<AgentRemoval> {
    if (!isAgentId(id)) throw noSuchAgent(id);
    const now = this.clock.now();
    const result = await this.agents.remove(id, new Date(now), (agent, live) =>
      force ? undefined : this.removalRefusal(agent, live, now),
    );
    if (result.kind === 'unknown') throw noSuchAgent(id);
    if (result.kind === 'refused') throw new DomainError('CONFLICT', result.reason);
    this.remember(id, undefined);
    this.revoked.delete(id);
    await this.certs.revokeAgent(id);
    this.liveness.forget(id);
    this.heard.forget(id);
    this.events.agentDrained(id); // answers its parked Lease calls
    return { id, removed: true, attemptsEnded: result.endedAttempts.length };
  }

  private removalRefusal(agent: AgentRow, liveAttempts: number, now: number): string | undefined {
    if (agent.revoked_at) return undefined; // it can make no call any more, and revoking ended its attempts
    const { state, heartbeatAgeMs } = toAgentView(agent, now, this.config.heartbeatIntervalMs);
    const heard =
      heartbeatAgeMs === null ? 'never heard from' : `last heartbeat ${formatDurationMs(heartbeatAgeMs)} ago`;
    const lostAfter = formatDurationMs(LEASE_HEARTBEATS * this.config.heartbeatIntervalMs);
    if (state === 'active' || state === 'draining')
      return `agent ${agent.id} is ${state} (${heard}): stop it first, or remove it with --force`;
    if (state === 'stale')
      return `agent ${agent.id} is stale (${heard}; lost after ${lostAfter} of silence): wait, or remove it with --force`;
    if (liveAttempts > 0)
      return `agent ${agent.id} still holds ${liveAttempts} running attempt(s); they end lost when their leases run out, or now with --force`;
    return undefined;
  }

  async enableReporting(id: string | undefined): Promise<{ agents: number }> {
    if (id !== undefined && !isAgentId(id)) throw noSuchAgent(id);
    const agents = await this.agents.requestReportingEnable(id);
    if (id !== undefined && agents === 0) throw noSuchAgent(id);
    return { agents };
  }
}

function credentialOf(authorization: string | undefined): AgentCredential {
  const token = bearerToken(authorization);
  const cred = token === undefined ? undefined : parseAgentCredential(token);
  if (!cred)
    throw new DomainError(
      'UNAUTHENTICATED',
      'missing or malformed agent credential (authorization: Bearer <agent_id>.<secret>)',
    );
  return cred;
}

/** Ids the API hands out; anything else (NUL, huge, another shape) is unknown without asking Postgres. */
function isAgentId(id: string): boolean {
  return AGENT_ID_RE.test(id);
}

function noSuchAgent(id: string): DomainError {
  return new DomainError('NOT_FOUND', `no agent ${isAgentId(id) ? id : JSON.stringify(id.slice(0, 64))}`);
}

function revokedError(agentId: string): DomainError {
  return new DomainError(
    'FORBIDDEN',
    `agent ${agentId} was revoked by an operator; to enroll this machine again, an operator first removes it (jr agents rm ${agentId})`,
    { refusal: 'revoked' },
  );
}

function unknownAgent(): DomainError {
  return new DomainError('UNAUTHENTICATED', 'unknown agent or wrong credential; enroll again');
}
