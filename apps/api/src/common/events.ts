import { EventEmitter } from 'node:events';
import type { JobState } from '@jr/contracts';

export type JobChange =
  | { jobId: string; kind: 'log' }
  /** `dequeue`: the job left `queued` without a lease (cancelled): drop BullMQ job `${jobId}-r${round}` of `pool`. */
  | { jobId: string; kind: 'state'; state: JobState; dequeue?: { pool: string; round: number } };

/**
 * In-process wake-ups: log followers and parked dispatch jobs hear about a job's changes as they
 * happen; dispatch hears when an agent is drained. Periodic re-checks remain the fallback.
 */
export class DomainEvents {
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  jobChanged(change: JobChange): void {
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
  }

  onAgentDrained(listener: (agentId: string) => void): () => void {
    this.emitter.on('agent-drained', listener);
    return () => this.emitter.off('agent-drained', listener);
  }

  /** `attempts`: its live attempts, whose leases the revocation ended (the reaper ends them lost at once). */
  agentRevoked(agentId: string, attempts: Array<{ jobId: string; attempt: number }>): void {
    this.emitter.emit('agent-revoked', agentId, attempts);
  }

  onAgentRevoked(listener: (agentId: string, attempts: Array<{ jobId: string; attempt: number }>) => void): () => void {
    this.emitter.on('agent-revoked', listener);
    return () => this.emitter.off('agent-revoked', listener);
  }
}
