import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, utimes } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CachedOrigin } from '../../src/edge/cached-origin.ts';
import type { ObjectMeta, Origin } from '../../src/edge/origin.ts';
import { Keyring } from '../../src/edge/signing.ts';
import { SliceCache } from '../../src/edge/slice-cache.ts';
import { StoreOrigin } from '../../src/edge/store-origin.ts';
import { HaulError } from '../../src/errors.ts';
import { FsBlobStore } from '../../src/storage/fs.ts';
import { writeVersion } from '../../src/storage/versions.ts';
import {
  CountingOrigin,
  parseMultipart,
  putVersioned,
  type RawResponse,
  rawRequest,
  sha256,
  startEdge,
  type TestEdge,
  targetOf,
} from '../helpers/edge.ts';

/**
 * Every range and conditional rule of the edge over a real socket, each with its exact status,
 * headers and bytes. The store is a real folder; version records are written as ingest writes them.
 */

let dir: string;
let store: FsBlobStore;
let counting: CountingOrigin;
let edge: TestEdge;
const big = randomBytes(300 * 1024 + 123);
const SIZE = big.length;
const BIG_V = sha256(big);
const EMPTY_V = sha256(Buffer.alloc(0));
const old = randomBytes(5000);
const OLD_V = sha256(old);
/** Modification time of files/old.bin: two hours ago, whole second. */
const OLD_MTIME = new Date(Math.floor((Date.now() - 2 * 3_600_000) / 1000) * 1000);
let bigMtime: Date;

const bigUrl = (over: Record<string, string> = {}) =>
  edge.sign({ objectPath: 'files/big.bin', version: BIG_V, filename: 'big.bin', ...over });
const oldUrl = () => edge.sign({ objectPath: 'files/old.bin', version: OLD_V });
const get = (url: string, headers: Record<string, string | string[]> = {}, method = 'GET') =>
  rawRequest(edge.base, targetOf(url), { method, headers });
const code = (r: RawResponse) => (JSON.parse(r.body.toString()) as { error: { code: string } }).error.code;
const b64 = (hex: string) => Buffer.from(hex, 'hex').toString('base64');
const httpDate = (d: Date) => d.toUTCString();

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'haul-edge-'));
  store = new FsBlobStore(path.join(dir, 'store'));
  await putVersioned(store, 'files/big.bin', big);
  await putVersioned(store, 'files/empty.bin', Buffer.alloc(0));
  await store.put('files/old.bin', old);
  await utimes(path.join(dir, 'store/files/old.bin'), OLD_MTIME, OLD_MTIME);
  await writeVersion(store, 'files/old.bin', { sha256: OLD_V, size: old.length, lastModified: OLD_MTIME.toISOString() });
  bigMtime = (await store.stat('files/big.bin'))!.lastModified;
  counting = new CountingOrigin(new StoreOrigin(store));
  edge = await startEdge({ origin: counting });
});

