import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEdgeHandler, type EdgeHandler } from '../../src/edge/handler.ts';
import { parseRange, type RangeItem, type RangeSpec, resolveRanges } from '../../src/edge/range.ts';
import { Keyring, type SignDownloadUrlInput, signDownloadUrl } from '../../src/edge/signing.ts';
import type { BlobStat, BlobStore, ByteRange } from '../../src/storage/blob-store.ts';
import { FsBlobStore } from '../../src/storage/fs.ts';

const run = promisify(execFile);
const CURL = '/usr/bin/curl';
const hasCurl = existsSync(CURL);

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const keyring = new Keyring({ keys: { t1: 'test-secret-0123456789abcdef' }, activeKid: 't1', retired: [] });
const HOUR = 3_600_000;

async function listen(handler: EdgeHandler): Promise<{ server: Server; base: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

const close = (server: Server) =>
  new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });

describe('edge handler over a real socket', () => {
  let dir: string;
  let server: Server;
  let base: string;
  const big = randomBytes(300 * 1024 + 123);
  const SIZE = big.length;
  const BIG_V = sha256(big);
  const EMPTY_V = sha256(Buffer.alloc(0));

  const sign = (over: Partial<SignDownloadUrlInput> = {}) =>
    signDownloadUrl(keyring, {
      baseUrl: base,
      objectPath: 'files/big.bin',
      version: BIG_V,
      expiresAt: new Date(Date.now() + HOUR),
      ...over,
    });
  const bigUrl = () => sign({ filename: 'big.bin' });
  const get = (url: string, headers: Record<string, string> = {}, method = 'GET') => fetch(url, { method, headers });
  const bytes = async (r: Response) => Buffer.from(await r.arrayBuffer());
  const errorCode = async (r: Response) => ((await r.json()) as { error: { code: string } }).error.code;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'haul-edge-'));
    const store = new FsBlobStore(path.join(dir, 'store'));
    await store.put('files/big.bin', big);
    await store.put('files/empty.bin', Buffer.alloc(0));
    ({ server, base } = await listen(createEdgeHandler({ keyring, store })));
  });

  afterAll(async () => {
    await close(server);
    rmSync(dir, { recursive: true, force: true });
  });

  it.skipIf(!hasCurl)('curl downloads the whole file (sha256 matches)', async () => {
    const out = path.join(dir, 'whole.bin');
    await run(CURL, ['-sS', '--fail', '-o', out, bigUrl()]);
    expect(sha256(readFileSync(out))).toBe(BIG_V);
  });

  it.skipIf(!hasCurl)('curl -r 100-199 gets exactly those bytes', async () => {
    const out = path.join(dir, 'part.bin');
    const { stdout } = await run(CURL, ['-sS', '--fail', '-r', '100-199', '-o', out, '-w', '%{http_code}', bigUrl()]);
    expect(stdout).toBe('206');
    expect(readFileSync(out).equals(big.subarray(100, 200))).toBe(true);
  });

  it('whole file: 200 with the representation headers', async () => {
    const r = await get(sign({ filename: 'report.pdf', contentType: 'application/pdf' }));
    expect(r.status).toBe(200);
    expect(r.headers.get('accept-ranges')).toBe('bytes');
    expect(r.headers.get('content-length')).toBe(String(SIZE));
    expect(r.headers.get('content-type')).toBe('application/pdf');
    expect(r.headers.get('content-disposition')).toBe('attachment; filename="report.pdf"');
    expect(r.headers.get('etag')).toBe(`"${BIG_V}"`);
    expect(Date.parse(r.headers.get('last-modified') ?? '')).not.toBeNaN();
    const maxAge = Number(/^private, max-age=(\d+)$/.exec(r.headers.get('cache-control') ?? '')?.[1]);
    expect(maxAge).toBeGreaterThan(3590);
    expect(maxAge).toBeLessThanOrEqual(3600);
    expect(sha256(await bytes(r))).toBe(BIG_V);
  });

  it('defaults to application/octet-stream and a bare attachment', async () => {
    const r = await get(sign());
    expect(r.headers.get('content-type')).toBe('application/octet-stream');
    expect(r.headers.get('content-disposition')).toBe('attachment');
    await r.arrayBuffer();
  });

  it('a non-ASCII filename gets an ASCII fallback and filename*', async () => {
    const r = await get(sign({ filename: 'Résumé 2026 €.pdf' }));
    expect(r.status).toBe(200);
    expect(r.headers.get('content-disposition')).toBe(
      `attachment; filename="R_sum_ 2026 _.pdf"; filename*=UTF-8''R%C3%A9sum%C3%A9%202026%20%E2%82%AC.pdf`,
    );
    await r.arrayBuffer();
  });

  it.each([
    ['bytes=-500', SIZE - 500, SIZE - 1],
    [`bytes=${SIZE - 10}-`, SIZE - 10, SIZE - 1],
    [`bytes=${SIZE - 5}-${SIZE + 1_000_000}`, SIZE - 5, SIZE - 1],
    [`bytes=-${SIZE * 2}`, 0, SIZE - 1],
    ['bytes=0-0', 0, 0],
    ['BYTES= 5-9 ', 5, 9],
    ['bytes=5-9, 999999999-', 5, 9],
  ])('Range %s → 206 %i-%i', async (range, start, end) => {
    const r = await get(bigUrl(), { range });
    expect(r.status).toBe(206);
    expect(r.headers.get('content-range')).toBe(`bytes ${start}-${end}/${SIZE}`);
    expect(r.headers.get('content-length')).toBe(String(end - start + 1));
    expect((await bytes(r)).equals(big.subarray(start, end + 1))).toBe(true);
  });

  it.each([`bytes=${SIZE}-`, `bytes=${SIZE + 10}-${SIZE + 20}`, 'bytes=-0', `bytes=${SIZE}-, -0`])(
    'Range %s → 416 with Content-Range bytes */size',
    async (range) => {
      const r = await get(bigUrl(), { range });
      expect(r.status).toBe(416);
      expect(r.headers.get('content-range')).toBe(`bytes */${SIZE}`);
      expect(await errorCode(r)).toBe('RANGE_NOT_SATISFIABLE');
    },
  );

  it.each([
    'items=0-10',
    'bytes=abc',
    'bytes=10-5',
    'bytes=',
    'bytes 0-10',
    'bytes=1-2-3',
    'bytes=0-99999999999999999',
    'bytes=0-1, 3-4', // several ranges: whole file until multipart exists
  ])('Range %j → 200 whole file', async (range) => {
    const r = await get(bigUrl(), { range });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-range')).toBeNull();
    expect(sha256(await bytes(r))).toBe(BIG_V);
  });

  it('If-Match: the version (or *) passes, anything else is 412', async () => {
    for (const ok of [`"${BIG_V}"`, '*', `"nope", "${BIG_V}"`]) {
      const r = await get(bigUrl(), { 'if-match': ok, range: 'bytes=0-9' });
      expect(r.status, ok).toBe(206);
      await r.arrayBuffer();
    }
    for (const bad of ['"nope"', `W/"${BIG_V}"`, 'garbage']) {
      const r = await get(bigUrl(), { 'if-match': bad });
      expect(r.status, bad).toBe(412);
      expect(await errorCode(r)).toBe('PRECONDITION_FAILED');
    }
  });

  it('If-Range: a matching ETag applies the Range, anything else sends the whole file', async () => {
    const hit = await get(bigUrl(), { 'if-range': `"${BIG_V}"`, range: 'bytes=10-19' });
    expect(hit.status).toBe(206);
    expect((await bytes(hit)).equals(big.subarray(10, 20))).toBe(true);
    for (const miss of ['"other"', `W/"${BIG_V}"`, 'Thu, 01 Jan 1970 00:00:00 GMT', 'garbage']) {
      const r = await get(bigUrl(), { 'if-range': miss, range: 'bytes=10-19' });
      expect(r.status, miss).toBe(200);
      expect(sha256(await bytes(r))).toBe(BIG_V);
    }
  });

  it('HEAD: headers without a body; Range is ignored', async () => {
    for (const headers of [{}, { range: 'bytes=0-9' }] as Record<string, string>[]) {
      const r = await get(bigUrl(), headers, 'HEAD');
      expect(r.status).toBe(200);
      expect(r.headers.get('content-length')).toBe(String(SIZE));
      expect(r.headers.get('etag')).toBe(`"${BIG_V}"`);
      expect((await bytes(r)).length).toBe(0);
    }
  });

  it('a 0-byte file: 200 with Content-Length 0; any range is 416', async () => {
    const url = sign({ objectPath: 'files/empty.bin', version: EMPTY_V });
    const r = await get(url);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-length')).toBe('0');
    expect((await bytes(r)).length).toBe(0);
    for (const range of ['bytes=0-', 'bytes=-1', 'bytes=0-0']) {
      const rr = await get(url, { range });
      expect(rr.status, range).toBe(416);
      expect(rr.headers.get('content-range')).toBe('bytes */0');
      await rr.arrayBuffer();
    }
  });

  it('a tampered signature is 403 URL_BAD_SIGNATURE', async () => {
    const u = new URL(bigUrl());
    const sig = u.searchParams.get('sig') ?? '';
    u.searchParams.set('sig', (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1));
    const r = await get(u.toString());
    expect(r.status).toBe(403);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await errorCode(r)).toBe('URL_BAD_SIGNATURE');
  });

  it('an expired URL is 403 URL_EXPIRED', async () => {
    const r = await get(sign({ expiresAt: new Date(Date.now() - 1000) }));
    expect(r.status).toBe(403);
    expect(await errorCode(r)).toBe('URL_EXPIRED');
  });

  it('no signature and a malformed URL are refused with their codes', async () => {
    const r1 = await get(`${base}/d/files/big.bin?v=${BIG_V}`);
    expect(r1.status).toBe(403);
    expect(await errorCode(r1)).toBe('URL_MISSING_SIGNATURE');
    const r2 = await get(`${bigUrl()}&zz=1`);
    expect(r2.status).toBe(403);
    expect(await errorCode(r2)).toBe('URL_MALFORMED');
  });

  it('a missing object is 404 NOT_FOUND without the path in the body', async () => {
    for (const objectPath of ['files/nothing-here.bin', 'files/a\\b.bin', 'files']) {
      const r = await get(sign({ objectPath }));
      expect(r.status, objectPath).toBe(404);
      const text = await r.text();
      expect(JSON.parse(text).error.code).toBe('NOT_FOUND');
      expect(text).not.toContain('files');
    }
  });

  it('other methods are 405 with Allow', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
      const r = await get(bigUrl(), {}, method);
      expect(r.status, method).toBe(405);
      expect(r.headers.get('allow')).toBe('GET, HEAD');
      expect(await errorCode(r)).toBe('METHOD_NOT_ALLOWED');
    }
  });
});

