import { formatCursor, incompleteUtf8Tail, parseCursor, renderEvent, START, type LogEventRow } from './log-text';

const log = (attempt: number, seq: number, text: string): LogEventRow => ({
  attempt,
  seq: String(seq),
  kind: 'log',
  step: 0,
  detail: null,
  data: Buffer.from(text),
});
const step = (attempt: number, seq: number, index: number, name: unknown, tries = 1): LogEventRow => ({
  attempt,
  seq: String(seq),
  kind: 'step_started',
  step: index,
  detail: { name, try: tries },
  data: null,
});

function render(rows: LogEventRow[], markers: boolean, steps = 2): string {
  let at = START;
  let out = '';
  for (const row of rows) {
    const r = renderEvent(row, at, { markers, steps });
    out += Buffer.concat(r.pieces).toString('utf8');
    at = r.next;
  }
  return out;
}

describe('renderEvent', () => {
  const rows = [
    step(1, 1, 0, 'build'),
    log(1, 2, 'one\n'),
    step(1, 3, 1, 'test'),
    log(1, 4, 'no newline'),
    log(2, 1, 'again\n'),
  ];

  it('without markers: the bytes, with an attempt header only', () => {
    expect(
      render(
        rows.filter((r) => r.kind === 'log'),
        false,
      ),
    ).toBe('one\nno newline--- attempt 2 ---\nagain\n');
  });

  it('with markers: each step start on a line of its own', () => {
    expect(render(rows, true)).toBe(
      '--- step 1/2: build ---\none\n--- step 2/2: test ---\nno newline\n--- attempt 2 ---\nagain\n',
    );
  });

  it('a hostile step name stays on one line; a retried step says its try', () => {
    expect(render([step(1, 1, 0, 'a\nb\x1b[2J'), step(1, 2, 0, 'x', 2), step(1, 3, 4, '')], true, 1)).toBe(
      '--- step 1/1: a?b?[2J ---\n--- step 1/1: x (try 2) ---\n--- step 5/5: step-5 ---\n',
    );
  });
});

describe('incompleteUtf8Tail', () => {
  it.each([
    ['', 0],
    ['61', 0],
    ['e2', 1],
    ['e29c', 2],
    ['e29c93', 0],
    ['f09f98', 3],
    ['9c', 0],
    ['ff', 0],
    ['61c3', 1],
  ])('%s -> %d', (hex, n) => {
    expect(incompleteUtf8Tail(Buffer.from(hex, 'hex'))).toBe(n);
  });

  it('cutting there decodes exactly like the whole, for any split of hostile bytes', () => {
    const bytes = Buffer.from('61e29c93ff80c3e2f09f988062e29c', 'hex');
    const whole = new TextDecoder().decode(bytes);
    for (let split = 0; split <= bytes.length; split++) {
      const a = bytes.subarray(0, split);
      const cut = a.length - incompleteUtf8Tail(a);
      const text =
        a.subarray(0, cut).toString('utf8') + Buffer.concat([a.subarray(cut), bytes.subarray(split)]).toString('utf8');
      expect(text).toBe(whole);
    }
  });
});

describe('cursors', () => {
  it('round-trip, and anything else is refused', () => {
    const c = { attempt: 2, seq: 12345, midLine: true, carry: Buffer.from('e29c', 'hex') };
    expect(parseCursor(formatCursor(c))).toEqual(c);
    expect(parseCursor('1.5.0')).toEqual({ attempt: 1, seq: 5, midLine: false, carry: Buffer.alloc(0) });
    for (const bad of ['', '1.5', '1.5.2', 'a.b.0', '1.5.0.ff', '1.5.0.e29c93', '1.99999999999999999.0', '1.5.0.e'])
      expect(parseCursor(bad)).toBeUndefined();
  });
});
