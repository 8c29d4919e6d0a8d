import { AttemptEventLog } from './attempt-events';
import { CHUNK_FLUSH_MS, CHUNK_MAX_BYTES, OutputChunker } from './output-chunker';

describe('OutputChunker', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('flushes 200 ms after the first unflushed byte, not per write', () => {
    const out: string[] = [];
    const c = new OutputChunker((d) => out.push(d.toString()));
    c.write(Buffer.from('a'));
    jest.advanceTimersByTime(CHUNK_FLUSH_MS - 1);
    c.write(Buffer.from('b'));
    expect(out).toEqual([]);
    jest.advanceTimersByTime(1);
    expect(out).toEqual(['ab']);
    jest.advanceTimersByTime(10 * CHUNK_FLUSH_MS);
    expect(out).toEqual(['ab']);
  });

  it('flushes at 64 KiB and splits big writes into chunks of at most 64 KiB', () => {
    const sizes: number[] = [];
    const c = new OutputChunker((d) => sizes.push(d.length));
    c.write(Buffer.alloc(CHUNK_MAX_BYTES - 1));
    expect(sizes).toEqual([]);
    c.write(Buffer.alloc(2));
    expect(sizes).toEqual([CHUNK_MAX_BYTES]);
    c.write(Buffer.alloc(3 * CHUNK_MAX_BYTES + 5));
    expect(sizes).toEqual([CHUNK_MAX_BYTES, CHUNK_MAX_BYTES, CHUNK_MAX_BYTES, CHUNK_MAX_BYTES]);
    c.flush();
    expect(sizes).toEqual([CHUNK_MAX_BYTES, CHUNK_MAX_BYTES, CHUNK_MAX_BYTES, CHUNK_MAX_BYTES, 6]);
  });

  it('keeps bytes in order across chunks', () => {
    const out: Buffer[] = [];
    const c = new OutputChunker((d) => out.push(d), 4);
    for (const piece of ['ab', 'cdefg', 'h', 'ijklmnop']) c.write(Buffer.from(piece));
    c.flush();
    expect(out.map(String)).toEqual(['abcd', 'efgh', 'ijkl', 'mnop']);
  });

  it('emits nothing for an empty flush', () => {
    const out: Buffer[] = [];
    const c = new OutputChunker((d) => out.push(d));
    c.flush();
    c.write(Buffer.alloc(0));
    jest.advanceTimersByTime(CHUNK_FLUSH_MS);
    expect(out).toEqual([]);
  });
});

describe('AttemptEventLog', () => {
  it('numbers StepStarted, LogChunk and StepFinished in one gapless sequence from 1', () => {
    const events: Array<{ seq: unknown; kind: unknown }> = [];
    const log = new AttemptEventLog(
      (e) => events.push({ seq: e.seq, kind: e.kind }),
      () => 42,
    );
    const stdout = new OutputChunker((d) => log.log(0, 'stdout', d), 4);
    const stderr = new OutputChunker((d) => log.log(0, 'stderr', d), 4);
    log.stepStarted(0, 'build', 1);
    stdout.write(Buffer.from('12345678'));
    stderr.write(Buffer.from('xy'));
    stdout.write(Buffer.from('9'));
    stdout.flush();
    stderr.flush();
    log.stepFinished(0, 0, '', 'succeeded');
    expect(events).toEqual([
      { seq: 1, kind: 'stepStarted' },
      { seq: 2, kind: 'log' },
      { seq: 3, kind: 'log' },
      { seq: 4, kind: 'log' },
      { seq: 5, kind: 'log' },
      { seq: 6, kind: 'stepFinished' },
    ]);
    expect(log.lastSeq).toBe(6);
  });
});
