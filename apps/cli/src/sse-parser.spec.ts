import fc from 'fast-check';
import { SseParser, SseTooLargeError, type SseEvent } from './sse-parser';

function parseAll(chunks: string[]): SseEvent[] {
  const parser = new SseParser();
  return chunks.flatMap((c) => parser.feed(c));
}

describe('SseParser', () => {
  it('parses named events and joins multi-line data with \\n', () => {
    const events = parseAll([
      'event: log\ndata: line one\ndata: line two\ndata: \n\nevent: end\ndata: {"state":"succeeded"}\n\n',
    ]);
    expect(events).toEqual([
      { event: 'log', data: 'line one\nline two\n', id: undefined },
      { event: 'end', data: '{"state":"succeeded"}', id: undefined },
    ]);
  });

  it('gives the same events however the stream is split into chunks', () => {
    const stream =
      'event: log\ndata: a\ndata:  b\n\n: keep-alive\n\nid: 7\nevent: log\ndata: 50%\r60%\r\ndata: 70%\r\n\ndata: x\n\nevent: end\ndata:\n\n';
    const whole = parseAll([stream]);
    expect(whole).toEqual([
      { event: 'log', data: 'a\n b', id: undefined },
      { event: 'log', data: '50%\r60%\r\n70%\r', id: '7' },
      { event: 'message', data: 'x', id: '7' },
      { event: 'end', data: '', id: '7' },
    ]);
    fc.assert(
      fc.property(fc.array(fc.nat(stream.length), { maxLength: 12 }), (cuts) => {
        const points = [...new Set(cuts)].sort((a, b) => a - b);
        const chunks = points
          .map((p, i) => stream.slice(i === 0 ? 0 : points[i - 1], p))
          .concat(stream.slice(points.at(-1) ?? 0));
        expect(parseAll(chunks)).toEqual(whole);
      }),
    );
  });

  it('reads a CRLF stream (even with CRLF split across chunks) and keeps CRs as content otherwise', () => {
    const parser = new SseParser();
    expect(parser.feed('event: log\r')).toEqual([]);
    expect(parser.feed('\ndata: a\r')).toEqual([]);
    expect(parser.feed('\n\r')).toEqual([]);
    expect(parser.feed('\n')).toEqual([{ event: 'log', data: 'a', id: undefined }]);
    expect(new SseParser().feed('event: log\ndata: \rspinner\r\ndata: next\n\n')).toEqual([
      { event: 'log', data: '\rspinner\r\nnext', id: undefined },
    ]);
  });

  it('delivers nothing for an incomplete event and ignores comments and unknown fields', () => {
    const parser = new SseParser();
    expect(parser.feed(': hello\nretry: 10\nbogus\nevent: log\ndata: partial')).toEqual([]);
    expect(parser.feed('\n\n')).toEqual([{ event: 'log', data: 'partial', id: undefined }]);
  });

  it('does not dispatch an empty event without name or data', () => {
    expect(parseAll(['\n\n\n', 'id: 3\n\n'])).toEqual([]);
  });

  it('keeps data verbatim: colons, leading spaces beyond the first, terminal escapes', () => {
    expect(parseAll(['data:   spaced: a:b \x1b[31m\n\n'])).toEqual([
      { event: 'message', data: '  spaced: a:b \x1b[31m', id: undefined },
    ]);
  });

  it('refuses an event that grows past its limit, in one line or many', () => {
    expect(() => new SseParser(100).feed('data: ' + 'x'.repeat(200))).toThrow(SseTooLargeError);
    const parser = new SseParser(100);
    expect(() => {
      for (let i = 0; i < 20; i++) parser.feed('data: xxxxxxxxxx\n');
    }).toThrow(SseTooLargeError);
    expect(new SseParser(100).feed('data: ok\n\n'.repeat(50))).toHaveLength(50);
  });
});
