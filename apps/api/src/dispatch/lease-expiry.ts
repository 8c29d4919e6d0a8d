import { jittered } from '@jr/resilience';

/** A lease lives for this many heartbeat intervals without a heartbeat extending it. */
export const LEASE_HEARTBEATS = 3;

export function leaseExpiresAt(nowMs: number, heartbeatIntervalMs: number): Date {
  return new Date(nowMs + LEASE_HEARTBEATS * heartbeatIntervalMs);
}

export function isLeaseExpired(expiresAt: Date, nowMs: number): boolean {
  return expiresAt.getTime() < nowMs;
}

/** Agents whose last heartbeat is older than this are lost. */
export function agentSilenceCutoff(nowMs: number, heartbeatIntervalMs: number): Date {
  return new Date(nowMs - LEASE_HEARTBEATS * heartbeatIntervalMs);
}

/** The reaper runs about twice per heartbeat interval, jittered so replicas do not run in step. */
export function reaperDelayMs(heartbeatIntervalMs: number, random: () => number = Math.random): number {
  return Math.max(50, jittered(heartbeatIntervalMs / 2, 0.2, random));
}
