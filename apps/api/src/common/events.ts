import { EventEmitter } from 'node:events';
import type { JobState } from '@jr/contracts';

export type JobChange =
  | { jobId: string; kind: 'log' }
  /** `dequeue`: the job left `queued` without a lease (cancelled): drop BullMQ job `${jobId}-r${round}` of `pool`. */
  | { jobId: string; kind: 'state'; state: JobState; dequeue?: { pool: string; round: number } };

/** What other replicas hear of this one's events (the ReplicaBus carries them over Redis). */
export type SharedEvent =
  | { type: 'job'; change: JobChange }
  | { type: 'agent-drained'; agentId: string }
  | { type: 'agent-revoked'; agentId: string };

/**
 * Wake-ups: log followers and parked dispatch jobs hear about a job's changes as they happen; dispatch
 * hears when an agent is drained or revoked. Events raised here also go to the other replicas (through
 * the relay the ReplicaBus sets); periodic re-checks remain the fallback.
 */
export class DomainEvents {
  private readonly emitter = new EventEmitter();
  private relay: ((event: SharedEvent) => void) | undefined;

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  /** Events raised on this replica from now on are also handed to `relay`. */
  relayTo(relay: ((event: SharedEvent) => void) | undefined): void {
    this.relay = relay;
  }

  /**
   * Another replica's event, raised here without relaying it again. What only the replica that made the
   * change must do stays there: dropping the BullMQ job (`dequeue`), ending a revoked agent's attempts.
   */
  fromReplica(event: SharedEvent): void {
    if (event.type === 'job') {
      const change: JobChange =
        event.change.kind === 'state'
          ? { jobId: event.change.jobId, kind: 'state', state: event.change.state }
          : { jobId: event.change.jobId, kind: 'log' };
      this.emitJob(change);
    } else if (event.type === 'agent-drained') this.emitter.emit('agent-drained', event.agentId);
    else this.emitter.emit('agent-revoked', event.agentId, []);
  }

  jobChanged(change: JobChange): void {
    this.emitJob(change);
    this.relay?.({ type: 'job', change });
  }

  private emitJob(change: JobChange): void {
    this.emitter.emit(`job:${change.jobId}`, change);
    this.emitter.emit('job:*', change);
  }

  /** Listens to one job's changes (or '*' for every job); returns the unsubscribe function. */
  onJob(jobId: string, listener: (change: JobChange) => void): () => void {
    const key = `job:${jobId}`;
    this.emitter.on(key, listener);
    return () => this.emitter.off(key, listener);
  }

  agentDrained(agentId: string): void {
    this.emitter.emit('agent-drained', agentId);
    this.relay?.({ type: 'agent-drained', agentId });
  }

  onAgentDrained(listener: (agentId: string) => void): () => void {
    this.emitter.on('agent-drained', listener);
    return () => this.emitter.off('agent-drained', listener);
  }

  /** `attempts`: its live attempts, whose leases the revocation ended (the reaper ends them lost at once). */
  agentRevoked(agentId: string, attempts: Array<{ jobId: string; attempt: number }>): void {
    this.emitter.emit('agent-revoked', agentId, attempts);
    this.relay?.({ type: 'agent-revoked', agentId });
  }

  onAgentRevoked(listener: (agentId: string, attempts: Array<{ jobId: string; attempt: number }>) => void): () => void {
    this.emitter.on('agent-revoked', listener);
    return () => this.emitter.off('agent-revoked', listener);
  }
}
