import { connect, type Socket } from 'node:net';
import { ResponseParser } from './http1-response.ts';
import type { Dispatcher } from './undici.ts';

/** What the engine streams with: undici's `Pool`, or this client for plain-HTTP origins. */
export interface RangeDispatcher {
  /** Body pieces are views of one buffer per socket, reused for every read (undici's are new buffers: garbage). */
  readonly reusesReadBuffers?: boolean;
  dispatch(opts: RawRequest, handler: Dispatcher.DispatchHandler): void;
  destroy(): Promise<void>;
}

/** A request: ranged GETs for the engine, and small POSTs (the API's GraphQL calls, request.ts). */
export interface RawRequest {
  path: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string | undefined;
}

export interface RawHttpOptions {
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  connectTimeoutMs: number;
}

/** Each socket reads into one buffer of its own, reused for every read. */
const READ_BYTES = 256 * 1024;
/** An idle keep-alive socket is closed after this long (servers close theirs after 5 s or more). */
const IDLE_MS = 4_000;

/** A socket failure with a code, as undici reports them (networkError() keeps code and message). */
class SocketError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/** The connection closed: an error, unless it ends a body delimited by the close. */
class ClosedError extends SocketError {
  constructor() {
    super('other side closed', 'UND_ERR_SOCKET');
  }
}

/**
 * A minimal HTTP/1.1 client for what `haul get` does with a plain-HTTP origin: GETs with a Range
 * header, their bodies streamed to the caller, and the API's small POSTs (request.ts), so that a
 * plain-HTTP download never loads undici (~25 ms of start-up). Each socket reads straight into one reusable
 * buffer (`net.connect`'s `onread`), so receiving allocates nothing per read, and the engine writes
 * each read to the file straight from that buffer (part-writer.ts). undici's parser runs in WebAssembly and
 * copies every read into its memory; for 1 GiB over 8 connections that was ~1.3 s of CPU where
 * this takes ~0.6 s, nearly all of it the kernel's (bench/client).
 *
 * Bodies may be delimited by Content-Length, chunked, or by the end of the connection
 * (http1-response.ts); a malformed response is an error of code BAD_RESPONSE. HTTPS origins use undici.
 * The handler protocol is undici's DispatchHandler (start, response start, data, end or error),
 * so the fetcher drives both the same way; data passed to `onResponseData` is only valid during
 * the call.
 */
export class RawHttpPool implements RangeDispatcher {
  readonly reusesReadBuffers = true;
  readonly #host: string;
  readonly #port: number;
  readonly #idle: Conn[] = [];
  #closed = false;

  constructor(
    origin: string,
    private readonly opts: RawHttpOptions,
  ) {
    const u = new URL(origin);
    if (u.protocol !== 'http:') throw new TypeError(`RawHttpPool is for http: origins, not ${u.protocol}`);
    this.#host = u.hostname.replace(/^\[|\]$/g, '');
    this.#port = Number(u.port || 80);
  }

  dispatch(opts: RawRequest, handler: Dispatcher.DispatchHandler): void {
    const head = [`${opts.method} ${opts.path} HTTP/1.1`, `host: ${this.#hostHeader()}`];
    for (const [k, v] of Object.entries(opts.headers)) head.push(`${k}: ${v}`);
    if (opts.body !== undefined) head.push(`content-length: ${Buffer.byteLength(opts.body)}`);
    const request = `${head.join('\r\n')}\r\n\r\n${opts.body ?? ''}`;
    const exchange = new Exchange(handler, request, this.opts);
    handler.onRequestStart?.(exchange.controller, {});
    if (exchange.done) return;
    if (this.#closed) exchange.fail(new SocketError('the client was closed', 'UND_ERR_DESTROYED'));
    else this.#send(exchange, true);
  }

  /** Sends on an idle socket (a reused one that closes before answering is retried once on a new one). */
  #send(exchange: Exchange, mayReuse: boolean): void {
    let conn: Conn | undefined;
    while (mayReuse && !conn && this.#idle.length > 0) {
      const idle = this.#idle.pop()!;
      if (!idle.socket.destroyed) conn = idle;
    }
    conn ??= this.#connect();
    conn.start(exchange, {
      release: () => {
        if (this.#closed) conn.socket.destroy();
        else this.#idle.push(conn);
      },
      retry: conn.reused ? () => this.#send(exchange, false) : undefined,
    });
  }

  #connect(): Conn {
    const conn: Conn = new Conn(
      connect({
        host: this.#host,
        port: this.#port,
        noDelay: true,
        onread: { buffer: Buffer.allocUnsafe(READ_BYTES), callback: (n, buf) => conn.onRead(n, buf as Buffer) },
      }),
      this.opts.connectTimeoutMs,
    );
    conn.socket.on('close', () => {
      const i = this.#idle.indexOf(conn);
      if (i >= 0) this.#idle.splice(i, 1);
    });
    return conn;
  }

