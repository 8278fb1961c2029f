import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, rm, symlink } from 'node:fs/promises';
import { request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEdgeHandler } from '../../src/edge/handler.ts';
import { buildEdgeServer, type EdgeServer } from '../../src/edge/server.ts';
import { signDownloadUrl } from '../../src/edge/signing.ts';
import { StoreOrigin } from '../../src/edge/store-origin.ts';
import { FsBlobStore } from '../../src/storage/fs.ts';
import { writeVersion } from '../../src/storage/versions.ts';
import { CountingOrigin, HOUR, openFds, putVersioned, rawRequest, sha256, targetOf, testKeyring } from '../helpers/edge.ts';

/**
 * Hostile input against the real edge server (`haul edge`'s): traversal, oversized URLs and
 * headers, abusive range sets, garbage in every header, clients that hang up mid-body. After all
 * of it the process still serves, and file descriptors and origin streams are back to baseline.
 */

let dir: string;
let edge: EdgeServer;
let base: string;
let origin: CountingOrigin;
const small = randomBytes(256 * 1024);
let SMALL_V: string;
const BIG_SIZE = 256 * 1024 * 1024;
const BIG_V = 'd'.repeat(64);
let fdBaseline: number;

const sign = (objectPath: string, version: string) =>
  signDownloadUrl(testKeyring, { baseUrl: base, objectPath, version, expiresAt: new Date(Date.now() + HOUR) });
const smallUrl = () => sign('files/small.bin', SMALL_V);
const bigUrl = () => sign('files/big.bin', BIG_V);

/** Sends raw bytes on a fresh connection; resolves with everything the server answered before closing it. */
function rawExchange(bytes: Buffer | string): Promise<string> {
  return new Promise((resolve, reject) => {
    const u = new URL(base);
    const socket = connect(Number(u.port), u.hostname);
    const parts: Buffer[] = [];
    socket.on('data', (c: Buffer) => parts.push(c));
    socket.on('error', (e: NodeJS.ErrnoException) =>
      e.code === 'ECONNRESET' ? resolve(Buffer.concat(parts).toString('latin1')) : reject(e),
    );
    socket.on('close', () => resolve(Buffer.concat(parts).toString('latin1')));
    // Not end(): a client that half-closes has its pending request aborted by Node's server.
    socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
    setTimeout(() => socket.destroy(), 3000).unref();
  });
}
const statusOf = (raw: string) => Number(/^HTTP\/1\.1 (\d{3}) /.exec(raw)?.[1] ?? 0);

/** Starts a download, reads about `after` bytes, then destroys the connection. */
function hangUpAfter(url: string, after: number, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    let got = 0;
    const req = request(url, { headers, agent: false }, (res) => {
      res.on('data', (c: Buffer) => {
        got += c.length;
        if (got >= after) {
          req.destroy();
          resolve(res.statusCode ?? 0);
        }
      });
      res.on('error', () => {});
    });
    req.on('error', (e) => (got >= after ? undefined : reject(e)));
    req.end();
  });
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'haul-hostile-'));
  const root = path.join(dir, 'store');
  const store = new FsBlobStore(root);
  SMALL_V = await putVersioned(store, 'files/small.bin', small);
  // A large sparse object with a made-up version record: lets a client hang up mid-body.
  const fh = await open(path.join(root, 'files/big.bin'), 'w');
  await fh.truncate(BIG_SIZE);
  await fh.close();
  const st = await store.stat('files/big.bin');
  await writeVersion(store, 'files/big.bin', { sha256: BIG_V, size: BIG_SIZE, lastModified: st!.lastModified.toISOString() });
  // A symlink inside the store that points out of it.
  await mkdir(path.join(dir, 'outside'), { recursive: true });
  await (await open(path.join(dir, 'outside/secret.txt'), 'w')).close();
  await symlink(path.join(dir, 'outside/secret.txt'), path.join(root, 'files/escape.txt'));
  await writeVersion(store, 'files/escape.txt', { sha256: 'a'.repeat(64), size: 0, lastModified: new Date().toISOString() });

  origin = new CountingOrigin(new StoreOrigin(store));
  edge = buildEdgeServer({ handler: createEdgeHandler({ keyring: testKeyring, origin }) });
  base = `http://127.0.0.1:${await edge.start(0)}`;
  // Warm up (lazy module state, the store's root), then take the baseline.
  expect((await rawRequest(base, targetOf(smallUrl()))).status).toBe(200);
  for (let i = 0; i < 50 && origin.open > 0; i++) await new Promise((r) => setTimeout(r, 20));
  fdBaseline = await openFds();
});

