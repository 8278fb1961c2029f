import { createHash } from 'node:crypto';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createNetServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ResponseParser } from '../../src/client/http1-response.ts';
import { RawHttpPool } from '../../src/client/raw-http.ts';

/**
 * RawHttpPool (the engine's plain-HTTP range client) against real servers: node:http for what
 * well-behaved servers send, and raw TCP servers for what only a misbehaving or unusual one does.
 */

const OPTS = { headersTimeoutMs: 5_000, bodyTimeoutMs: 5_000, connectTimeoutMs: 5_000 };
const closers: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

async function listen(server: Server | ReturnType<typeof createNetServer>): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => new Promise((r) => server.close(() => r(undefined))));
  const a = server.address();
  if (!a || typeof a === 'string') throw new Error('no address');
  return `http://127.0.0.1:${a.port}`;
}

interface Got {
  status?: number;
  headers?: Record<string, string | string[]>;
  body: Buffer;
  error?: Error & { code?: string };
  reads: number;
}

/** One GET through `pool`, collected; `slow` pauses after every read and resumes 1 ms later. */
function get(pool: RawHttpPool, path: string, opts: { headers?: Record<string, string>; slow?: boolean } = {}): Promise<Got> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    const got: Got = { body: Buffer.alloc(0), reads: 0 };
    pool.dispatch(
      { path, method: 'GET', headers: opts.headers ?? {} },
      {
        onResponseStart(_c, status, headers) {
          got.status = status;
          got.headers = headers as Record<string, string | string[]>;
        },
        onResponseData(c, data) {
          parts.push(Buffer.from(data)); // only valid during the call
          got.reads++;
          if (opts.slow) {
            c.pause();
            setTimeout(() => c.resume(), 1);
          }
        },
        onResponseEnd() {
          got.body = Buffer.concat(parts);
          resolve(got);
        },
        onResponseError(_c, error) {
          got.error = error as Got['error'];
          got.body = Buffer.concat(parts);
          resolve(got);
        },
      },
    );
  });
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('RawHttpPool against node:http', () => {
  it('streams a Content-Length body exactly, reuses the kept-alive socket, honours pause/resume', async () => {
    const body = Buffer.alloc(5 * 1024 * 1024);
    for (let i = 0; i < body.length; i += 4) body.writeUInt32LE(i, i);
    let connections = 0;
    const server = createHttpServer((req, res) => {
      const [a, b] = /bytes=(\d+)-(\d+)/
        .exec(req.headers.range ?? '')!
        .slice(1)
        .map(Number) as [number, number];
      res.writeHead(206, { 'content-length': b - a + 1, 'content-range': `bytes ${a}-${b}/${body.length}` });
      res.end(body.subarray(a, b + 1));
    });
    server.on('connection', () => connections++);
    const pool = new RawHttpPool(await listen(server), OPTS);
    closers.unshift(() => pool.destroy());
    const first = await get(pool, '/f', { headers: { range: `bytes=0-${body.length - 1}` } });
    expect(first.error).toBeUndefined();
    expect(first.status).toBe(206);
    expect(first.headers!['content-range']).toBe(`bytes 0-${body.length - 1}/${body.length}`);
    expect(sha(first.body)).toBe(sha(body));
    const second = await get(pool, '/f', { headers: { range: 'bytes=100-1000099' }, slow: true });
    expect(sha(second.body)).toBe(sha(body.subarray(100, 1_000_100)));
    expect(second.reads).toBeGreaterThan(1);
    expect(connections).toBe(1);
  });

  it('decodes a chunked body (an error page, say) and keeps the socket', async () => {
    const server = createHttpServer((_req, res) => {
      res.writeHead(403, { 'content-type': 'text/plain' });
      res.write('signature ');
      res.write('expired');
      res.end();
    });
    const pool = new RawHttpPool(await listen(server), OPTS);
    closers.unshift(() => pool.destroy());
    for (let i = 0; i < 2; i++) {
      const r = await get(pool, '/x');
      expect(r.error).toBeUndefined();
      expect(r.status).toBe(403);
      expect(r.headers!['transfer-encoding']).toBe('chunked');
      expect(r.body.toString()).toBe('signature expired');
    }
  });
});

