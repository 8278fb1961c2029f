import { randomBytes } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client } from '../../src/storage/s3-client.ts';
import { contentDisposition, presignGetUrl } from '../../src/storage/s3-presign.ts';
import { startTestS3, type TestS3 } from '../helpers/s3.ts';

const BUCKET = 'haul-test';
const KEY = 'files/some dir/blob ü.bin';
const BODY = randomBytes(5000);

let s3: TestS3;
let client: S3Client;

beforeAll(async () => {
  s3 = await startTestS3(BUCKET);
  client = createS3Client({
    kind: 's3',
    bucket: BUCKET,
    region: 'us-east-1',
    endpoint: s3.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: KEY, Body: BODY, ContentType: 'application/octet-stream' }));
});

afterAll(async () => {
  client?.destroy();
  await s3?.[Symbol.asyncDispose]();
});

async function get(url: string, headers: Record<string, string> = {}) {
  const res = await request(url, { headers });
  const body = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, body };
}

describe('S3 presigned GET URLs (against s3rver, which checks SigV4)', () => {
  it('the client round-trips an object (checksums only when required)', async () => {
    const out = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: KEY }));
    expect(Buffer.from(await (out.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray())).toEqual(BODY);
  });

  it('signs only the host, so any Range works', async () => {
    const url = await presignGetUrl(client, { bucket: BUCKET, key: KEY, expiresInSeconds: 300 });
    const q = new URL(url).searchParams;
    expect(q.get('X-Amz-SignedHeaders')).toBe('host');
    expect(q.get('X-Amz-Expires')).toBe('300');
    expect(url).not.toMatch(/range|checksum/i);

    const head = await get(url, { range: 'bytes=0-99' });
    expect(head.status).toBe(206);
    expect(head.headers['content-range']).toBe(`bytes 0-99/${BODY.length}`);
    expect(head.body).toEqual(BODY.subarray(0, 100));

    const rest = await get(url, { range: 'bytes=100-' });
    expect(rest.status).toBe(206);
    expect(rest.body).toEqual(BODY.subarray(100));

    const whole = await get(url);
    expect(whole.status).toBe(200);
    expect(whole.body).toEqual(BODY);
  });

  it('sets Content-Disposition and Content-Type overrides', async () => {
    const url = await presignGetUrl(client, {
      bucket: BUCKET,
      key: KEY,
      expiresInSeconds: 300,
      filename: 'annual report 2026.bin',
      contentType: 'application/x-haul',
    });
    const res = await get(url, { range: 'bytes=0-9' });
    expect(res.status).toBe(206);
    expect(res.body).toEqual(BODY.subarray(0, 10));
    expect(res.headers['content-type']).toBe('application/x-haul');
    expect(res.headers['content-disposition']).toBe('attachment; filename="annual report 2026.bin"');
  });

  it('puts an RFC 6266 filename* into the URL for a non-ASCII name', async () => {
    const filename = 'Bericht „2026“ 年度.bin';
    const url = await presignGetUrl(client, { bucket: BUCKET, key: KEY, expiresInSeconds: 300, filename });
    const cd = new URL(url).searchParams.get('response-content-disposition');
    expect(cd).toBe(`attachment; filename="Bericht _2026_ __.bin"; filename*=UTF-8''${encodeURIComponent(filename)}`);
    // The SDK signs the query RFC 3986-encoded ("'" → %27), as S3 does; s3rver 4.0.4 re-encodes
    // the query with encodeURIComponent, which leaves "'" bare, so it cannot verify any URL
    // whose overrides contain any of !'()* (RFC 8187's UTF-8'' always has "'"). Not fetched here for that reason.
    expect(url).toContain('%27%27');
  });

  it('builds RFC 6266 values', () => {
    expect(contentDisposition('report.pdf')).toBe('attachment; filename="report.pdf"');
    expect(contentDisposition('a"b\\c.txt')).toBe(`attachment; filename="a_b_c.txt"; filename*=UTF-8''a%22b%5Cc.txt`);
    expect(contentDisposition("it's (1).txt")).toBe(`attachment; filename="it's (1).txt"`);
    expect(contentDisposition('naïve*.txt')).toBe(`attachment; filename="na_ve*.txt"; filename*=UTF-8''na%C3%AFve%2A.txt`);
  });

  it('refuses a tampered signature or key with 403', async () => {
    const url = await presignGetUrl(client, { bucket: BUCKET, key: KEY, expiresInSeconds: 300 });
    const u = new URL(url);
    const sig = u.searchParams.get('X-Amz-Signature') ?? '';
    u.searchParams.set('X-Amz-Signature', (sig[0] === '0' ? '1' : '0') + sig.slice(1));
    expect((await get(u.toString(), { range: 'bytes=0-99' })).status).toBe(403);

    const otherKey = url.replace(encodeURIComponent('ü'), encodeURIComponent('u'));
    expect(otherKey).not.toBe(url);
    expect((await get(otherKey)).status).toBe(403);
  });

  it('refuses an expired URL with 403', async () => {
    const url = await presignGetUrl(client, { bucket: BUCKET, key: KEY, expiresInSeconds: 1 });
    await new Promise((r) => setTimeout(r, 2100));
    const res = await get(url, { range: 'bytes=0-99' });
    expect(res.status).toBe(403);
    expect(res.body.toString()).toMatch(/expired/i);
  });

  it('rejects lifetimes S3 would refuse', async () => {
    await expect(presignGetUrl(client, { bucket: BUCKET, key: KEY, expiresInSeconds: 0 })).rejects.toThrow(RangeError);
    await expect(presignGetUrl(client, { bucket: BUCKET, key: KEY, expiresInSeconds: 604_801 })).rejects.toThrow(RangeError);
  });
});
