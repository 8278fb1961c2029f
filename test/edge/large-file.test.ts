import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreOrigin } from '../../src/edge/store-origin.ts';
import { FsBlobStore } from '../../src/storage/fs.ts';
import { writeVersion } from '../../src/storage/versions.ts';
import { parseMultipart, rawRequest, startEdge, type TestEdge, targetOf } from '../helpers/edge.ts';

/**
 * Offsets above 4 GiB, on a sparse file of 5 GiB + 123 bytes with known bytes planted around the
 * 4 GiB boundary and at the end. Hashing 5 GiB would take too long for CI, so the version record
 * carries a made-up (but well-formed) SHA-256 with the file's real size and time: this test checks
 * ranges and headers only. That the bytes of large files match their version is the ingest tests'
 * job; here the edge trusts the record as it does in production.
 */

const run = promisify(execFile);
const GiB = 1024 ** 3;
const SIZE = 5 * GiB + 123;
const V = 'e'.repeat(64);
const B4G = 4 * GiB;
const nearBoundary = randomBytes(64);
const atEnd = randomBytes(100);

let dir: string;
let edge: TestEdge;

/** The expected byte at `offset` (zero where nothing was planted). */
function expected(start: number, end: number): Buffer {
  const out = Buffer.alloc(end - start + 1);
  const plant = (at: number, b: Buffer) => {
    for (let i = 0; i < b.length; i++) if (at + i >= start && at + i <= end) out[at + i - start] = b[i]!;
  };
  plant(B4G - 32, nearBoundary);
  plant(SIZE - atEnd.length, atEnd);
  return out;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'haul-edge-large-'));
  const store = new FsBlobStore(path.join(dir, 'store'));
  const file = path.join(dir, 'store/big/sparse.bin');
  await mkdir(path.dirname(file), { recursive: true });
  const fh = await open(file, 'w');
  try {
    await fh.truncate(SIZE);
    await fh.write(nearBoundary, 0, nearBoundary.length, B4G - 32);
    await fh.write(atEnd, 0, atEnd.length, SIZE - atEnd.length);
  } finally {
    await fh.close();
  }
  const stat = await store.stat('big/sparse.bin');
  expect(stat?.size).toBe(SIZE);
  await writeVersion(store, 'big/sparse.bin', { sha256: V, size: SIZE, lastModified: stat!.lastModified.toISOString() });
  edge = await startEdge({ origin: new StoreOrigin(store) });
});

afterAll(async () => {
  await edge?.close();
  await rm(dir, { recursive: true, force: true });
});

const url = () => edge.sign({ objectPath: 'big/sparse.bin', version: V });
const get = (headers: Record<string, string> = {}, method = 'GET') => rawRequest(edge.base, targetOf(url()), { method, headers });

describe('a 5 GiB sparse file', () => {
  it('HEAD gives its exact size', async () => {
    const r = await get({}, 'HEAD');
    expect(r.status).toBe(200);
    expect(r.headers['content-length']).toBe(String(SIZE));
    expect(r.headers.etag).toBe(`"${V}"`);
  });

  it.each([
    [B4G - 32, B4G + 31],
    [B4G, B4G],
    [B4G - 1, B4G],
    [SIZE - 100, SIZE - 1],
    [B4G + GiB / 2, B4G + GiB / 2 + 999],
  ])('bytes=%i-%i', async (start, end) => {
    const r = await get({ range: `bytes=${start}-${end}` });
    expect(r.status).toBe(206);
    expect(r.headers['content-range']).toBe(`bytes ${start}-${end}/${SIZE}`);
    expect(r.headers['content-length']).toBe(String(end - start + 1));
    expect(r.body.equals(expected(start, end))).toBe(true);
  });

  it('suffix, open-ended and clamped ranges past 4 GiB', async () => {
    const suffix = await get({ range: 'bytes=-100' });
    expect(suffix.headers['content-range']).toBe(`bytes ${SIZE - 100}-${SIZE - 1}/${SIZE}`);
    expect(suffix.body.equals(atEnd)).toBe(true);
    const open = await get({ range: `bytes=${SIZE - 50}-` });
    expect(open.headers['content-range']).toBe(`bytes ${SIZE - 50}-${SIZE - 1}/${SIZE}`);
    expect(open.body.equals(atEnd.subarray(50))).toBe(true);
    const clamped = await get({ range: `bytes=${SIZE - 10}-${SIZE * 2}` });
    expect(clamped.headers['content-range']).toBe(`bytes ${SIZE - 10}-${SIZE - 1}/${SIZE}`);
    expect(clamped.body.equals(atEnd.subarray(90))).toBe(true);
  });

  it('416 at and past the end', async () => {
    for (const range of [`bytes=${SIZE}-`, `bytes=${SIZE + 2 ** 40}-`]) {
      const r = await get({ range });
      expect(r.status).toBe(416);
      expect(r.headers['content-range']).toBe(`bytes */${SIZE}`);
    }
  });

  it('multipart/byteranges across the 4 GiB boundary', async () => {
    // Parts one byte apart (adjacent ones would be coalesced into one).
    const r = await get({ range: `bytes=${B4G - 32}-${B4G - 2},-10,${B4G}-${B4G + 31}` });
    expect(r.status).toBe(206);
    expect(r.headers['content-length']).toBe(String(r.body.length));
    const parts = parseMultipart(r.headers['content-type'], r.body);
    expect(parts.map((p) => p.headers['content-range'])).toEqual([
      `bytes ${B4G - 32}-${B4G - 2}/${SIZE}`,
      `bytes ${SIZE - 10}-${SIZE - 1}/${SIZE}`,
      `bytes ${B4G}-${B4G + 31}/${SIZE}`,
    ]);
    expect(parts[0]!.body.equals(nearBoundary.subarray(0, 31))).toBe(true);
    expect(parts[1]!.body.equals(atEnd.subarray(90))).toBe(true);
    expect(parts[2]!.body.equals(nearBoundary.subarray(32))).toBe(true);
  });

  it('curl -r fetches a range above 4 GiB', async () => {
    const out = path.join(dir, 'curl.bin');
    const { stdout } = await run('curl', ['-sS', '-r', `${B4G - 32}-${B4G + 31}`, '-o', out, '-w', '%{http_code}', url()]);
    expect(stdout).toBe('206');
    expect((await readFile(out)).equals(nearBoundary)).toBe(true);
  });
});