afterAll(async () => {
  await edge?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('representation', () => {
  it('whole file: 200 with every representation header', async () => {
    const r = await get(bigUrl({ filename: 'report.pdf', contentType: 'application/pdf' }));
    expect(r.status).toBe(200);
    expect(r.headers).toMatchObject({
      'accept-ranges': 'bytes',
      'content-length': String(SIZE),
      'content-type': 'application/pdf',
      'content-disposition': 'attachment; filename="report.pdf"',
      etag: `"${BIG_V}"`,
      'last-modified': httpDate(bigMtime),
      'repr-digest': `sha-256=:${b64(BIG_V)}:`,
      'x-content-type-options': 'nosniff',
    });
    expect(r.headers['content-range']).toBeUndefined();
    const maxAge = Number(/^private, max-age=(\d+)$/.exec(r.headers['cache-control'] ?? '')?.[1]);
    expect(maxAge).toBeGreaterThan(3590);
    expect(maxAge).toBeLessThanOrEqual(3600);
    expect(r.body.equals(big)).toBe(true);
  });

  it('defaults to application/octet-stream and a bare attachment', async () => {
    const r = await get(edge.sign({ objectPath: 'files/big.bin', version: BIG_V }));
    expect(r.headers['content-type']).toBe('application/octet-stream');
    expect(r.headers['content-disposition']).toBe('attachment');
  });

  it('a non-ASCII filename gets an ASCII fallback and filename* (RFC 6266)', async () => {
    const r = await get(bigUrl({ filename: 'Résumé "2026" €.pdf' }));
    expect(r.status).toBe(200);
    expect(r.headers['content-disposition']).toBe(
      `attachment; filename="R_sum_ _2026_ _.pdf"; filename*=UTF-8''R%C3%A9sum%C3%A9%20%222026%22%20%E2%82%AC.pdf`,
    );
  });

  it('Repr-Digest is the digest of the whole representation, on 206 too', async () => {
    const r = await get(bigUrl(), { range: 'bytes=0-0' });
    expect(r.status).toBe(206);
    expect(r.headers['repr-digest']).toBe(`sha-256=:${b64(BIG_V)}:`);
  });

  it('HEAD: the headers of the GET without a body; Range is ignored (RFC 9110 §14.2)', async () => {
    for (const headers of [{}, { range: 'bytes=0-9' }] as Record<string, string>[]) {
      const r = await get(bigUrl(), headers, 'HEAD');
      expect(r.status).toBe(200);
      expect(r.headers['content-length']).toBe(String(SIZE));
      expect(r.headers.etag).toBe(`"${BIG_V}"`);
      expect(r.headers['content-range']).toBeUndefined();
      expect(r.body.length).toBe(0);
    }
  });

  it('a 0-byte file: 200 with Content-Length 0; Range is ignored (RFC 9110 §14.2), HEAD alike', async () => {
    const url = edge.sign({ objectPath: 'files/empty.bin', version: EMPTY_V });
    for (const [method, range] of [
      ['GET', undefined],
      ['GET', 'bytes=0-'],
      ['GET', 'bytes=-1'],
      ['GET', 'bytes=0-0,5-9'],
      ['HEAD', undefined],
    ] as const) {
      const r = await get(url, range ? { range } : ({} as Record<string, string>), method);
      expect(r.status, `${method} ${range}`).toBe(200);
      expect(r.headers['content-length']).toBe('0');
      expect(r.headers['content-range']).toBeUndefined();
      expect(r.headers.etag).toBe(`"${EMPTY_V}"`);
      expect(r.headers['repr-digest']).toBe(`sha-256=:${b64(EMPTY_V)}:`);
      expect(r.body.length).toBe(0);
    }
  });
});

describe('single ranges', () => {
  it.each([
    ['bytes=0-0', 0, 0],
    ['bytes=0-499', 0, 499],
    ['bytes=-500', SIZE - 500, SIZE - 1],
    [`bytes=${SIZE - 10}-`, SIZE - 10, SIZE - 1],
    ['bytes=0-', 0, SIZE - 1],
    [`bytes=${SIZE - 5}-${SIZE + 1_000_000}`, SIZE - 5, SIZE - 1],
    [`bytes=-${SIZE * 2}`, 0, SIZE - 1],
    [`bytes=-${SIZE}`, 0, SIZE - 1],
    [`bytes=${SIZE - 1}-${SIZE - 1}`, SIZE - 1, SIZE - 1],
    ['BYTES= 5-9 ', 5, 9],
    ['bytes=5-9, 999999999-', 5, 9],
    ['bytes=,5-9,', 5, 9],
    ['bytes=0-9,5-14,10-19', 0, 19],
    ['bytes=10-19,0-9', 0, 19],
  ])('Range %s → 206 %i-%i', async (range, start, end) => {
    const r = await get(bigUrl(), { range });
    expect(r.status).toBe(206);
    expect(r.headers['content-range']).toBe(`bytes ${start}-${end}/${SIZE}`);
    expect(r.headers['content-length']).toBe(String(end - start + 1));
    expect(r.headers['content-type']).toBe('application/octet-stream');
    expect(r.headers.etag).toBe(`"${BIG_V}"`);
    expect(r.body.equals(big.subarray(start, end + 1))).toBe(true);
  });

  it.each([`bytes=${SIZE}-`, `bytes=${SIZE + 10}-${SIZE + 20}`, 'bytes=-0', `bytes=${SIZE}-, -0`, `bytes=${2 ** 53 - 1}-`])(
    'Range %s → 416 with Content-Range bytes */size',
    async (range) => {
      const r = await get(bigUrl(), { range });
      expect(r.status).toBe(416);
      expect(r.headers['content-range']).toBe(`bytes */${SIZE}`);
      expect(r.headers['accept-ranges']).toBe('bytes');
      expect(code(r)).toBe('RANGE_NOT_SATISFIABLE');
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
    'bytes=0-1, garbage',
    `bytes=${Array.from({ length: 101 }, (_, i) => `${i * 10}-${i * 10}`).join(',')}`,
    `bytes=${Array.from({ length: 17 }, (_, i) => `${i * 10}-${i * 10}`).join(',')}`,
  ])('Range %j → ignored: 200 whole file', async (range) => {
    const r = await get(bigUrl(), { range });
    expect(r.status).toBe(200);
    expect(r.headers['content-range']).toBeUndefined();
    expect(r.body.equals(big)).toBe(true);
  });

  it('a Range header sent twice is ignored (one ranges-specifier per request)', async () => {
    const r = await get(bigUrl(), { range: ['bytes=0-9', 'bytes=20-29'] });
    expect(r.status).toBe(200);
    expect(r.body.equals(big)).toBe(true);
  });
});

describe('multipart/byteranges', () => {
  it('two ranges: 206 multipart with per-part Content-Type and Content-Range, exact Content-Length', async () => {
    const r = await get(bigUrl({ contentType: 'text/plain; charset=utf-8' }), { range: 'bytes=0-9,100-199' });
    expect(r.status).toBe(206);
    expect(r.headers['content-type']).toMatch(/^multipart\/byteranges; boundary=haul-[0-9a-f]{24}$/);
    expect(r.headers['content-range']).toBeUndefined();
    expect(r.headers['content-length']).toBe(String(r.body.length));
    expect(r.headers.etag).toBe(`"${BIG_V}"`);
    const parts = parseMultipart(r.headers['content-type'], r.body);
    expect(parts.map((p) => p.headers)).toEqual([
      { 'content-type': 'text/plain; charset=utf-8', 'content-range': `bytes 0-9/${SIZE}` },
      { 'content-type': 'text/plain; charset=utf-8', 'content-range': `bytes 100-199/${SIZE}` },
    ]);
    expect(parts[0]!.body.equals(big.subarray(0, 10))).toBe(true);
    expect(parts[1]!.body.equals(big.subarray(100, 200))).toBe(true);
  });

  it.each([
    [
      'bytes=200-209,0-9',
      [
        [200, 209],
        [0, 9],
      ],
    ],
    [
      'bytes=-10,0-0',
      [
        [SIZE - 10, SIZE - 1],
        [0, 0],
      ],
    ],
    [
      'bytes=50-59,0-9,5-14,15-19,55-60',
      [
        [50, 60],
        [0, 19],
      ],
    ],
    [
      `bytes=0-0,${SIZE - 1}-,${SIZE}-`,
      [
        [0, 0],
        [SIZE - 1, SIZE - 1],
      ],
    ],
    [
      `bytes=${Array.from({ length: 16 }, (_, i) => `${i * 10}-${i * 10}`).join(',')}`,
      Array.from({ length: 16 }, (_, i) => [i * 10, i * 10]),
    ],
    [
      `bytes=${Array.from({ length: 99 }, (_, i) => `${i}-${i}`).join(',')},500-`,
      [
        [0, 98],
        [500, SIZE - 1],
      ],
    ],
  ])('%s → parts %j (coalesced, in request order)', async (range, want) => {
    const r = await get(bigUrl(), { range });
    expect(r.status).toBe(206);
    expect(r.headers['content-length']).toBe(String(r.body.length));
    const parts = parseMultipart(r.headers['content-type'], r.body);
    expect(parts.map((p) => p.headers['content-range'])).toEqual(want.map(([a, b]) => `bytes ${a}-${b}/${SIZE}`));
    for (const [i, [a, b]] of want.entries()) expect(parts[i]!.body.equals(big.subarray(a, b! + 1))).toBe(true);
  });

  it('HEAD with several ranges: the plain 200 headers (Range applies to GET only)', async () => {
    const r = await get(bigUrl(), { range: 'bytes=0-9,100-199' }, 'HEAD');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/octet-stream');
  });
});

describe('conditional requests (RFC 9110 §13)', () => {
  const E = `"${BIG_V}"`;
  const earlier = () => httpDate(new Date(bigMtime.getTime() - 10_000));
  const later = () => httpDate(new Date(bigMtime.getTime() + 10_000));

  it('If-Match: the version, * or a list containing it passes; anything else is 412', async () => {
    for (const ok of [E, '*', `"nope", ${E}`, ` ${E} `]) {
      const r = await get(bigUrl(), { 'if-match': ok, range: 'bytes=0-9' });
      expect(r.status, ok).toBe(206);
      expect(r.body.equals(big.subarray(0, 10))).toBe(true);
    }
    for (const bad of ['"nope"', `W/${E}`, 'garbage', `${E} garbage`, '', '"a", *']) {
      const r = await get(bigUrl(), { 'if-match': bad });
      expect(r.status, bad).toBe(412);
      expect(code(r)).toBe('PRECONDITION_FAILED');
    }
  });

  it('If-Match sent on two lines is one list', async () => {
    const r = await get(bigUrl(), { 'if-match': ['"nope"', E] });
    expect(r.status).toBe(200);
  });

  it('If-None-Match: a weak or strong match, or *, is 304 for GET and HEAD; otherwise 200', async () => {
    for (const method of ['GET', 'HEAD']) {
      for (const match of [E, `W/${E}`, '*', `"x", ${E}`]) {
        const r = await get(bigUrl(), { 'if-none-match': match, range: 'bytes=0-9' }, method);
        expect(r.status, `${method} ${match}`).toBe(304);
        expect(r.headers.etag).toBe(E);
        expect(r.headers['cache-control']).toMatch(/^private, max-age=\d+$/);
        expect(r.headers['content-length']).toBeUndefined();
        expect(r.headers['content-range']).toBeUndefined();
        expect(r.body.length).toBe(0);
      }
    }
    for (const miss of ['"x"', 'W/"x"', 'garbage']) {
      const r = await get(bigUrl(), { 'if-none-match': miss });
      expect(r.status, miss).toBe(200);
      expect(r.body.equals(big)).toBe(true);
    }
  });

  it('If-Modified-Since: not modified since → 304; modified, invalid or repeated → 200', async () => {
    expect((await get(bigUrl(), { 'if-modified-since': httpDate(bigMtime) })).status).toBe(304);
    expect((await get(bigUrl(), { 'if-modified-since': later() }, 'HEAD')).status).toBe(304);
    expect((await get(bigUrl(), { 'if-modified-since': earlier() })).status).toBe(200);
    expect((await get(bigUrl(), { 'if-modified-since': 'yesterday' })).status).toBe(200);
    expect((await get(bigUrl(), { 'if-modified-since': later().replace('GMT', 'UTC') })).status).toBe(200);
  });

  it('If-Modified-Since accepts the obsolete RFC 850 and asctime forms', async () => {
    const d = new Date(bigMtime.getTime() + 86_400_000);
    const [dow, dd, mon, yyyy, time] = httpDate(d).replace(',', '').split(' ');
    const long = {
      Mon: 'Monday',
      Tue: 'Tuesday',
      Wed: 'Wednesday',
      Thu: 'Thursday',
      Fri: 'Friday',
      Sat: 'Saturday',
      Sun: 'Sunday',
    };
    const rfc850 = `${long[dow as keyof typeof long]}, ${dd}-${mon}-${yyyy!.slice(2)} ${time} GMT`;
    const asctime = `${dow} ${mon} ${String(Number(dd)).padStart(2, ' ')} ${time} ${yyyy}`;
    expect((await get(bigUrl(), { 'if-modified-since': rfc850 })).status).toBe(304);
    expect((await get(bigUrl(), { 'if-modified-since': asctime })).status).toBe(304);
  });

  it('If-Modified-Since is ignored when If-None-Match is present', async () => {
    const r = await get(bigUrl(), { 'if-none-match': '"other"', 'if-modified-since': later() });
    expect(r.status).toBe(200);
  });

  it('If-Unmodified-Since: modified since → 412; otherwise, or invalid, served', async () => {
    const r = await get(bigUrl(), { 'if-unmodified-since': earlier() });
    expect(r.status).toBe(412);
    expect(code(r)).toBe('PRECONDITION_FAILED');
    expect((await get(bigUrl(), { 'if-unmodified-since': httpDate(bigMtime), range: 'bytes=0-0' })).status).toBe(206);
    expect((await get(bigUrl(), { 'if-unmodified-since': 'not a date' })).status).toBe(200);
  });

  it('If-Unmodified-Since is ignored when If-Match is present', async () => {
    expect((await get(bigUrl(), { 'if-match': E, 'if-unmodified-since': earlier() })).status).toBe(200);
  });

  it('precedence: If-Match is evaluated before If-None-Match, and 304 wins over Range', async () => {
    expect((await get(bigUrl(), { 'if-match': '"x"', 'if-none-match': E })).status).toBe(412);
    expect((await get(bigUrl(), { 'if-match': E, 'if-none-match': E, range: 'bytes=0-0' })).status).toBe(304);
    expect((await get(bigUrl(), { 'if-unmodified-since': earlier(), 'if-none-match': E })).status).toBe(412);
  });

  it('If-Range with the strong ETag applies the Range; a weak or other one sends the whole file', async () => {
    const hit = await get(bigUrl(), { 'if-range': E, range: 'bytes=10-19' });
    expect(hit.status).toBe(206);
    expect(hit.body.equals(big.subarray(10, 20))).toBe(true);
    for (const miss of ['"other"', `W/${E}`, `${E}, ${E}`, 'garbage', httpDate(bigMtime)]) {
      const r = await get(bigUrl(), { 'if-range': miss, range: 'bytes=10-19' });
      expect(r.status, miss).toBe(200);
      expect(r.body.equals(big)).toBe(true);
    }
  });

  it('If-Range with a date: only the exact Last-Modified of a file older than a minute applies the Range', async () => {
    const exact = await get(oldUrl(), { 'if-range': httpDate(OLD_MTIME), range: 'bytes=0-99' });
    expect(exact.status).toBe(206);
    expect(exact.headers['last-modified']).toBe(httpDate(OLD_MTIME));
    expect(exact.body.equals(old.subarray(0, 100))).toBe(true);
    const later = await get(oldUrl(), { 'if-range': httpDate(new Date(OLD_MTIME.getTime() + 1000)), range: 'bytes=0-99' });
    expect(later.status).toBe(200);
    expect(later.body.equals(old)).toBe(true);
  });

  it('If-Range without a Range is ignored', async () => {
    const r = await get(bigUrl(), { 'if-range': '"other"' });
    expect(r.status).toBe(200);
  });
});

describe('versions (docs/edge.md)', () => {
  it('bytes replaced behind haul’s back: 410 VERSION_GONE, 412 with a failing If-Match, never the new bytes', async () => {
    const first = randomBytes(2000);
    const v1 = await putVersioned(store, 'files/replaced.bin', first);
    const url = edge.sign({ objectPath: 'files/replaced.bin', version: v1 });
    expect((await get(url)).body.equals(first)).toBe(true);
    await store.put('files/replaced.bin', randomBytes(2000));
    await utimes(path.join(dir, 'store/files/replaced.bin'), new Date(), new Date(Date.now() + 5000));
    const plain = await get(url);
    expect(plain.status).toBe(410);
    expect(code(plain)).toBe('VERSION_GONE');
    expect(plain.headers['cache-control']).toBe('no-store');
    expect((await get(url, { range: 'bytes=0-9' })).status).toBe(410);
    expect((await get(url, {}, 'HEAD')).status).toBe(410);
    const ifMatch = await get(url, { 'if-match': `"${v1}"`, range: 'bytes=0-9' });
    expect(ifMatch.status).toBe(412);
    expect(code(ifMatch)).toBe('PRECONDITION_FAILED');
    // `*` holds (the key holds an object), but the URL's version is still gone.
    expect((await get(url, { 'if-match': '*' })).status).toBe(410);
  });

  it('a re-ingested new version: the old URL is 410, a URL for the new version serves it', async () => {
    const v1 = await putVersioned(store, 'files/two.bin', randomBytes(1000));
    const next = randomBytes(1500);
    await new Promise((r) => setTimeout(r, 10));
    const v2 = await putVersioned(store, 'files/two.bin', next);
    expect((await get(edge.sign({ objectPath: 'files/two.bin', version: v1 }))).status).toBe(410);
    const r = await get(edge.sign({ objectPath: 'files/two.bin', version: v2 }));
    expect(r.status).toBe(200);
    expect(r.body.equals(next)).toBe(true);
  });

  it('an object never ingested has no version: 410', async () => {
    await store.put('files/raw.bin', randomBytes(100));
    expect((await get(edge.sign({ objectPath: 'files/raw.bin', version: 'c'.repeat(64) }))).status).toBe(410);
  });

  it('missing objects, odd keys and the reserved .haul/ prefix are 404 NOT_FOUND, without the path in the body', async () => {
    for (const objectPath of [
      'files/nothing-here.bin',
      'files/a\\b.bin',
      'files',
      '.haul/versions/files/big.bin.json',
      '.haul',
    ]) {
      const r = await get(edge.sign({ objectPath, version: BIG_V }));
      expect(r.status, objectPath).toBe(404);
      expect(code(r)).toBe('NOT_FOUND');
      expect(r.body.toString()).not.toContain('files');
      expect(r.body.toString()).not.toContain('haul/');
    }
  });
});

describe('signed URL refusals', () => {
  it('tampered, expired, unsigned, malformed, unknown and retired keys: 403 with a stable code', async () => {
    const u = new URL(bigUrl());
    const sig = u.searchParams.get('sig') ?? '';
    u.searchParams.set('sig', (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1));
    const otherKey = new Keyring({ keys: { zz: 'another-secret-0123456789' }, activeKid: 'zz', retired: [] });
    const cases: Array<[string, string]> = [
      [u.toString(), 'URL_BAD_SIGNATURE'],
      [edge.sign({ objectPath: 'files/big.bin', version: BIG_V, expiresAt: new Date(Date.now() - 1000) }), 'URL_EXPIRED'],
      [`${edge.base}/d/files/big.bin?v=${BIG_V}`, 'URL_MISSING_SIGNATURE'],
      [`${bigUrl()}&zz=1`, 'URL_MALFORMED'],
    ];
    const retiring = new Keyring({
      keys: { t1: 'test-secret-0123456789abcdef', t0: 'old-secret-0123456789abc' },
      activeKid: 't0',
      retired: [],
    });
    const { signDownloadUrl } = await import('../../src/edge/signing.ts');
    const byOld = signDownloadUrl(retiring, {
      baseUrl: edge.base,
      objectPath: 'files/big.bin',
      version: BIG_V,
      expiresAt: new Date(Date.now() + 60_000),
    });
    const byOther = signDownloadUrl(otherKey, {
      baseUrl: edge.base,
      objectPath: 'files/big.bin',
      version: BIG_V,
      expiresAt: new Date(Date.now() + 60_000),
    });
    cases.push([byOther, 'URL_UNKNOWN_KEY']);
    for (const [url, want] of cases) {
      const r = await rawRequest(edge.base, targetOf(url));
      expect(r.status, want).toBe(403);
      expect(r.headers['content-type']).toMatch(/^application\/json/);
      expect(code(r)).toBe(want);
    }
    // A retired key: an edge whose keyring retired t0 refuses what t0 signed.
    await using retired = await startEdge({
      origin: counting,
      keyring: new Keyring({
        keys: { t1: 'test-secret-0123456789abcdef', t0: 'old-secret-0123456789abc' },
        activeKid: 't1',
        retired: ['t0'],
      }),
    });
    const r = await rawRequest(retired.base, targetOf(byOld));
    expect(r.status).toBe(403);
    expect(code(r)).toBe('URL_RETIRED_KEY');
  });

  it('other methods are 405 with Allow', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE']) {
      const r = await get(bigUrl(), {}, method);
      expect(r.status, method).toBe(405);
      expect(r.headers.allow).toBe('GET, HEAD');
      expect(code(r)).toBe('METHOD_NOT_ALLOWED');
    }
  });

  it('never opened more origin streams than it closed', async () => {
    await expect.poll(() => counting.open).toBe(0);
    expect(counting.opened).toBeGreaterThan(50);
  });
});

