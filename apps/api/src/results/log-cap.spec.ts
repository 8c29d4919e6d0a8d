import type { ReportEvent } from '../jobs/attempt-writes';
import { capLogEvents, truncationMarker } from './log-cap';

const log = (seq: number, text: string): ReportEvent => ({
  seq,
  at: new Date(0),
  kind: 'log',
  step: 0,
  stream: 'stdout',
  data: Buffer.from(text),
  detail: null,
});
const started = (seq: number): ReportEvent => ({
  seq,
  at: new Date(0),
  kind: 'step_started',
  step: 0,
  stream: null,
  data: null,
  detail: { name: 's', try: 1 },
});
const text = (events: ReportEvent[]) => Buffer.concat(events.map((e) => e.data ?? Buffer.alloc(0))).toString('utf8');

describe('capLogEvents', () => {
  it('keeps everything under the cap', () => {
    const r = capLogEvents([log(1, 'ab\n'), started(2), log(3, 'cd\n')], { bytes: 0, truncated: false }, 10, true);
    expect(r).toMatchObject({ addedBytes: 6, truncatedNow: false });
    expect(r.events).toHaveLength(3);
  });

  it('cuts the chunk that crosses the cap on a character, adds the marker on its own line, drops the rest but keeps step events', () => {
    const r = capLogEvents(
      [log(2, 'éé'), log(1, 'ab'), log(3, 'gone'), started(4)],
      { bytes: 4, truncated: false },
      9,
      true,
    );
    expect(text(r.events)).toBe(`abé\n${truncationMarker(9)}`);
    expect(r).toMatchObject({ addedBytes: 4, truncatedNow: true });
    expect(r.events.map((e) => e.kind)).toEqual(['log', 'log', 'step_started']);
  });

  it('a cut at a chunk boundary after a finished line adds no blank line; once truncated nothing more is kept', () => {
    expect(text(capLogEvents([log(1, 'xyz\n')], { bytes: 8, truncated: false }, 8, true).events)).toBe(
      truncationMarker(8),
    );
    expect(text(capLogEvents([log(1, 'xyz\n')], { bytes: 8, truncated: false }, 8, false).events)).toBe(
      `\n${truncationMarker(8)}`,
    );
    expect(capLogEvents([log(1, 'x'), started(2)], { bytes: 8, truncated: true }, 8, true)).toEqual({
      events: [started(2)],
      addedBytes: 0,
      truncatedNow: false,
    });
  });

  it('a seq repeated within one report counts once', () => {
    expect(capLogEvents([log(1, 'ab'), log(1, 'ab')], { bytes: 0, truncated: false }, 10, true).addedBytes).toBe(2);
  });
});
