import { ApiError, UnreachableError } from './cli-error';
import { EXIT } from './exit-codes';
import type { JobsApi } from './jobs-api';
import { FOLLOW_GIVE_UP_MS, LogFollower } from './log-follower';
import type { OutStream } from './output';
import type { Clock } from './timing';

type Connection = { chunks: Array<string | Uint8Array>; drop?: boolean; type?: string } | Error;

/** A Response whose body yields `chunks`, then ends or errors like a dropped socket. */
function response(c: Exclude<Connection, Error>): Response {
  const enc = new TextEncoder();
  const queue = [...c.chunks];
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = queue.shift();
      if (chunk !== undefined) controller.enqueue(typeof chunk === 'string' ? enc.encode(chunk) : chunk);
      else if (c.drop) controller.error(new TypeError('terminated'));
      else controller.close();
    },
  });
  return new Response(body, { headers: { 'content-type': c.type ?? 'text/event-stream' } });
}

function fakeApi(connections: Connection[]): JobsApi & { calls: number } {
  const api = {
    calls: 0,
    followLogs: async () => {
      const c = connections[Math.min(api.calls++, connections.length - 1)] as Connection;
      if (c instanceof Error) throw c;
      return response(c);
    },
  };
  return api as unknown as JobsApi & { calls: number };
}

function sink(): OutStream & { text: string } {
  const s = {
    text: '',
    write: (chunk: string | Uint8Array) => (
      (s.text += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString()),
      true
    ),
  };
  return s;
}

function fakeClock(): Clock & { sleeps: number[] } {
  let now = 0;
  const sleeps: number[] = [];
  return { sleeps, now: () => now, sleep: async (ms) => void (sleeps.push(ms), (now += ms)) };
}

const log = (text: string): string =>
  `event: log\n${text
    .split('\n')
    .map((l) => `data: ${l}`)
    .join('\n')}\n\n`;
const END = 'event: end\ndata: {"state":"succeeded"}\n\n';

describe('LogFollower', () => {
  it('prints each chunk once when the stream drops and the server replays from the start', async () => {
    const out = sink();
    const notes: string[] = [];
    const api = fakeApi([
      { chunks: [log('one\n'), log('two\n'), 'event: log\ndata: thr'], drop: true },
      { chunks: [log('one\n'), log('two\n')], drop: false },
      { chunks: [log('one\n'), log('two\n'), log('three\n'), END] },
    ]);
    await new LogFollower(api, out, (l) => notes.push(l), fakeClock()).follow('j_1');
    expect(out.text).toBe('one\ntwo\nthree\n');
    expect(api.calls).toBe(3);
    expect(notes).toEqual([
      'the log stream dropped; reconnecting',
      'the log stream dropped; reconnecting',
      'the job ended: succeeded',
    ]);
  });

  it('decodes UTF-8 split across network chunks', async () => {
    const bytes = Buffer.from(log('héllo ✓\n') + END);
    const cut = bytes.indexOf(Buffer.from('✓')) + 1;
    const out = sink();
    await new LogFollower(
      fakeApi([{ chunks: [bytes.subarray(0, cut), bytes.subarray(cut)] }]),
      out,
      () => undefined,
      fakeClock(),
    ).follow('j_1');
    expect(out.text).toBe('héllo ✓\n');
  });

  it('fails with 69 when the API is not reachable at the start, and 4 for an unknown job', async () => {
    const out = sink();
    await expect(
      new LogFollower(fakeApi([new UnreachableError('down')]), out, () => undefined, fakeClock()).follow('j_1'),
    ).rejects.toMatchObject({ exitCode: EXIT.UNREACHABLE });
    const notFound = new ApiError(EXIT.UNKNOWN_ID, 'unknown job j_1', 404, undefined);
    await expect(
      new LogFollower(fakeApi([notFound]), out, () => undefined, fakeClock()).follow('j_1'),
    ).rejects.toMatchObject({ exitCode: EXIT.UNKNOWN_ID });
  });

  it('retries an outage with backoff after having connected, and gives up after the lost budget', async () => {
    const clock = fakeClock();
    const api = fakeApi([{ chunks: [log('a')], drop: true }, new UnreachableError('down')]);
    const out = sink();
    await expect(new LogFollower(api, out, () => undefined, clock).follow('j_1')).rejects.toMatchObject({
      exitCode: EXIT.UNREACHABLE,
    });
    expect(out.text).toBe('a');
    expect(clock.now()).toBeGreaterThan(FOLLOW_GIVE_UP_MS);
    expect(Math.max(...clock.sleeps)).toBeLessThanOrEqual(5_000);
    expect(clock.sleeps.slice(0, 3).every((ms) => ms >= 250)).toBe(true);
  });

  it('keeps going through an outage that ends', async () => {
    const api = fakeApi([
      { chunks: [log('a\n')], drop: true },
      new UnreachableError('down'),
      new ApiError(EXIT.UNREACHABLE, 'busy', 503, undefined),
      { chunks: [log('a\n'), log('b\n'), END] },
    ]);
    const out = sink();
    await new LogFollower(api, out, () => undefined, fakeClock()).follow('j_1');
    expect(out.text).toBe('a\nb\n');
  });

  it('prints only the remainder when the server answers follow with plain text', async () => {
    const api = fakeApi([
      { chunks: [log('first\n')], drop: true },
      { chunks: ['first\nsecond\n'], type: 'text/plain; charset=utf-8' },
    ]);
    const out = sink();
    await new LogFollower(api, out, () => undefined, fakeClock()).follow('j_1');
    expect(out.text).toBe('first\nsecond\n');
  });
});
