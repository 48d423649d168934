/** One server-sent event: its name (`message` unless named), its data (lines joined with `\n`), and the last event id. */
export interface ServerSentEvent {
  event: string;
  data: string;
  id: string;
}

/** The text/event-stream format as the HTML specification parses it: CRLF, LF or CR line ends (even split across reads),
 *  one leading space of a value removed, `data` lines joined with newlines, `id` and `retry` kept, comments ignored. */
export class EventStreamParser {
  private buffer = '';
  private readonly decoder = new TextDecoder('utf-8');
  private pendingCr = false;
  private started = false;
  private name = '';
  private data: string[] = [];
  lastEventId = '';
  retryMs: number | undefined;

  feed(chunk: Uint8Array): ServerSentEvent[] {
    let text = this.decoder.decode(chunk, { stream: true });
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (this.pendingCr && text.startsWith('\n')) text = text.slice(1);
    this.pendingCr = false;
    this.buffer += text;
    const events: ServerSentEvent[] = [];
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.buffer);
      if (!match) break;
      const line = this.buffer.slice(0, match.index);
      if (match[0] === '\r' && match.index + 1 === this.buffer.length) this.pendingCr = true;
      this.buffer = this.buffer.slice(match.index + match[0].length);
      const event = this.line(line);
      if (event) events.push(event);
    }
    return events;
  }

  private line(line: string): ServerSentEvent | undefined {
    if (line === '') {
      if (this.data.length === 0) {
        this.name = '';
        return undefined;
      }
      const event = { event: this.name || 'message', data: this.data.join('\n'), id: this.lastEventId };
      this.name = '';
      this.data = [];
      return event;
    }
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.name = value;
    else if (field === 'data') this.data.push(value);
    else if (field === 'id' && !value.includes('\0')) this.lastEventId = value;
    else if (field === 'retry' && /^\d+$/.test(value)) this.retryMs = Number(value);
    return undefined;
  }
}
