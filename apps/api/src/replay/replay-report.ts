import type { RelayStats } from '../journal/relay-loop';
import type { JournalName } from './data-dir-check';

/** `jr-api journal replay` exit codes (docs/contract.md, Exit codes). */
export const REPLAY_EXIT = {
  OK: 0,
  FAILED: 1,
  BAD_CONFIG: 2,
  USAGE: 64,
  /** A journal is damaged beyond the torn-tail recovery (JournalCorruptError): nothing was applied from it. */
  CORRUPT: 65,
  /** PostgreSQL unreachable (or read-only): what was not applied stays in the journal. */
  UNAVAILABLE: 69,
  /** A live process holds the data directory's lock. */
  IN_USE: 75,
} as const;

export interface JournalSummary extends RelayStats {
  /** Bytes of a torn last write cut off at open and kept in quarantine/ (0: none). */
  tornBytes: number;
  /** False when the data directory holds no such journal. */
  present: boolean;
}

export interface ReplaySummary {
  dataDir: string;
  journals: Record<JournalName, JournalSummary>;
}

export const EMPTY_JOURNAL: JournalSummary = {
  present: false,
  found: 0,
  applied: 0,
  alreadyApplied: 0,
  fenced: 0,
  quarantined: 0,
  tornBytes: 0,
};

/** The human summary: one line per journal, then what to do with the directory. */
export function formatSummary(s: ReplaySummary): string {
  const lines = [`jr-api journal replay: ${s.dataDir}`];
  for (const [name, j] of Object.entries(s.journals)) {
    if (!j.present) {
      lines.push(`  ${name.padEnd(8)} no journal`);
      continue;
    }
    const parts = [
      `${j.found} found`,
      `${j.applied} applied`,
      `${j.alreadyApplied} already applied`,
      ...(name === 'results' ? [`${j.fenced} fenced`] : []),
      `${j.quarantined} quarantined`,
    ];
    if (j.tornBytes > 0) parts.push(`torn tail of ${j.tornBytes} bytes kept in quarantine/`);
    lines.push(`  ${name.padEnd(8)} ${parts.join(', ')}`);
  }
  lines.push('every record is applied or quarantined: the directory can be archived');
  return `${lines.join('\n')}\n`;
}

/** The one line (and exit code) for a replay that could not finish. */
export function failureLine(err: unknown): { code: number; line: string } {
  const e = err as { code?: unknown; name?: unknown; message?: unknown };
  const message = typeof e.message === 'string' ? e.message : String(err);
  if (e.code === 'DATA_DIR_IN_USE') return { code: REPLAY_EXIT.IN_USE, line: `refused: ${message}` };
  if (e.code === 'JOURNAL_CORRUPT')
    return { code: REPLAY_EXIT.CORRUPT, line: `a journal is damaged (not a torn tail): ${message}` };
  return { code: REPLAY_EXIT.FAILED, line: `failed: ${message}` };
}

export const unavailableLine = (err: unknown): string =>
  `PostgreSQL unreachable (${err instanceof Error ? err.message : String(err)}): ` +
  'every record not applied stays in the journal; run the replay again once it answers';
