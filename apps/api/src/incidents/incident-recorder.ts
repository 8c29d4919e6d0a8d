import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { INCIDENT_CAUSES, type IncidentCause } from '@jr/contracts';
import type { IncidentRecord } from './incidents.repository';

/** A condition that holds now: one incident per (cause, scope) while it does. */
export interface Condition {
  cause: IncidentCause;
  scope: string;
  detail: string;
}

/** Which detector reports a cause: this replica's own probes, or the elected leader for the fleet. */
export type Group = 'replica' | 'leader';
export const LEADER_CAUSES: readonly IncidentCause[] = ['breaker_open', 'replica_lost', 'sli_violated'];
const groupOf = (cause: IncidentCause): Group => (LEADER_CAUSES.includes(cause) ? 'leader' : 'replica');
const keyOf = (c: { cause: string; scope: string }): string => `${c.cause}\u0000${c.scope}`;

/**
 * Level-triggered incident bookkeeping: each observation says which conditions of a group hold now; a
 * new one opens an incident (start: now), one that no longer holds ends it (end: now), one that goes on
 * keeps its incident. Changes wait in `unsaved` until Postgres has them (a dependency being down is
 * exactly when it cannot be written), and everything open or unsaved is also kept in a small file in
 * the data directory, so an incident that began while Postgres was down survives a restart with its
 * real start time. Pure bookkeeping: the monitor does the I/O to Postgres.
 */
export class IncidentRecorder {
  private readonly open = new Map<string, IncidentRecord>();
  private unsaved = new Map<string, IncidentRecord>();

  constructor(
    private readonly replica: string,
    private readonly spoolFile: string,
  ) {
    for (const r of readSpool(spoolFile)) {
      if (r.endedMs === undefined) this.open.set(keyOf(r), r);
      this.unsaved.set(r.id, r);
    }
  }

  static spoolPath(dataDir: string): string {
    return path.join(dataDir, 'incidents.json');
  }

  /** Takes over open incidents found in Postgres (this replica's from before a restart, or a former leader's). */
  adopt(records: readonly IncidentRecord[]): void {
    for (const r of records) if (!this.open.has(keyOf(r))) this.open.set(keyOf(r), r);
  }

  /** The conditions of `group` that hold at `nowMs`; returns how many incidents opened and ended. */
  observe(group: Group, holding: readonly Condition[], nowMs: number): { opened: number; ended: number } {
    const now = new Map(holding.map((c) => [keyOf(c), c]));
    let opened = 0;
    let ended = 0;
    for (const [key, r] of this.open) {
      if (groupOf(r.cause) !== group || now.has(key)) continue;
      this.open.delete(key);
      this.changed({ ...r, endedMs: Math.max(nowMs, r.startedMs) });
      ended++;
    }
    for (const [key, c] of now) {
      const r = this.open.get(key);
      if (r && r.detail === c.detail) continue;
      if (!r) opened++;
      const next: IncidentRecord = r
        ? { ...r, detail: c.detail }
        : { id: randomUUID(), ...c, replica: this.replica, startedMs: nowMs };
      this.open.set(key, next);
      this.changed(next);
    }
    return { opened, ended };
  }

  /** Forgets the open incidents of a group without ending them (leadership moved: the new leader adopts them). */
  release(group: Group): void {
    let released = 0;
    for (const [key, r] of this.open) if (groupOf(r.cause) === group && this.open.delete(key)) released++;
    if (released > 0) this.writeSpool();
  }

  /** What Postgres does not have yet. */
  pending(): IncidentRecord[] {
    return [...this.unsaved.values()];
  }

  /** Postgres has these now (unless they changed meanwhile). */
  saved(records: readonly IncidentRecord[]): void {
    for (const r of records) if (this.unsaved.get(r.id) === r) this.unsaved.delete(r.id);
    this.writeSpool();
  }

  openCount(cause: IncidentCause): number {
    return [...this.open.values()].filter((r) => r.cause === cause).length;
  }

  private changed(r: IncidentRecord): void {
    this.unsaved.set(r.id, r);
    this.writeSpool();
  }

  /** Open and unsaved incidents, replaced atomically (a torn file would lose them all). */
  private writeSpool(): void {
    const records = new Map<string, IncidentRecord>([...this.open.values()].map((r) => [r.id, r]));
    for (const r of this.unsaved.values()) records.set(r.id, r);
    mkdirSync(path.dirname(this.spoolFile), { recursive: true });
    const tmp = `${this.spoolFile}.tmp`;
    writeFileSync(tmp, JSON.stringify([...records.values()]));
    renameSync(tmp, this.spoolFile);
  }
}

/** The spool's records; a missing or unreadable file (or a bad entry) is skipped, never fatal. */
function readSpool(file: string): IncidentRecord[] {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return [];
  }
  return Array.isArray(value) ? value.filter(isRecord) : [];
}

function isRecord(v: unknown): v is IncidentRecord {
  const r = v as Partial<IncidentRecord> | null;
  return (
    typeof r === 'object' &&
    r !== null &&
    typeof r.id === 'string' &&
    /^[0-9a-f-]{36}$/.test(r.id) &&
    (INCIDENT_CAUSES as readonly string[]).includes(r.cause as string) &&
    typeof r.scope === 'string' &&
    typeof r.replica === 'string' &&
    typeof r.detail === 'string' &&
    Number.isFinite(r.startedMs) &&
    (r.endedMs === undefined || Number.isFinite(r.endedMs))
  );
}