  #hostHeader(): string {
    const h = this.#host.includes(':') ? `[${this.#host}]` : this.#host;
    return this.#port === 80 ? h : `${h}:${this.#port}`;
  }

  async destroy(): Promise<void> {
    this.#closed = true;
    for (const c of this.#idle.splice(0)) c.socket.destroy();
  }
}

/** One socket; an exchange at a time. */
class Conn {
  exchange: Exchange | undefined;
  reused = false;
  #hooks: { release(): void; retry: (() => void) | undefined } | undefined;
  #idleTimer: NodeJS.Timeout | undefined;

  /** What silence on the socket means now (one 'timeout' listener; the timer is re-armed per phase). */
  #silence: { ms: number; error: () => Error } | undefined;

  constructor(
    readonly socket: Socket,
    private readonly connectTimeoutMs: number,
  ) {
    socket.on('timeout', () => {
      const s = socket.connecting ? this.#connecting() : this.#silence;
      if (s) this.#fail(s.error());
    });
    socket.once('connect', () => this.#arm());
    socket.on('error', (e: NodeJS.ErrnoException) => this.#fail(new SocketError(e.message, e.code ?? 'UND_ERR_SOCKET')));
    socket.on('close', () => this.#fail(new ClosedError()));
    this.#arm();
  }

  #connecting() {
    const ms = this.connectTimeoutMs;
    return { ms, error: () => new SocketError(`connect timeout (${ms} ms)`, 'UND_ERR_CONNECT_TIMEOUT') };
  }

  /** Sets the inactivity timer for the current phase: connecting, waiting for headers, in a body, idle (none). */
  #arm(): void {
    const s = this.socket.connecting ? this.#connecting() : this.#silence;
    this.socket.setTimeout(s?.ms ?? 0);
  }

  start(exchange: Exchange, hooks: { release(): void; retry: (() => void) | undefined }): void {
    clearTimeout(this.#idleTimer);
    this.socket.ref();
    this.exchange = exchange;
    this.#hooks = hooks;
    exchange.attach(this);
    const ms = exchange.timeouts.headersTimeoutMs;
    this.#silence = { ms, error: () => new SocketError(`no response headers within ${ms} ms`, 'UND_ERR_HEADERS_TIMEOUT') };
    this.#arm();
    if (this.socket.isPaused()) this.socket.resume();
    this.socket.write(exchange.request);
  }

  /** A read landed in the socket's buffer; false pauses the socket (the caller asked for it). */
  onRead(n: number, buf: Buffer): boolean {
    const ex = this.exchange;
    if (!ex) {
      // Bytes nobody asked for on an idle socket: it cannot be trusted for another request.
      this.socket.destroy();
      return false;
    }
    ex.onBytes(buf.subarray(0, n));
    return !this.socket.isPaused();
  }

  /** The exchange ended with its body complete: the socket goes back to the pool if it may. */
  finished(keepAlive: boolean): void {
    const hooks = this.#hooks;
    this.exchange = undefined;
    this.#hooks = undefined;
    this.#silence = undefined;
    this.#arm();
    if (!keepAlive || this.socket.destroyed) {
      this.socket.destroy();
      return;
    }
    this.reused = true;
    // An idle socket does not keep the process alive (the API's pool is never closed).
    this.socket.unref();
    this.#idleTimer = setTimeout(() => this.socket.destroy(), IDLE_MS).unref();
    hooks?.release();
  }

  /** The exchange ended otherwise (aborted, failed): the socket is not reused. */
  abandoned(): void {
    this.exchange = undefined;
    this.#hooks = undefined;
    this.socket.destroy();
  }

  /** The response head arrived: from now on, silence means a stalled body. */
  bodyTimeout(ms: number): void {
    this.#silence = { ms, error: () => new SocketError(`no body bytes for ${ms} ms`, 'UND_ERR_BODY_TIMEOUT') };
    this.#arm();
  }

  #fail(e: Error): void {
    const ex = this.exchange;
    const retry = this.#hooks?.retry;
    this.exchange = undefined;
    this.#hooks = undefined;
    this.socket.destroy();
    if (!ex || ex.done) return;
    // A kept-alive socket the server had already closed: nothing was answered, so send again.
    if (retry && !ex.answered) {
      ex.detach();
      retry();
      return;
    }
    ex.fail(e);
  }
}

/** One request and its response, driving the caller's handler. */
class Exchange {
  done = false;
  /** Any byte of the response arrived. */
  answered = false;
  readonly controller: Dispatcher.DispatchController;
  #conn: Conn | undefined;
  #keepAlive = false;
  #paused = false;
  /** Why the caller aborted (null: it did not). */
  #reason: Error | null = null;
  readonly #parser = new ResponseParser({
    head: (h) => {
      this.#keepAlive = h.keepAlive;
      this.#conn?.bodyTimeout(this.timeouts.bodyTimeoutMs);
      this.handler.onResponseStart?.(this.controller, h.status, h.headers, '');
    },
    data: (piece) => this.handler.onResponseData?.(this.controller, piece),
  });

  constructor(
    private readonly handler: Dispatcher.DispatchHandler,
    readonly request: string,
    readonly timeouts: RawHttpOptions,
  ) {
    const self = this;
    this.controller = {
      get aborted() {
        return self.#reason !== null;
      },
      get paused() {
        return self.#paused;
      },
      get reason() {
        return self.#reason;
      },
      abort: (reason: Error) => {
        if (this.done) return;
        this.#reason = reason;
        this.fail(reason);
      },
      pause: () => {
        this.#paused = true;
        this.#conn?.socket.pause();
      },
      resume: () => {
        this.#paused = false;
        this.#conn?.socket.resume();
      },
    };
  }

  attach(conn: Conn): void {
    this.#conn = conn;
    if (this.#paused) conn.socket.pause();
  }

  detach(): void {
    this.#conn = undefined;
  }

  onBytes(data: Buffer): void {
    if (this.done) return;
    this.answered = true;
    const wrong = this.#parser.feed(data);
    if (wrong) this.fail(new SocketError(wrong, 'BAD_RESPONSE'));
    else if (this.#parser.ended && !this.done) this.#end(this.#keepAlive);
  }

  #end(keepAlive: boolean): void {
    this.done = true;
    const conn = this.#conn;
    this.#conn = undefined;
    conn?.finished(keepAlive);
    this.handler.onResponseEnd?.(this.controller, {});
  }

  /** Ends the exchange with an error; the close of a body read until the close ends it normally. */
  fail(e: Error): void {
    if (this.done) return;
    this.#parser.stop();
    if (e instanceof ClosedError && this.#reason === null && this.#parser.closed()) {
      this.#end(false);
      return;
    }
    this.done = true;
    const conn = this.#conn;
    this.#conn = undefined;
    conn?.abandoned();
    // Asynchronously, as undici does: the caller may still be inside its own callback.
    queueMicrotask(() => this.handler.onResponseError?.(this.controller, e));
  }
}
