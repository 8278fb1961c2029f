import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreOrigin } from '../../src/edge/store-origin.ts';
import { FsBlobStore } from '../../src/storage/fs.ts';
import { S3BlobStore } from '../../src/storage/s3.ts';
import { createS3Client } from '../../src/storage/s3-client.ts';
import { bytesOf } from '../helpers/api.ts';
import { CountingOrigin, parseMultipart, putVersioned, rawRequest, startEdge, type TestEdge, targetOf } from '../helpers/edge.ts';
import { startTestS3, type TestS3 } from '../helpers/s3.ts';

/**
 * The S3 backend behind the edge, against s3rver: every range of the file, from both backends,
 * byte for byte the same (and the same as the source), headers included.
 */

const SIZE = 3 * 1024 * 1024 + 7;
const BYTES = bytesOf(SIZE, 3);
const KEY = 'objects/data.bin';

let s3: TestS3;
let dir: string;
let s3Store: S3BlobStore;
let fsEdge: TestEdge;
let s3Edge: TestEdge;
let s3Origin: CountingOrigin;
let V: string;

beforeAll(async () => {
  s3 = await startTestS3();
  dir = await mkdtemp(path.join(tmpdir(), 'haul-edge-s3-'));
  s3Store = new S3BlobStore(
    createS3Client({
      kind: 's3',
      bucket: s3.bucket,
      region: 'us-east-1',
      endpoint: s3.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    }),
    s3.bucket,
  );
  const fsStore = new FsBlobStore(dir);
  V = await putVersioned(fsStore, KEY, BYTES);
  expect(await putVersioned(s3Store, KEY, BYTES)).toBe(V);
  fsEdge = await startEdge({ origin: new StoreOrigin(fsStore) });
  s3Origin = new CountingOrigin(new StoreOrigin(s3Store));
  s3Edge = await startEdge({ origin: s3Origin });
});

afterAll(async () => {
  await fsEdge?.close();
  await s3Edge?.close();
  await s3?.[Symbol.asyncDispose]();
  await rm(dir, { recursive: true, force: true });
});

/** Same request to both edges; the responses must agree on status, range headers and bytes. */
async function both(range: string | undefined) {
  const headers: Record<string, string> = range ? { range } : {};
  const [a, b] = await Promise.all(
    [fsEdge, s3Edge].map((e) => rawRequest(e.base, targetOf(e.sign({ objectPath: KEY, version: V })), { headers })),
  );
  expect(b!.status, range).toBe(a!.status);
  for (const h of ['content-range', 'content-length', 'etag', 'repr-digest', 'accept-ranges'])
    expect(b!.headers[h], `${range} ${h}`).toBe(a!.headers[h]);
  return [a!, b!] as const;
}

describe('S3 backend (s3rver) against the folder backend', () => {
  it('the whole file, and 256 KiB windows across all of it, match byte for byte', async () => {
    const [a, b] = await both(undefined);
    expect(a.status).toBe(200);
    expect(b.body.equals(BYTES)).toBe(true);
    for (let start = 0; start < SIZE; start += 256 * 1024) {
      const end = Math.min(start + 256 * 1024, SIZE) - 1;
      const [fa, sb] = await both(`bytes=${start}-${end}`);
      expect(fa.status).toBe(206);
      expect(sb.body.equals(fa.body)).toBe(true);
      expect(sb.body.equals(BYTES.subarray(start, end + 1))).toBe(true);
    }
  });

  it('random, suffix, open-ended, clamped and unsatisfiable ranges agree', async () => {
    let x = 12345;
    const rnd = (n: number) => {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      return x % n;
    };
    const ranges = [
      'bytes=0-0',
      `bytes=${SIZE - 1}-`,
      'bytes=-1',
      `bytes=-${SIZE + 5}`,
      `bytes=100-${SIZE * 3}`,
      `bytes=${SIZE}-`,
    ];
    for (let i = 0; i < 30; i++) {
      const a = rnd(SIZE);
      ranges.push(`bytes=${a}-${a + rnd(200_000)}`);
    }
    for (const range of ranges) {
      const [fa, sb] = await both(range);
      expect(sb.body.equals(fa.body), range).toBe(true);
    }
  });

  it('multipart/byteranges agree part for part', async () => {
    const [fa, sb] = await both(`bytes=0-99,${SIZE - 10}-,1000000-1000999,-5000`);
    expect(fa.status).toBe(206);
    const pa = parseMultipart(fa.headers['content-type'], fa.body);
    const pb = parseMultipart(sb.headers['content-type'], sb.body);
    expect(pb.map((p) => p.headers)).toEqual(pa.map((p) => p.headers));
    for (const [i, p] of pb.entries()) expect(p.body.equals(pa[i]!.body)).toBe(true);
  });

  it('every S3 stream was released', async () => {
    await expect.poll(() => s3Origin.open).toBe(0);
  });

  it('an S3 object replaced behind haul’s back: the old URL is 410 and the conditional GetObject refuses it', async () => {
    const key = 'objects/replaced.bin';
    const v1 = await putVersioned(s3Store, key, bytesOf(5000, 1));
    const origin = new StoreOrigin(s3Store, { recordTtlMs: 60_000 });
    await using e = await startEdge({ origin });
    const url = e.sign({ objectPath: key, version: v1 });
    expect((await rawRequest(e.base, targetOf(url))).status).toBe(200);
    // S3 times have whole seconds: let one pass so the new object's differs.
    await new Promise((r) => setTimeout(r, 1100));
    await s3Store.put(key, bytesOf(5000, 2));
    // The warm record cache still names v1: only the conditional read stands between the URL and the new bytes.
    await expect(origin.read({ objectPath: key, version: v1, signedPath: '' }, { start: 0, end: 4999 })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    const r = await rawRequest(e.base, targetOf(url));
    expect(r.status).toBe(410);
  });

  it('replaced by an object of the same size within the same second: the ETag tells them apart', async () => {
    const key = 'objects/same-second.bin';
    // Start just after a second begins, so that both writes fall within it.
    await new Promise((r) => setTimeout(r, 1020 - (Date.now() % 1000)));
    const v1 = await putVersioned(s3Store, key, bytesOf(5000, 3));
    const before = (await s3Store.stat(key))!;
    const origin = new StoreOrigin(s3Store, { recordTtlMs: 60_000 });
    await using e = await startEdge({ origin });
    const url = e.sign({ objectPath: key, version: v1 });
    expect((await rawRequest(e.base, targetOf(url))).status).toBe(200);
    await s3Store.put(key, bytesOf(5000, 4));
    const after = (await s3Store.stat(key))!;
    // Same size, and S3 times having whole seconds, the same time: only the ETag differs.
    expect(after.size).toBe(before.size);
    expect(after.lastModified.getTime()).toBe(before.lastModified.getTime());
    expect(after.etag).not.toBe(before.etag);
    await expect(origin.read({ objectPath: key, version: v1, signedPath: '' }, { start: 0, end: 4999 })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    expect((await rawRequest(e.base, targetOf(url))).status).toBe(410);
    expect((await origin.head({ objectPath: key, version: v1, signedPath: '' }))?.version).toBeNull();
  });
});