/** A store whose one object is generated lazily, to observe back-pressure, aborts and lies. */
class FakeStore implements BlobStore {
  readonly kind = 'fs' as const;
  produced = 0;
  destroyed = false;
  constructor(
    readonly size: number,
    /** Bytes the stream really yields (defaults to the range length). */
    readonly actual?: number,
  ) {}
  async stat(): Promise<BlobStat> {
    return { size: this.size, lastModified: new Date(0) };
  }
  async has(): Promise<boolean> {
    return true;
  }
  async put(): Promise<void> {}
  async read(_key: string, range?: ByteRange): Promise<Readable> {
    let left = this.actual ?? (range ? range.end - range.start + 1 : this.size);
    const chunk = Buffer.alloc(64 * 1024, 7);
    const r = new Readable({
      read: () => {
        if (left <= 0) return void r.push(null);
        const c = chunk.subarray(0, Math.min(chunk.length, left));
        left -= c.length;
        this.produced += c.length;
        r.push(c);
      },
    });
    r.on('close', () => {
      this.destroyed = true;
    });
    return r;
  }
}

describe('edge handler streaming', () => {
  const fakeUrl = (base: string) =>
    signDownloadUrl(keyring, {
      baseUrl: base,
      objectPath: 'x/y',
      version: 'b'.repeat(64),
      expiresAt: new Date(Date.now() + HOUR),
    });

  it('applies back-pressure and destroys the origin stream when the client goes away', async () => {
    const store = new FakeStore(1024 ** 3);
    const { server, base } = await listen(createEdgeHandler({ keyring, store }));
    try {
      const [before, after] = await new Promise<[number, number]>((resolve, reject) => {
        const req = request(fakeUrl(base), (res) => {
          if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`));
          res.pause();
          // Let the pipes fill up, check the origin stopped producing, then hang up.
          setTimeout(() => {
            const b = store.produced;
            setTimeout(() => {
              resolve([b, store.produced]);
              req.destroy();
            }, 200);
          }, 300);
        });
        req.on('error', () => {});
        req.end();
        setTimeout(() => reject(new Error('timeout')), 10_000).unref();
      });
      expect(before).toBeGreaterThan(0);
      expect(after).toBe(before);
      await expect.poll(() => store.destroyed, { timeout: 5000 }).toBe(true);
      expect(store.produced).toBeLessThan(64 * 1024 ** 2);
    } finally {
      await close(server);
    }
  });

  it.each([
    ['shorter', 100_000],
    ['longer', 300_000],
  ])('an origin %s than the stat breaks the connection instead of lying', async (_what, actual) => {
    const store = new FakeStore(200_000, actual);
    const { server, base } = await listen(createEdgeHandler({ keyring, store }));
    try {
      const r = await fetch(fakeUrl(base));
      expect(r.status).toBe(200);
      await expect(r.arrayBuffer()).rejects.toThrow();
    } finally {
      await close(server);
    }
  });

  it('an unexpected store error is a 500 INTERNAL', async () => {
    const store = new FakeStore(10);
    store.stat = async () => {
      throw new Error('disk on fire at /secret/path');
    };
    const { server, base } = await listen(createEdgeHandler({ keyring, store }));
    try {
      const r = await fetch(fakeUrl(base));
      expect(r.status).toBe(500);
      const text = await r.text();
      expect(JSON.parse(text).error.code).toBe('INTERNAL');
      expect(text).not.toContain('secret');
    } finally {
      await close(server);
    }
  });
});

describe('parseRange', () => {
  it.each<[string | undefined, RangeSpec]>([
    [undefined, { kind: 'none' }],
    ['', { kind: 'none' }],
    ['bytes=0-499', { kind: 'ranges', ranges: [{ start: 0, end: 499 }] }],
    ['Bytes=500-', { kind: 'ranges', ranges: [{ start: 500 }] }],
    ['bytes=-500', { kind: 'ranges', ranges: [{ suffix: 500 }] }],
    ['bytes=-0', { kind: 'ranges', ranges: [{ suffix: 0 }] }],
    ['bytes= 0-1 ,\t, 5-', { kind: 'ranges', ranges: [{ start: 0, end: 1 }, { start: 5 }] }],
    ['bytes=9007199254740991-', { kind: 'ranges', ranges: [{ start: 2 ** 53 - 1 }] }],
    ['bytes=0000000000000001-', { kind: 'ranges', ranges: [{ start: 1 }] }],
    ['bytes=9007199254740992-', { kind: 'none' }],
    ['bytes=00000000000000001-', { kind: 'none' }],
    ['bytes=0-99999999999999999', { kind: 'none' }],
    ['bytes=5-4', { kind: 'none' }],
    ['bytes=-', { kind: 'none' }],
    ['bytes=,', { kind: 'none' }],
    ['bytes=1', { kind: 'none' }],
    ['bytes=+1-2', { kind: 'none' }],
    ['bytes=0x10-', { kind: 'none' }],
    ['bytes=1.5-2', { kind: 'none' }],
    ['bytes=0-1, garbage', { kind: 'none' }],
    ['bytes =0-1', { kind: 'none' }],
    ['items=0-1', { kind: 'none' }],
    ['bytes=٣-٤', { kind: 'none' }],
  ])('%j', (header, expected) => {
    expect(parseRange(header)).toEqual(expected);
  });

  it('never throws', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const spec = parseRange(s);
        expect(['none', 'ranges']).toContain(spec.kind);
        parseRange(`bytes=${s}`);
      }),
    );
  });

  it('round-trips formatted range sets', () => {
    const item: fc.Arbitrary<RangeItem> = fc.oneof(
      fc.record({ suffix: fc.maxSafeNat() }),
      fc.maxSafeNat().map((start) => ({ start })),
      fc.tuple(fc.maxSafeNat(), fc.maxSafeNat()).map(([a, b]) => ({ start: Math.min(a, b), end: Math.max(a, b) })),
    );
    const fmt = (r: RangeItem) => ('suffix' in r ? `-${r.suffix}` : `${r.start}-${r.end ?? ''}`);
    fc.assert(
      fc.property(fc.array(item, { minLength: 1, maxLength: 8 }), fc.constantFrom(',', ', ', ' ,\t'), (ranges, sep) => {
        expect(parseRange(`bytes=${ranges.map(fmt).join(sep)}`)).toEqual({ kind: 'ranges', ranges });
      }),
    );
  });
});

describe('resolveRanges', () => {
  const r = (header: string, size: number, multipart = false) => resolveRanges(parseRange(header), size, { multipart });

  it.each([
    ['bytes=0-99', 1000, { kind: 'partial', start: 0, end: 99 }],
    ['bytes=900-', 1000, { kind: 'partial', start: 900, end: 999 }],
    ['bytes=900-5000', 1000, { kind: 'partial', start: 900, end: 999 }],
    ['bytes=-100', 1000, { kind: 'partial', start: 900, end: 999 }],
    ['bytes=-5000', 1000, { kind: 'partial', start: 0, end: 999 }],
    ['bytes=-0', 1000, { kind: 'unsatisfiable' }],
    ['bytes=1000-', 1000, { kind: 'unsatisfiable' }],
    ['bytes=999-999', 1000, { kind: 'partial', start: 999, end: 999 }],
    ['bytes=0-', 0, { kind: 'unsatisfiable' }],
    ['bytes=-1', 0, { kind: 'unsatisfiable' }],
    ['bytes=0-1,2-3', 1000, { kind: 'full' }],
    ['bytes=0-1,5000-', 1000, { kind: 'partial', start: 0, end: 1 }],
    ['bytes=5000-,-0', 1000, { kind: 'unsatisfiable' }],
    ['garbage', 0, { kind: 'full' }],
    ['bytes=4294967296-4294967395', 2 ** 33, { kind: 'partial', start: 2 ** 32, end: 2 ** 32 + 99 }],
    ['bytes=-1', 2 ** 53 - 1, { kind: 'partial', start: 2 ** 53 - 2, end: 2 ** 53 - 2 }],
  ] as const)('%s of %i bytes', (header, size, expected) => {
    expect(r(header, size)).toEqual(expected);
  });

  it('returns multi only when the caller can send multipart', () => {
    expect(r('bytes=0-1,-2', 10, true)).toEqual({
      kind: 'multi',
      ranges: [
        { start: 0, end: 1 },
        { start: 8, end: 9 },
      ],
    });
  });

  it('rejects an invalid size', () => {
    expect(() => resolveRanges({ kind: 'none' }, -1)).toThrow(RangeError);
    expect(() => resolveRanges({ kind: 'none' }, 1.5)).toThrow(RangeError);
  });

  /** Reference model: the set of byte indexes each range-spec selects, by enumeration. */
  function model(items: RangeItem[], size: number): Array<{ start: number; end: number }> {
    const out: Array<{ start: number; end: number }> = [];
    for (const it of items) {
      const picked: number[] = [];
      for (let i = 0; i < size; i++) {
        const inside = 'suffix' in it ? i >= size - it.suffix : i >= it.start && i <= (it.end ?? Number.POSITIVE_INFINITY);
        if (inside) picked.push(i);
      }
      if (picked.length > 0) out.push({ start: picked[0]!, end: picked[picked.length - 1]! });
    }
    return out;
  }

  it('agrees with the reference model', () => {
    const pos = fc.nat({ max: 70 });
    const item: fc.Arbitrary<RangeItem> = fc.oneof(
      pos.map((suffix) => ({ suffix })),
      pos.map((start) => ({ start })),
      fc.tuple(pos, pos).map(([a, b]) => ({ start: Math.min(a, b), end: Math.max(a, b) })),
    );
    fc.assert(
      fc.property(fc.array(item, { minLength: 1, maxLength: 4 }), fc.nat({ max: 64 }), fc.boolean(), (items, size, multipart) => {
        const got = resolveRanges({ kind: 'ranges', ranges: items }, size, { multipart });
        const want = model(items, size);
        if (want.length === 0) expect(got).toEqual({ kind: 'unsatisfiable' });
        else if (want.length === 1) expect(got).toEqual({ kind: 'partial', ...want[0] });
        else expect(got).toEqual(multipart ? { kind: 'multi', ranges: want } : { kind: 'full' });
        if (got.kind === 'partial') {
          expect(0 <= got.start && got.start <= got.end && got.end < size).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
