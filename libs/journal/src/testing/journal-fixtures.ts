/**
 * Test fixtures for the journal's specs and integration tests (not built into dist). The layout
 * parser here is deliberately independent of the library's decoder: it walks length fields only.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Journal, JournalRecord } from '../journal';
import type { JournalLogger } from '../segment.recovery';

export async function tempDir(prefix = 'jr-journal-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

export async function readAll(journal: Journal, afterLsn = 0): Promise<JournalRecord[]> {
  const out: JournalRecord[] = [];
  for await (const r of journal.readFrom(afterLsn)) out.push(r);
  return out;
}

/** Appends `records` in order, `groups[i % groups.length]` at a time concurrently. Returns the LSNs. */
export async function appendInGroups(journal: Journal, records: Uint8Array[], groups: number[]): Promise<number[]> {
  const lsns: number[] = [];
  let i = 0;
  let g = 0;
  while (i < records.length) {
    const size = Math.max(1, groups.length === 0 ? 1 : (groups[g % groups.length] as number));
    const chunk = records.slice(i, i + size).map((r) => journal.append(Buffer.from(r)));
    lsns.push(...(await Promise.all(chunk)));
    i += size;
    g += 1;
  }
  return lsns;
}

export interface LaidOutRecord {
  lsn: number;
  offset: number;
  end: number;
}

export interface LaidOutSegment {
  path: string;
  firstLsn: number;
  size: number;
  records: LaidOutRecord[];
}

/** The segments of a journal directory and where each record sits (for well-formed files). */
export async function layout(dir: string): Promise<LaidOutSegment[]> {
  const names = (await readdir(dir)).filter((n) => /^seg-\d{16}\.log$/.test(n)).sort();
  const out: LaidOutSegment[] = [];
  for (const name of names) {
    const path = join(dir, name);
    const buf = await readFile(path);
    const firstLsn = Number(name.slice(4, 20));
    const records: LaidOutRecord[] = [];
    let off = 0;
    while (off + 20 <= buf.length) {
      const end = off + 20 + buf.readUInt32LE(off + 4);
      records.push({ lsn: firstLsn + records.length, offset: off, end });
      off = end;
    }
    out.push({ path, firstLsn, size: buf.length, records });
  }
  return out;
}

export interface CapturingLogger extends JournalLogger {
  events: Array<{ message: string; details?: Record<string, unknown> }>;
}

export function capturingLogger(): CapturingLogger {
  const events: CapturingLogger['events'] = [];
  return { events, warn: (message, details) => events.push({ message, details }) };
}

/** Records as the journal should return them: LSN i + 1 holds records[i]. */
export function expectedRecords(records: Uint8Array[], fromLsn = 1, toLsn = records.length): JournalRecord[] {
  const out: JournalRecord[] = [];
  for (let lsn = fromLsn; lsn <= toLsn; lsn++) out.push({ lsn, data: Buffer.from(records[lsn - 1] as Uint8Array) });
  return out;
}