/** An origin over one generated object, to observe back-pressure, aborts and lies. */
class FakeOrigin implements Origin {
  produced = 0;
  destroyed = 0;
  constructor(
    readonly size: number,
    /** Bytes the stream really yields (defaults to the range length). */
    readonly actual?: number,
  ) {}
  async head(): Promise<ObjectMeta> {
    return { size: this.size, version: 'b'.repeat(64), lastModified: new Date(0) };
  }
  async read(_ref: unknown, range: { start: number; end: number }): Promise<Readable> {
    let left = this.actual ?? range.end - range.start + 1;
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
    r.on('close', () => this.destroyed++);
    return r;
  }
}

describe('streaming and origin failures', () => {
  const fakeUrl = (e: TestEdge) => e.sign({ objectPath: 'x/y', version: 'b'.repeat(64) });

  it('applies back-pressure and destroys the origin stream when the client goes away', async () => {
    const origin = new FakeOrigin(1024 ** 3);
    await using e = await startEdge({ origin });
    const [before, after] = await new Promise<[number, number]>((resolve, reject) => {
      const req = request(fakeUrl(e), (res) => {
        if (res.statusCode !== 200) reject(new Error(`status ${res.statusCode}`));
        res.pause();
        // Let the pipes fill up, check the origin stopped producing, then hang up.
        setTimeout(() => {
          const b = origin.produced;
          setTimeout(() => {
            resolve([b, origin.produced]);
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
    await expect.poll(() => origin.destroyed, { timeout: 5000 }).toBe(1);
    expect(origin.produced).toBeLessThan(64 * 1024 ** 2);
  });

  it('a client that hangs up mid-body of a sliced (cached) response leaves the process serving', async () => {
    // The slice stream is destroyed by the request's abort signal as well as by the pump; its
    // error must never be emitted without a listener (that would crash the process).
    const inner = new FakeOrigin(64 * 1024 ** 2);
    const origin = new CachedOrigin(
      inner,
      new SliceCache({ sliceBytes: 256 * 1024, maxBytes: 1024 ** 2, bypassBytes: 1024 ** 3 }),
    );
    await using e = await startEdge({ origin });
    for (let i = 0; i < 5; i++) {
      await new Promise<void>((resolve, reject) => {
        const req = request(fakeUrl(e), (res) => {
          let got = 0;
          res.on('data', (c: Buffer) => {
            got += c.length;
            if (got >= 300 * 1024) {
              req.destroy();
              resolve();
            }
          });
          res.on('error', () => {});
        });
        req.on('error', () => {});
        req.end();
        setTimeout(() => reject(new Error('timeout')), 10_000).unref();
      });
    }
    await new Promise((r) => setTimeout(r, 100));
    const r = await fetch(fakeUrl(e), { headers: { range: 'bytes=0-9' } });
    expect(r.status).toBe(206);
    expect(Buffer.from(await r.arrayBuffer())).toEqual(Buffer.alloc(10, 7));
  });

  it('a client that stops reading is cut off after the idle timeout, releasing the origin', async () => {
    const origin = new FakeOrigin(1024 ** 3);
    await using e = await startEdge({ origin, limits: { idleTimeoutMs: 300 } });
    let serverSocketClosed = false;
    e.server.on('connection', (s) => s.on('close', () => (serverSocketClosed = true)));
    const req = request(fakeUrl(e), (res) => res.pause());
    req.on('error', () => {});
    req.end();
    await expect.poll(() => origin.destroyed, { timeout: 5000 }).toBe(1);
    expect(serverSocketClosed).toBe(true);
    req.destroy();
  });

  it.each([
    ['shorter', 100_000],
    ['longer', 300_000],
  ])('an origin %s than announced breaks the connection instead of lying', async (_what, actual) => {
    await using e = await startEdge({ origin: new FakeOrigin(200_000, actual) });
    const r = await fetch(fakeUrl(e));
    expect(r.status).toBe(200);
    await expect(r.arrayBuffer()).rejects.toThrow();
  });

  it('a multipart part that comes up short breaks the connection too', async () => {
    await using e = await startEdge({ origin: new FakeOrigin(200_000, 5) });
    const r = await fetch(fakeUrl(e), { headers: { range: 'bytes=0-9,100-199' } });
    expect(r.status).toBe(206);
    await expect(r.arrayBuffer()).rejects.toThrow();
  });

  it('an unexpected origin error is a 500 INTERNAL without details; an unavailable one is 503 with Retry-After', async () => {
    const origin = new FakeOrigin(10);
    origin.head = async () => {
      throw new Error('disk on fire at /secret/path');
    };
    await using e = await startEdge({ origin });
    const r = await rawRequest(e.base, targetOf(fakeUrl(e)));
    expect(r.status).toBe(500);
    expect(code(r)).toBe('INTERNAL');
    expect(r.body.toString()).not.toContain('secret');
    origin.head = async () => {
      throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    };
    const u = await rawRequest(e.base, targetOf(fakeUrl(e)));
    expect(u.status).toBe(503);
    expect(u.headers['retry-after']).toBe('1');
    expect(code(u)).toBe('UNAVAILABLE');
  });

  it('a version that vanishes between head and read is answered from a fresh head (410), never spliced', async () => {
    const origin = new FakeOrigin(1000);
    let heads = 0;
    origin.head = async () => ({ size: 1000, version: heads++ === 0 ? 'b'.repeat(64) : null, lastModified: new Date(0) });
    origin.read = async () => {
      throw new HaulError('NOT_FOUND', 'changed');
    };
    await using e = await startEdge({ origin });
    const r = await rawRequest(e.base, targetOf(fakeUrl(e)));
    expect(r.status).toBe(410);
    expect(heads).toBe(2);
  });

  it('reports each response once to onResponse (for metrics)', async () => {
    const seen: Array<{ status: number; bytes: number; aborted: boolean; headersMs: number | undefined }> = [];
    await using e = await startEdge({ origin: new FakeOrigin(1000), onResponse: (i) => seen.push(i) });
    await rawRequest(e.base, targetOf(fakeUrl(e)), { headers: { range: 'bytes=0-99' } });
    await rawRequest(e.base, targetOf(fakeUrl(e)), { method: 'POST' });
    await expect.poll(() => seen.length).toBe(2);
    expect(seen[0]).toMatchObject({ status: 206, bytes: 100, aborted: false });
    expect(seen[0]!.headersMs).toBeGreaterThanOrEqual(0);
    expect(seen[1]).toMatchObject({ status: 405, bytes: 0, aborted: false });
  });
});
