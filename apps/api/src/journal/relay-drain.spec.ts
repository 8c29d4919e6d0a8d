import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import pino from 'pino';
import { Journal } from '@jr/journal';
import {
  ALREADY_APPLIED,
  APPLIED,
  FENCED,
  RelayLoop,
  type ApplyOutcome,
  type RelayBacklog,
  type RelayEntry,
  type RelaySpec,
} from './relay-loop';

class Backlog implements RelayBacklog<string> {
  readonly entries = new Map<number, RelayEntry<string>>();
  get size(): number {
    return this.entries.size;
  }
  add(lsn: number, record: string): void {
    this.entries.set(lsn, { lsn, record });
  }
  oldest(max: number): Array<RelayEntry<string>> {
    return [...this.entries.values()].slice(0, max);
  }
  settle(entries: Array<RelayEntry<string>>): void {
    for (const e of entries) this.entries.delete(e.lsn);
  }
}

const down = (): Error => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });

describe('RelayLoop.drain (jr-api journal replay) and the relay lag', () => {
  let dir: string;
  let journal: Journal;
  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jr-drain-'));
    journal = await Journal.open({ dir: path.join(dir, 'intake'), logger: { warn: () => undefined } });
  });
  afterEach(async () => {
    await journal.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const spec = (apply: RelaySpec<string>['apply'], extra: Partial<RelaySpec<string>> = {}): RelaySpec<string> => ({
    name: 'intake',
    journal,
    dataDir: dir,
    log: pino({ level: 'silent' }),
    backlog: new Backlog(),
    batch: 2,
    decode: (b) => {
      const text = b.toString();
      if (text === 'garbage') throw new Error('undecodable');
      return text;
    },
    encode: (r) => Buffer.from(r),
    describe: (r) => ({ r }),
    apply,
    ...extra,
  });

  it('applies everything after the checkpoint once, counting each outcome, and checkpoints it: a second drain finds 0', async () => {
    for (const r of ['new', 'old', 'garbage', 'fenced', 'new']) await journal.append(Buffer.from(r));
    const outcome = (r: string): ApplyOutcome => (r === 'old' ? ALREADY_APPLIED : r === 'fenced' ? FENCED : APPLIED);
    const stats = await new RelayLoop(spec((b) => Promise.resolve(b.map((e) => outcome(e.record))))).drain({
      giveUpAfterMs: 1_000,
    });
    expect(stats).toEqual({ found: 5, applied: 2, alreadyApplied: 1, fenced: 1, quarantined: 1 });
    expect(journal.checkpointLsn).toBe(5);
    expect(fs.readdirSync(path.join(dir, 'quarantine'))).toEqual(['intake-0000000000000003.bin']);
    const again = await new RelayLoop(spec(() => Promise.reject(new Error('not called')))).drain({ giveUpAfterMs: 0 });
    expect(again).toEqual({ found: 0, applied: 0, alreadyApplied: 0, fenced: 0, quarantined: 0 });
  });

  it('gives up after a failure streak longer than giveUpAfterMs, leaving the unapplied records after the checkpoint', async () => {
    for (const r of ['a', 'b', 'c']) await journal.append(Buffer.from(r));
    let calls = 0;
    const apply: RelaySpec<string>['apply'] = (b) => {
      calls++;
      // the first batch goes in, then Postgres goes away
      return calls === 1 ? Promise.resolve(b.map(() => APPLIED)) : Promise.reject(down());
    };
    await expect(new RelayLoop(spec(apply)).drain({ giveUpAfterMs: 300 })).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
    expect(calls).toBeGreaterThan(2); // retried meanwhile
    expect(journal.checkpointLsn).toBe(2);
  });

  it('observes the lag from durable append to applied for records accepted by this process, not for replayed ones', async () => {
    await journal.append(Buffer.from('before-start')); // a record a restart replays: its append time is unknown here
    const lags: number[] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const relay = new RelayLoop(
      spec(
        async (b) => {
          if (b.some((e) => e.record === 'slow')) await gate;
          return b.map(() => APPLIED);
        },
        { observeLag: (s) => lags.push(s) },
      ),
    );
    await relay.start();
    const lsn = await journal.append(Buffer.from('slow'));
    relay.accepted(lsn, 'slow');
    await new Promise((r) => setTimeout(r, 120));
    release();
    await new Promise((r) => setTimeout(r, 50));
    await relay.close();
    expect(lags).toHaveLength(1);
    expect(lags[0]).toBeGreaterThanOrEqual(0.1);
  });
});
