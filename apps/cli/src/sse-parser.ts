/** One server-sent event (https://html.spec.whatwg.org/multipage/server-sent-events.html). */
export interface SseEvent {
  event: string;
  data: string;
  id: string | undefined;
}

/**
 * An incremental text/event-stream parser: feed it decoded text in chunks split anywhere and it
 * returns the events completed so far. As the spec says: one space after the colon is dropped,
 * data lines are joined with \n, comments are ignored. Two deliberate differences, both for log
 * text. Lines end at LF, and a CR is content, not a line end: jr-api splits log text into data
 * lines at LF only, so the CRs of progress bars ("50%\r60%\r") reach the terminal as the job
 * wrote them; a stream whose first line ends in CRLF is read as a CRLF stream (CR before LF
 * dropped). And an event with a name but no data line is still delivered, so a bare `event: end`
 * is not lost.
 */
export class SseParser {
  private buffer = '';
  private pending = 0;
  /** Decided by the first line: does this stream end its lines with CRLF? */
  private crlf: boolean | undefined;

  /** `maxEventChars` bounds an unterminated line or event, so a broken server cannot exhaust memory. */
  constructor(private readonly maxEventChars = 32 * 1024 * 1024) {}

  private eventName = '';
  private dataLines: string[] = [];
  private hasData = false;
  private lastId: string | undefined;

  feed(text: string): SseEvent[] {
    this.buffer += text;
    const events: SseEvent[] = [];
    let start = 0;
    for (let lf = this.buffer.indexOf('\n'); lf !== -1; lf = this.buffer.indexOf('\n', start)) {
      const cr = lf > start && this.buffer[lf - 1] === '\r';
      this.crlf ??= cr;
      const end = cr && this.crlf ? lf - 1 : lf;
      const event = this.processLine(this.buffer.slice(start, end));
      if (event) events.push(event);
      start = lf + 1;
    }
    this.buffer = this.buffer.slice(start);
    if (this.buffer.length + this.pending > this.maxEventChars) throw new SseTooLargeError(this.maxEventChars);
    return events;
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
        this.pending += value.length;
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
    const event: SseEvent = {
      event: named ? this.eventName : 'message',
      data: this.dataLines.join('\n'),
      id: this.lastId,
    };
    const deliver = this.hasData || named;
    this.eventName = '';
    this.dataLines = [];
    this.pending = 0;
    this.hasData = false;
    return deliver ? event : undefined;
  }
}

export class SseTooLargeError extends Error {
  constructor(limit: number) {
    super(`an event of the stream is larger than ${limit} characters`);
    this.name = 'SseTooLargeError';
  }
}