afterAll(async () => {
  await edge?.stop(0);
  await rm(dir, { recursive: true, force: true });
});

describe('hostile input', () => {
  it('path traversal in every spelling: refused before any byte, never a file outside the store', async () => {
    const q = new URL(smallUrl()).search;
    const targets = [
      `/d/../outside/secret.txt${q}`,
      `/d/files/../../outside/secret.txt${q}`,
      `/d/files/%2e%2e/%2e%2e/outside/secret.txt${q}`,
      `/d/files/..%2f..%2foutside%2fsecret.txt${q}`,
      `/d/files%2f..%2f..%2foutside/secret.txt${q}`,
      `/d/%2Fetc%2Fpasswd${q}`,
      `/d//etc/passwd${q}`,
      `/d/files\\..\\..\\outside\\secret.txt${q}`,
      `/d/files/small.bin%00.txt${q}`,
      '/d/../../../../etc/passwd',
    ];
    for (const target of targets) {
      const r = await rawExchange(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      expect([400, 403, 404], target).toContain(statusOf(r));
      expect(r).not.toContain('root:');
    }
    // Dot segments are resolved before verification (WHATWG URL): a spelling that resolves to the
    // signed path is that path, so it serves exactly the signed file and nothing else.
    const dotted = await rawRequest(base, `/d/files/./x/../small.bin${q}`);
    expect(dotted.status).toBe(200);
    expect(sha256(dotted.body)).toBe(SMALL_V);
    // Signed, but naming a symlink that leaves the store, or haul's own records: 404.
    for (const url of [sign('files/escape.txt', 'a'.repeat(64)), sign('.haul/versions/files/small.bin.json', SMALL_V)]) {
      const r = await rawRequest(base, targetOf(url));
      expect(r.status).toBe(404);
    }
  });

  it('URL and header length limits: 414 above 8 KiB of URL, 431 above 16 KiB of headers', async () => {
    const long = `${smallUrl()}&${'x'.repeat(9000)}`;
    const r = await rawRequest(base, targetOf(smallUrl()).replace('?', `${'/a'.repeat(4500)}?`));
    expect(r.status).toBe(414);
    expect(JSON.parse(r.body.toString()).error.code).toBe('URL_TOO_LONG');
    expect(statusOf(await rawExchange(`GET ${targetOf(long)}${'y'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`))).toBe(431);
    const bigHeader = await rawExchange(
      `GET ${targetOf(smallUrl())} HTTP/1.1\r\nHost: x\r\nX-Big: ${'z'.repeat(20_000)}\r\n\r\n`,
    );
    expect(statusOf(bigHeader)).toBe(431);
  });

  it('thousands of tiny ranges are ignored (200), fast; overlapping copies collapse to one part', async () => {
    const tiny = `bytes=${Array.from({ length: 1500 }, (_, i) => `${i * 2}-${i * 2}`).join(',')}`;
    const t0 = performance.now();
    const r = await rawRequest(base, targetOf(smallUrl()), { headers: { range: tiny } });
    expect(r.status).toBe(200);
    expect(sha256(r.body)).toBe(SMALL_V);
    expect(performance.now() - t0).toBeLessThan(2000);
    const overlapping = await rawRequest(base, targetOf(smallUrl()), {
      headers: { range: `bytes=${Array(99).fill('0-').join(',')}` },
    });
    expect(overlapping.status).toBe(206);
    expect(overlapping.headers['content-length']).toBe(String(small.length));
    const spread = await rawRequest(base, targetOf(smallUrl()), {
      headers: { range: `bytes=${Array.from({ length: 40 }, (_, i) => `${i * 100}-${i * 100 + 10}`).join(',')}` },
    });
    expect(spread.status).toBe(200);
  });

  it('garbage in every header never crashes and never answers outside the protocol', async () => {
    const names = [
      'range',
      'if-range',
      'if-match',
      'if-none-match',
      'if-modified-since',
      'if-unmodified-since',
      'accept-encoding',
      'te',
      'expect',
      'connection',
      'content-length',
      'transfer-encoding',
      'host',
      'x-request-id',
    ];
    const target = targetOf(smallUrl());
    const value = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }).map((s) => Buffer.from(s, 'utf8').toString('latin1')),
      fc.constantFrom(
        '*',
        '"',
        'W/',
        ',,,',
        'bytes=',
        'bytes=-',
        'bytes=0-0,'.repeat(500),
        '\t',
        '\u00ff\u00fe',
        'x'.repeat(8000),
      ),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...names), value, async (name, v) => {
        const clean = v.replace(/[\r\n]/g, ' ');
        const raw = await rawExchange(`GET ${target} HTTP/1.1\r\nHost: x\r\n${name}: ${clean}\r\nConnection: close\r\n\r\n`);
        const status = statusOf(raw);
        expect([200, 206, 304, 400, 412, 413, 416, 417, 431, 501], `${name}: ${JSON.stringify(clean.slice(0, 80))}`).toContain(
          status,
        );
      }),
      { numRuns: 300 },
    );
    // Raw control bytes and broken framing are the HTTP parser's to refuse (400), not a crash.
    for (const bytes of ['GET / HTTP/1.1\r\nHost: x\r\nRange: a\0b\r\n\r\n', 'GARBAGE\r\n\r\n', '\x16\x03\x01\x02\x00\x01\x00']) {
      expect([0, 400]).toContain(statusOf(await rawExchange(bytes)));
    }
  });

  it('odd methods and a GET with a body are answered cleanly', async () => {
    for (const method of ['FOO', 'PROPFIND', 'DELETE']) {
      const raw = await rawExchange(`${method} ${targetOf(smallUrl())} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      expect([400, 405], method).toContain(statusOf(raw));
    }
    // CONNECT is a tunnel request: with no tunnel handler, Node's server just closes the connection.
    expect([0, 400]).toContain(statusOf(await rawExchange(`CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n`)));
    const withBody = await rawExchange(
      `GET ${targetOf(smallUrl())} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nRange: bytes=0-3\r\nConnection: close\r\n\r\nhello`,
    );
    expect(statusOf(withBody)).toBe(206);
  });

  it('clients hanging up mid-body, single and multipart, release every origin stream', async () => {
    const statuses = await Promise.all([
      ...Array.from({ length: 12 }, () => hangUpAfter(bigUrl(), 2 * 1024 * 1024)),
      ...Array.from({ length: 4 }, () => hangUpAfter(bigUrl(), 1024 * 1024, { range: `bytes=0-99999999,150000000-` })),
      ...Array.from({ length: 4 }, () => hangUpAfter(bigUrl(), 100, { range: 'bytes=200000000-' })),
    ]);
    expect(new Set(statuses)).toEqual(new Set([200, 206]));
    await expect.poll(() => origin.open, { timeout: 5000 }).toBe(0);
  });

  it('memory stays flat: 4 concurrent 256 MiB downloads (1 GiB through the edge) grow RSS by far less than that', async () => {
    const rss0 = process.memoryUsage().rss;
    let peak = rss0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 20);
    try {
      const sizes = await Promise.all(
        Array.from(
          { length: 4 },
          () =>
            new Promise<number>((resolve, reject) => {
              let n = 0;
              const req = request(bigUrl(), { agent: false }, (res) => {
                res.on('data', (c: Buffer) => {
                  n += c.length;
                });
                res.on('end', () => resolve(n));
                res.on('error', reject);
              });
              req.on('error', reject);
              req.end();
            }),
        ),
      );
      expect(sizes).toEqual([BIG_SIZE, BIG_SIZE, BIG_SIZE, BIG_SIZE]);
    } finally {
      clearInterval(sampler);
    }
    expect(peak - rss0).toBeLessThan(96 * 1024 * 1024);
  });

  it('afterwards the process still serves, and file descriptors are back to baseline', async () => {
    const r = await rawRequest(base, targetOf(smallUrl()));
    expect(r.status).toBe(200);
    expect(sha256(r.body)).toBe(SMALL_V);
    expect((await rawRequest(base, '/healthz')).status).toBe(200);
    expect((await rawRequest(base, '/readyz')).status).toBe(200);
    expect((await rawRequest(base, '/nope')).status).toBe(404);
    await expect.poll(() => origin.open, { timeout: 5000 }).toBe(0);
    await expect.poll(openFds, { timeout: 5000 }).toBeLessThanOrEqual(fdBaseline);
  });
});
