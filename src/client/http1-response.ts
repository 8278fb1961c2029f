/** A response head: status, headers (lower-case names; repeated ones as arrays), and whether the connection may be reused. */
export interface ResponseHead {
  status: number;
  headers: Record<string, string | string[]>;
  keepAlive: boolean;
}

const MAX_HEAD_BYTES = 64 * 1024;
const MAX_CHUNK_LINE = 4096;

/** How the body ends (RFC 9112 §6.3): after a length, after the last chunk, or with the connection. */
type Framing =
  | { kind: 'length'; left: number }
  | { kind: 'chunked'; state: 'size' | 'data' | 'data-end' | 'trailer'; left: number; line: string }
  | { kind: 'close' };

/**
 * The framing of one HTTP/1.1 response, fed the bytes as they arrive in any split: the head
 * (interim 1xx heads skipped), then a body delimited by Content-Length, chunked transfer coding
 * or the end of the connection. The head and each piece of body go to `sink` as soon as they are
 * known; body pieces are views of the bytes fed, valid only during the call. Malformed input is
 * answered with what is wrong, and nothing more is parsed.
 */
export class ResponseParser {
  /** The whole response was read (a close-delimited one: once `closed()` said so). */
  ended = false;
  #head = '';
  #framing: Framing | undefined;
  #stopped = false;

  constructor(private readonly sink: { head(h: ResponseHead): void; data(piece: Buffer): void }) {}

  /** No more callbacks, whatever is fed (the caller gave up on the response). */
  stop(): void {
    this.#stopped = true;
  }

  /** Parses `data`; returns what is wrong with the response, if anything. */
  feed(data: Buffer): string | undefined {
    let body = data;
    while (!this.#framing) {
      // Only the head's bytes become a string: the rest of the read (up to 256 KiB of body) is
      // searched as bytes, where converting it all cost ~1.5 ms per response.
      const end = this.#headEnd(body);
      if (end < 0) {
        if (this.#head.length + body.length > MAX_HEAD_BYTES) return 'response head too large';
        this.#head += body.toString('latin1');
        return undefined;
      }
      const head = `${this.#head}${body.toString('latin1', 0, end)}`.slice(0, -4);
      body = body.subarray(end);
      this.#head = '';
      const wrong = this.#parseHead(head);
      if (wrong || this.#stopped) return wrong;
    }
    const f = this.#framing;
    if (f.kind === 'chunked') return this.#chunked(f, body);
    if (f.kind === 'length') {
      // More than the response announced: the connection is out of step.
      if (body.length > f.left) return 'the server sent more than Content-Length';
      f.left -= body.length;
      this.ended = f.left === 0;
    }
    if (body.length > 0) this.sink.data(body);
    return undefined;
  }

  /** Offset in `body` just past the blank line that ends the head (which may have begun in an earlier read), or -1. */
  #headEnd(body: Buffer): number {
    const tail = this.#head.slice(-3);
    if (tail.length > 0) {
      const i = `${tail}${body.toString('latin1', 0, Math.min(3, body.length))}`.indexOf('\r\n\r\n');
      if (i >= 0) return i + 4 - tail.length;
    }
    const i = body.indexOf('\r\n\r\n');
    return i < 0 ? -1 : i + 4;
  }

  /** The connection closed: true when that completes the response (a body delimited by the close). */
  closed(): boolean {
    if (this.#framing?.kind === 'close' && !this.ended) this.ended = true;
    return this.ended;
  }

  /** Reads a head; a final one sets the framing and goes to the sink, an interim (1xx) one is skipped. */
  #parseHead(head: string): string | undefined {
    const lines = head.split('\r\n');
    const m = /^HTTP\/1\.([01]) (\d{3})(?: .*)?$/.exec(lines[0] ?? '');
    if (!m) return `not an HTTP/1.x response: ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`;
    const status = Number(m[2]);
    if (status >= 100 && status < 200) return undefined; // 100 Continue and the like: the real head follows
    const headers: Record<string, string | string[]> = {};
    for (const line of lines.slice(1)) {
      const i = line.indexOf(':');
      if (i <= 0) continue;
      const k = line.slice(0, i).trim().toLowerCase();
      const v = line.slice(i + 1).trim();
      const prev = headers[k];
      headers[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
    }
    const te = headers['transfer-encoding'];
    const length = headers['content-length'];
    let framing: Framing;
    if (status === 204 || status === 304) framing = { kind: 'length', left: 0 };
    else if (te !== undefined) {
      if (String(te).toLowerCase() !== 'chunked') return `unsupported Transfer-Encoding: ${String(te)}`;
      framing = { kind: 'chunked', state: 'size', left: 0, line: '' };
    } else if (typeof length === 'string' && /^\d+$/.test(length)) framing = { kind: 'length', left: Number(length) };
    else if (length === undefined) framing = { kind: 'close' };
    else return `bad Content-Length: ${String(length)}`;
    const connection = String(headers.connection ?? '').toLowerCase();
    const keepAlive =
      framing.kind !== 'close' && (m[1] === '1' ? !connection.includes('close') : connection.includes('keep-alive'));
    this.#framing = framing;
    this.ended = framing.kind === 'length' && framing.left === 0;
    this.sink.head({ status, headers, keepAlive });
    return undefined;
  }

  /** A chunked body (RFC 9112 §7.1): sizes in hex on their own lines, data, then trailers. */
  #chunked(f: Extract<Framing, { kind: 'chunked' }>, body: Buffer): string | undefined {
    let i = 0;
    while (i < body.length && !this.#stopped) {
      if (f.state === 'data') {
        const n = Math.min(f.left, body.length - i);
        this.sink.data(body.subarray(i, i + n));
        f.left -= n;
        i += n;
        if (f.left === 0) f.state = 'data-end';
        continue;
      }
      const nl = body.indexOf(10, i);
      f.line += body.toString('latin1', i, nl < 0 ? body.length : nl);
      if (f.line.length > MAX_CHUNK_LINE) return 'chunked body: line too long';
      if (nl < 0) return undefined;
      i = nl + 1;
      const line = f.line.replace(/\r$/, '');
      f.line = '';
      if (f.state === 'data-end') {
        if (line !== '') return 'chunked body: no CRLF after a chunk';
        f.state = 'size';
      } else if (f.state === 'size') {
        const m = /^([0-9a-fA-F]{1,12})(?:[ \t]*;.*)?$/.exec(line);
        if (!m) return `chunked body: bad chunk size ${JSON.stringify(line.slice(0, 40))}`;
        f.left = Number.parseInt(m[1]!, 16);
        f.state = f.left === 0 ? 'trailer' : 'data';
      } else if (line === '') {
        // The empty line after the trailers: the body is complete.
        if (i !== body.length) return 'chunked body: bytes after its end';
        this.ended = true;
        return undefined;
      }
    }
    return undefined;
  }
}
