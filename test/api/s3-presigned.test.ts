import { createHash, randomBytes } from 'node:crypto';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RefreshDownloadUrlDocument, StartDownloadDocument } from '../../src/client/generated/graphql.ts';
import { startTestS3, type TestS3 } from '../helpers/s3.ts';
import { gql, startTestServer, type TestServer } from '../helpers/server.ts';

const BODY = randomBytes(300_000);
let s3: TestS3;
let srv: TestServer;
let fileId: string;
let token: string;

beforeAll(async () => {
  s3 = await startTestS3();
  srv = await startTestServer({ db: 'pglite', role: 'api', env: { ...s3.env, HAUL_DOWNLOAD_URLS: 's3-presigned' } });
  // Put through haul's S3 store and ingest with ranged GETs: the manifest comes from S3 itself.
  fileId = await srv.addFile('report.bin', BODY, { chunkSize: 64 * 1024 });
  token = await srv.token('alice');
});

afterAll(async () => {
  await srv?.[Symbol.asyncDispose]();
  await s3?.[Symbol.asyncDispose]();
});

async function get(url: string, headers: Record<string, string> = {}) {
  const res = await request(url, { headers });
  return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) };
}

describe('startDownload with S3 presigned URLs (s3rver checks SigV4 and expiry)', () => {
  it('ingests from S3 with the same digest as the bytes', async () => {
    const f = await srv.runtime.db.prisma.file.findUniqueOrThrow({ where: { id: fileId } });
    expect(f.checksum).toBe(createHash('sha256').update(BODY).digest('hex'));
    expect(f.chunkCount).toBe(5);
  });

  it('hands out a presigned GET that serves any Range', async () => {
    const r = await gql(srv.url, token, StartDownloadDocument, { fileId, clientId: 'cli' });
    const url = r.data!.startDownload.downloadUrl;
    expect(url.startsWith(`${s3.endpoint}/${s3.bucket}/`)).toBe(true);
    expect(new URL(url).searchParams.get('X-Amz-SignedHeaders')).toBe('host');

    const first = await get(url, { range: 'bytes=0-99' });
    expect(first.status).toBe(206);
    expect(first.headers['content-range']).toBe(`bytes 0-99/${BODY.length}`);
    expect(first.body).toEqual(BODY.subarray(0, 100));
    const tail = await get(url, { range: 'bytes=299990-' });
    expect(tail.body).toEqual(BODY.subarray(299_990));
    expect((await get(url)).headers['content-disposition']).toBe('attachment; filename="report.bin"');
  });

  it('refuses a tampered URL', async () => {
    const r = await gql(srv.url, token, RefreshDownloadUrlDocument, { sessionId: (await start()).session.id });
    const url = new URL(r.data!.refreshDownloadUrl.downloadUrl);
    const sig = url.searchParams.get('X-Amz-Signature')!;
    url.searchParams.set('X-Amz-Signature', (sig[0] === 'a' ? 'b' : 'a') + sig.slice(1));
    expect((await get(url.toString(), { range: 'bytes=0-99' })).status).toBe(403);

    const other = new URL(r.data!.refreshDownloadUrl.downloadUrl);
    other.pathname = other.pathname.replace('report.bin', 'other.bin');
    expect((await get(other.toString())).status).toBe(403);
  });
});

async function start() {
  const r = await gql(srv.url, token, StartDownloadDocument, { fileId, clientId: 'cli' });
  return r.data!.startDownload;
}
