import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { Outbox } from './outbox';
import type { OutboxEvent } from './outbox-record';
import type { Completion } from './reporter';

const ref = (jobId: string, attempt = 1) => ({ jobId, attempt, leaseToken: `lt-${jobId}` });
const log = (seq: number, text: string | Buffer, step = 0): OutboxEvent => ({
  seq,
  atMs: 1_000 + seq,
  kind: 'log',
  log: { step, stream: 'stdout', data: Buffer.isBuffer(text) ? text : Buffer.from(text) },
});
const started = (seq: number, step = 0): OutboxEvent => ({
  seq,
  atMs: 1_000 + seq,
  kind: 'stepStarted',
  stepStarted: { step, name: `s${step}`, try: 1 },
});
const done = (lastSeq: number): Completion => ({
  outcome: 'OUTCOME_SUCCEEDED',
  exitCode: 0,
  reason: '',
  startedAtMs: 1,
  endedAtMs: 2,
  lastSeq,
});

/** Logger whose lines a test can read. */
function capture(): { logger: pino.Logger; lines: Array<{ msg: string; level: number }> } {
  const lines: Array<{ msg: string; level: number }> = [];
  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as { msg: string; level: number });
      cb();
    },
  });
  return { logger: pino({ level: 'info' }, sink), lines };
}

/** What an outbox would send next, per attempt: seqs and the completion. */
function contents(outbox: Outbox): Record<string, { seqs: number[]; completion?: number; text: string }> {
  const out: Record<string, { seqs: number[]; completion?: number; text: string }> = {};
  for (const [key, box] of outbox.boxes) {
    out[key] = {
      seqs: box.events.map((e) => e.event.seq),
      text: box.events.map((e) => e.event.log?.data.toString() ?? '').join(''),
      ...(box.completion ? { completion: box.completion.completion.lastSeq } : {}),
    };
  }
  return out;
}

let probes = 0;

/** Resolves once the writes issued so far are on disk (a completion is the last write queued). */
async function settleWrites(outbox: Outbox): Promise<void> {
  const probe = ref('j_probe', ++probes);
  await outbox.addCompletion(probe, done(0));
  outbox.settle(`j_probe#${probes}`, 'dropped');
}

