/** One server-sent event (https://html.spec.whatwg.org/multipage/server-sent-events.html). */
export interface SseEvent {
  event: string;
  data: string;
  id: string | undefined;
}

/**
 * An incremental text/event-stream parser: feed it decoded text in chunks split anywhere (even
 * between CR and LF) and it returns the events completed so far. Follows the spec (CR, LF and CRLF
 * end lines; one space after the colon is dropped; data lines are joined with \n; comments are
 * ignored) with one tolerance: an event with a name but no data line is still delivered, so a bare
 * `event: end` is not lost.
 */
export class SseParser {
  private buffer = '';
  private eventName = '';
  private dataLines: string[] = [];
  private hasData = false;
  private lastId: string | undefined;

  feed(text: string): SseEvent[] {
    this.buffer += text;
    const events: SseEvent[] = [];
    for (;;) {
      const end = this.lineEnd();
      if (end === undefined) break;
      const line = this.buffer.slice(0, end.index);
      this.buffer = this.buffer.slice(end.index + end.length);
      const event = this.processLine(line);
      if (event) events.push(event);
    }
    return events;
  }

  /** The position of the first complete line terminator, waiting for more input after a trailing CR. */
  private lineEnd(): { index: number; length: number } | undefined {
    const match = /\r\n|\r|\n/.exec(this.buffer);
    if (!match) return undefined;
    if (match[0] === '\r' && match.index === this.buffer.length - 1) return undefined;
    return { index: match.index, length: match[0].length };
  }

  private processLine(line: string): SseEvent | undefined {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        this.eventName = value;
        break;
      case 'data':
        this.dataLines.push(value);
        this.hasData = true;
        break;
      case 'id':
        if (!value.includes('\0')) this.lastId = value;
        break;
      default:
        break; // `retry` and unknown fields: nothing for us
    }
    return undefined;
  }

  private dispatch(): SseEvent | undefined {
    const named = this.eventName !== '';
    const event: SseEvent = { event: named ? this.eventName : 'message', data: this.dataLines.join('\n'), id: this.lastId };
    const deliver = this.hasData || named;
    this.eventName = '';
    this.dataLines = [];
    this.hasData = false;
    return deliver ? event : undefined;
  }
}