/** A TCP server that answers each connection with `script(socket, request)`. */
async function rawServer(script: (s: Socket, request: string, n: number) => void) {
  let n = 0;
  const server = createNetServer((s) => {
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString('latin1');
      while (buf.includes('\r\n\r\n')) {
        const i = buf.indexOf('\r\n\r\n');
        const request = buf.slice(0, i);
        buf = buf.slice(i + 4);
        script(s, request, n++);
      }
    });
    s.on('error', () => {});
  });
  return new RawHttpPool(await listen(server), OPTS);
}

describe('RawHttpPool against unusual servers', () => {
  it('a response split into single bytes, chunked with extensions and trailers, after a 100 Continue', async () => {
    const wire = Buffer.from(
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n' +
        '5;ext=1\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n',
    );
    const pool = await rawServer((s) => {
      let i = 0;
      const drip = () => {
        if (i < wire.length) s.write(wire.subarray(i, ++i), () => setImmediate(drip));
      };
      drip();
    });
    closers.unshift(() => pool.destroy());
    const r = await get(pool, '/drip');
    expect(r.error).toBeUndefined();
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('hello 0123456789');
  });

  it('a body delimited by the end of the connection', async () => {
    const pool = await rawServer((s) => s.end('HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end'));
    closers.unshift(() => pool.destroy());
    const r = await get(pool, '/');
    expect(r.error).toBeUndefined();
    expect(r.body.toString()).toBe('until the end');
  });

  it('more bytes than Content-Length, a malformed status line, a bad chunk size: BAD_RESPONSE errors', async () => {
    const answers = [
      'HTTP/1.1 206 Partial Content\r\nContent-Length: 3\r\n\r\nabcdef',
      'SPDY/9 200 OK\r\n\r\n',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
    ];
    for (const answer of answers) {
      const pool = await rawServer((s) => s.write(answer));
      closers.unshift(() => pool.destroy());
      const r = await get(pool, '/');
      expect(r.error?.code, answer).toBe('BAD_RESPONSE');
    }
  });

  it('a kept-alive socket the server closed unanswered: sent again once on a new connection', async () => {
    const pool = await rawServer((s, _req, n) => {
      if (n === 0) s.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst');
      // The second request arrives on the kept-alive socket, which the server drops unanswered.
      else if (n === 1) s.destroy();
      else s.write('HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond');
    });
    closers.unshift(() => pool.destroy());
    expect((await get(pool, '/a')).body.toString()).toBe('first');
    const r = await get(pool, '/b');
    expect(r.error).toBeUndefined();
    expect(r.body.toString()).toBe('second');
  });

  it('a fresh connection closed before any answer is an error (no endless retry); silence trips the timeout', async () => {
    const closing = await rawServer((s) => s.destroy());
    closers.unshift(() => closing.destroy());
    expect((await get(closing, '/')).error?.code).toBe('UND_ERR_SOCKET');

    const silent = new RawHttpPool(await listen(createNetServer((s) => s.on('error', () => {}).resume())), {
      ...OPTS,
      headersTimeoutMs: 200,
    });
    closers.unshift(() => silent.destroy());
    expect((await get(silent, '/')).error?.code).toBe('UND_ERR_HEADERS_TIMEOUT');
  });
});

describe('ResponseParser', () => {
  it('finds the end of the head wherever the reads split it, and passes the body on untouched', () => {
    const body = Buffer.from('body\r\n\r\nbytes that look like a blank line');
    const whole = Buffer.concat([Buffer.from(`HTTP/1.1 206 Partial Content\r\ncontent-length: ${body.length}\r\n\r\n`), body]);
    for (let a = 1; a < whole.length; a++)
      for (const b of [a, Math.min(whole.length, a + 1), Math.min(whole.length, a + 3), whole.length]) {
        const heads: number[] = [];
        const pieces: Buffer[] = [];
        const p = new ResponseParser({ head: (h) => heads.push(h.status), data: (d) => pieces.push(Buffer.from(d)) });
        for (const part of [whole.subarray(0, a), whole.subarray(a, b), whole.subarray(b)])
          if (part.length > 0) expect(p.feed(part)).toBeUndefined();
        expect(heads, `split at ${a}, ${b}`).toEqual([206]);
        expect(Buffer.concat(pieces).equals(body), `split at ${a}, ${b}`).toBe(true);
        expect(p.ended).toBe(true);
      }
  });

  it('refuses a head that never ends', () => {
    const p = new ResponseParser({ head: () => {}, data: () => {} });
    expect(p.feed(Buffer.from('HTTP/1.1 200 OK\r\n'))).toBeUndefined();
    expect(p.feed(Buffer.alloc(70 * 1024, 'x'))).toBe('response head too large');
  });
});
