import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Journal } from '@jr/journal';
import { readAll, removeDir, tempDir } from '../../../libs/journal/src/testing/journal-fixtures';
import { buildChild } from './child-build';
import { payload } from './crash-child';

interface Ack {
  round: number;
  n: number;
}

interface RoundResult {
  signal: NodeJS.Signals | null;
  acks: number;
  checkpoint: number;
  stderr: string;
}

/** Children still running (killed in afterAll if a test fails or times out before killing them). */
const running = new Set<ChildProcess>();

/** Runs one child until it has acknowledged `killAfter` appends, then SIGKILLs it mid-burst. */
function runRound(
  childJs: string,
  dir: string,
  round: number,
  killAfter: number,
  acked: Map<number, Ack>,
): Promise<RoundResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [childJs, dir, String(round)], { stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    let pending = '';
    let stderr = '';
    let acks = 0;
    let checkpoint = 0;
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const [kind, a, b, c] = line.split(' ');
        if (kind === 'CP') checkpoint = Math.max(checkpoint, Number(a));
        if (kind !== 'ACK') continue;
        const lsn = Number(a);
        if (acked.has(lsn))
          reject(new Error(`LSN ${lsn} acknowledged twice: an acknowledged record was lost and its LSN reused`));
        acked.set(lsn, { round: Number(b), n: Number(c) });
        acks += 1;
        if (acks === killAfter) child.kill('SIGKILL');
      }
    });
    child.on('error', reject);
    child.on('exit', (_code, signal) => {
      running.delete(child);
      resolve({ signal, acks, checkpoint, stderr });
    });
  });
}

describe('journal under SIGKILL', () => {
  let work: string;
  let childJs: string;
  beforeAll(async () => {
    work = await tempDir('jr-journal-crash-');
    childJs = await buildChild(join(work, 'build'), join(__dirname, 'crash-child.ts'));
  });
  afterAll(async () => {
    for (const child of running) child.kill('SIGKILL');
    await removeDir(work);
  });

  it('never loses an acknowledged record across repeated kills mid-burst (64 appends in flight)', async () => {
    const dir = join(work, 'journal');
    const acked = new Map<number, Ack>();
    let durableCheckpoint = 0;
    for (let round = 1; round <= 4; round++) {
      const killAfter = 700 + Math.floor(Math.random() * 2500);
      const r = await runRound(childJs, dir, round, killAfter, acked);
      expect({ signal: r.signal, stderr: r.stderr.includes('child failed') ? r.stderr : '' }).toEqual({
        signal: 'SIGKILL',
        stderr: '',
      });
      expect(r.acks).toBeGreaterThanOrEqual(killAfter);
      durableCheckpoint = Math.max(durableCheckpoint, r.checkpoint);
    }

    const journal = await Journal.open({ dir, logger: { warn: () => undefined } });
    try {
      expect(journal.checkpointLsn).toBeGreaterThanOrEqual(durableCheckpoint);
      expect(journal.checkpointLsn).toBeGreaterThan(0);
      const records = new Map((await readAll(journal, journal.checkpointLsn)).map((r) => [r.lsn, r.data]));
      let checked = 0;
      for (const [lsn, ack] of acked) {
        if (lsn <= journal.checkpointLsn) continue;
        expect({ lsn, data: records.get(lsn)?.toString() }).toEqual({
          lsn,
          data: payload(ack.round, ack.n).toString(),
        });
        checked += 1;
      }
      expect(checked).toBeGreaterThan(0);
      const maxAcked = Math.max(...acked.keys());
      expect(journal.lastLsn).toBeGreaterThanOrEqual(maxAcked);
    } finally {
      await journal.close();
    }
  });
});