describe('Outbox', () => {
  let dir: string;
  const opened: Outbox[] = [];
  const open = async (maxBytes = 64 * 1024 * 1024, logger = pino({ level: 'silent' })): Promise<Outbox> => {
    const o = await Outbox.open({ dir: path.join(dir, 'outbox'), maxBytes, logger, now: () => 5_000 });
    opened.push(o);
    return o;
  };
  /** Closes and opens again: what a restart (or a SIGKILL after the writes) sees. */
  const reopen = async (o: Outbox, maxBytes?: number): Promise<Outbox> => {
    await o.close();
    return open(maxBytes);
  };

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'jr-outbox-'));
  });
  afterEach(async () => {
    for (const o of opened.splice(0)) await o.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps events and completions across a restart, in order, marked as recovered', async () => {
    let o = await open();
    o.addEvent(ref('j_a'), started(1));
    o.addEvent(ref('j_a'), log(2, 'hello '));
    o.addEvent(ref('j_b'), started(1));
    o.addEvent(ref('j_a'), log(3, 'world'));
    await o.addCompletion(ref('j_a'), done(3));
    o = await reopen(o);
    expect(contents(o)).toEqual({
      'j_a#1': { seqs: [1, 2, 3], completion: 3, text: 'hello world' },
      'j_b#1': { seqs: [1], text: '' },
    });
    expect(o.get('j_a#1')?.recovered).toBe(true);
    expect(o.get('j_a#1')?.ref.leaseToken).toBe('lt-j_a');
    expect(o.stats()).toMatchObject({ depth: 5, attempts: 2, oldestAgeMs: 5_000 - 1_001 });
  });

  it('forgets what the API acknowledged and what was settled, also after a restart', async () => {
    let o = await open();
    for (let seq = 1; seq <= 5; seq++) o.addEvent(ref('j_a'), log(seq, `${seq}`));
    o.addEvent(ref('j_b'), started(1));
    await o.addCompletion(ref('j_b'), done(1));
    o.acknowledge('j_a#1', 3);
    o.settle('j_b#1', 'completed');
    expect(contents(o)).toEqual({ 'j_a#1': { seqs: [4, 5], text: '45' } });
    await settleWrites(o);
    o = await reopen(o);
    expect(contents(o)).toEqual({ 'j_a#1': { seqs: [4, 5], text: '45' } });
  });

  it('ignores duplicate seqs, acks that go backwards, and stragglers of a settled attempt', async () => {
    const o = await open();
    o.addEvent(ref('j_a'), log(1, 'a'));
    o.addEvent(ref('j_a'), log(1, 'again'));
    o.acknowledge('j_a#1', 1);
    o.acknowledge('j_a#1', 0);
    o.addEvent(ref('j_a'), log(2, 'b'));
    expect(contents(o)).toEqual({ 'j_a#1': { seqs: [2], text: 'b' } });
    o.settle('j_a#1', 'completed');
    o.addEvent(ref('j_a'), log(3, 'late'));
    await o.addCompletion(ref('j_a'), done(3));
    expect(o.boxes.size).toBe(0);
  });

  it('discards the events of a superseded attempt (and later ones) but still takes its completion', async () => {
    let o = await open();
    o.addEvent(ref('j_a'), log(1, 'a'));
    o.addEvent(ref('j_a'), log(2, 'b'));
    o.discardEvents('j_a#1');
    o.addEvent(ref('j_a'), log(3, 'c'));
    await o.addCompletion(ref('j_a'), done(3));
    expect(contents(o)).toEqual({ 'j_a#1': { seqs: [], completion: 3, text: '' } });
    o = await reopen(o);
    expect(contents(o)).toEqual({ 'j_a#1': { seqs: [], completion: 3, text: '' } });
  });

  it('prunes the journal once everything is delivered', async () => {
    const o = await open(2 * 1024 * 1024);
    const chunk = Buffer.alloc(32 * 1024, 'x');
    for (let seq = 1; seq <= 40; seq++) o.addEvent(ref('j_a'), log(seq, chunk));
    await o.addCompletion(ref('j_a'), done(40));
    const full = o.stats().diskBytes;
    expect(full).toBeGreaterThan(40 * 32 * 1024);
    o.acknowledge('j_a#1', 40);
    o.settle('j_a#1', 'completed');
    await settleWrites(o);
    await o.idle();
    // What is left is at most the active segment (cap / 8), holding only the probes' records.
    expect(o.stats().diskBytes).toBeLessThanOrEqual(256 * 1024 + 1024);
    expect(o.stats()).toMatchObject({ depth: 0, attempts: 0 });
  });

  describe('the size cap', () => {
    const cap = 512 * 1024;
    const chunk = (seq: number): Buffer => Buffer.from(`<${seq}>`.padEnd(16 * 1024, '.'));

    it('replaces the oldest log chunks by one gap marker, keeps every status, and stays near the cap', async () => {
      let o = await open(cap);
      let written = 0;
      let seq = 0;
      for (let i = 0; i < 200; i++) {
        if (i % 20 === 0) o.addEvent(ref('j_a'), started(++seq, i / 20));
        o.addEvent(ref('j_a'), log(++seq, chunk(seq), Math.floor(i / 20)));
        written += 16 * 1024;
        if (i % 10 === 0) await settleWrites(o);
      }
      await o.addCompletion(ref('j_a'), done(seq));
      await settleWrites(o);
      const s = o.stats();
      expect(s.compactions).toBeGreaterThan(0);
      expect(s.diskBytes).toBeLessThanOrEqual(cap + 64 * 1024);
      const box = o.get('j_a#1')!;
      const statuses = box.events.filter((e) => e.event.kind === 'stepStarted').map((e) => e.event.stepStarted?.step);
      expect(statuses).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      const markers = box.events.filter((e) => e.event.gapBytes !== undefined);
      expect(markers.length).toBeGreaterThan(0);
      const kept = box.events.filter((e) => e.event.kind === 'log' && e.event.gapBytes === undefined);
      const dropped = markers.reduce((n, e) => n + (e.event.gapBytes ?? 0), 0);
      // No silent drop: every byte is either still queued or accounted for by a marker.
      expect(dropped + kept.length * 16 * 1024).toBe(written);
      expect(s.gapBytes).toBe(dropped);
      expect(markers[0]?.event.log?.data.toString()).toContain(`${markers[0]?.event.gapBytes} bytes of output dropped`);
      // The newest output is what survives.
      expect(kept[kept.length - 1]?.event.log?.data.toString().startsWith(`<${seq}>`)).toBe(true);
      const seqs = box.events.map((e) => e.event.seq);
      expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
      const before = contents(o);
      o = await reopen(o, cap);
      expect(contents(o)).toEqual(before);
      expect(o.get('j_a#1')?.completion?.completion.lastSeq).toBe(seq);
    });

    it('drops the oldest chunks across attempts first', async () => {
      const o = await open(cap);
      for (let i = 1; i <= 20; i++) o.addEvent(ref('j_old'), log(i, chunk(i)));
      await settleWrites(o);
      for (let i = 1; i <= 20; i++) o.addEvent(ref('j_new'), log(i, chunk(i)));
      await settleWrites(o);
      const oldText = contents(o)['j_old#1']?.text ?? '';
      const newText = contents(o)['j_new#1']?.text ?? '';
      expect(oldText).toContain('bytes of output dropped');
      expect(newText).not.toContain('bytes of output dropped');
    });

    it('when statuses alone fill it, new chunks become a gap marker written before the next status', async () => {
      const o = await open(cap);
      let seq = 0;
      // About 300 KiB of statuses: more than half the cap, nothing compaction could drop.
      for (let i = 0; i < 1_800; i++) o.addEvent(ref('j_a'), started(++seq, i));
      await settleWrites(o);
      for (let i = 0; i < 40; i++) o.addEvent(ref('j_a'), log(++seq, chunk(seq)));
      const lastLog = seq;
      o.addEvent(ref('j_a'), started(++seq, 9_999));
      await o.addCompletion(ref('j_a'), done(seq));
      const box = o.get('j_a#1')!;
      const tail = box.events.slice(-2).map((e) => e.event);
      expect(tail[0]?.gapBytes).toBeGreaterThan(0);
      expect(tail[0]?.seq).toBeLessThanOrEqual(lastLog);
      expect(tail[1]).toMatchObject({ kind: 'stepStarted', seq });
      expect(box.events.filter((e) => e.event.kind === 'stepStarted')).toHaveLength(1_801);
      const kept = box.events.filter((e) => e.event.kind === 'log' && e.event.gapBytes === undefined).length;
      expect(kept * 16 * 1024 + (tail[0]?.gapBytes ?? 0)).toBe(40 * 16 * 1024);
    });
  });

  describe('on disk', () => {
    it('removes a half-written generation left by a crash during compaction', async () => {
      let o = await open();
      o.addEvent(ref('j_a'), log(1, 'kept'));
      await settleWrites(o);
      await o.close();
      await mkdir(path.join(dir, 'outbox', 'g2'));
      await writeFile(path.join(dir, 'outbox', 'g2', 'junk'), 'half a compaction');
      o = await open();
      expect(contents(o)).toEqual({ 'j_a#1': { seqs: [1], text: 'kept' } });
      expect(await readdir(path.join(dir, 'outbox'))).not.toContain('g2');
    });

    it('uses the newest generation when CURRENT is lost', async () => {
      let o = await open();
      o.addEvent(ref('j_a'), log(1, 'kept'));
      await settleWrites(o);
      await o.close();
      await rm(path.join(dir, 'outbox', 'CURRENT'));
      o = await open();
      expect(contents(o)).toEqual({ 'j_a#1': { seqs: [1], text: 'kept' } });
    });

    it('moves an unreadable outbox aside, says so loudly, and starts empty', async () => {
      let o = await open();
      o.addEvent(ref('j_a'), log(1, 'x'));
      await settleWrites(o);
      await o.close();
      await writeFile(path.join(dir, 'outbox', 'g1', 'checkpoint'), Buffer.alloc(16, 0xee));
      const { logger, lines } = capture();
      o = await open(undefined, logger);
      expect(o.boxes.size).toBe(0);
      expect(lines.find((l) => l.level >= 50)?.msg).toMatch(/moved aside/);
      expect((await readdir(dir)).some((n) => n.startsWith('outbox.corrupt-'))).toBe(true);
    });
  });
});
