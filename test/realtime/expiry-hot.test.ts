import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DownloadSessionDocument, ReportProgressDocument, StartDownloadDocument } from '../../src/client/generated/graphql.ts';
import { gql, startTestServer, type TestServer } from '../helpers/server.ts';

const REDIS_URL = process.env.HAUL_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const CHUNK = 64 * 1024;
let srv: TestServer;
let fileId: string;
let alice: string;

beforeAll(async () => {
  srv = await startTestServer({ env: { REDIS_URL, HAUL_REDIS_PREFIX: `haul-test-${randomUUID().slice(0, 8)}:` } });
  fileId = await srv.addFile('expiry.bin', Buffer.alloc(4 * CHUNK, 5), { chunkSize: CHUNK });
  alice = await srv.token('alice');
});
afterAll(async () => {
  await srv?.[Symbol.asyncDispose]();
});

/** PostgreSQL's expiry of a session put in the past: what it looks like just before a flush catches up. */
async function expireInPostgres(sessionId: string) {
  await srv.runtime.db.prisma
    .$executeRaw`UPDATE "DownloadSession" SET "expiresAt" = now() - interval '1 second' WHERE "id" = ${sessionId}::uuid`;
}

async function start(clientId: string) {
  const r = await gql(srv.url, alice, StartDownloadDocument, { fileId, clientId });
  return r.data!.startDownload.session.id;
}

describe('expiry on access with Redis (the flush lags the hot path)', () => {
  it('a session whose reports extended it in Redis is not expired because PostgreSQL has not heard yet', async () => {
    const id = await start('reporting');
    const reported = await gql(srv.url, alice, ReportProgressDocument, { sessionId: id, completedChunks: [0] });
    expect(reported.errors).toBeUndefined();
    await expireInPostgres(id);
    const r = await gql(srv.url, alice, DownloadSessionDocument, { id });
    expect(r.errors).toBeUndefined();
    expect(r.data!.downloadSession).toMatchObject({ status: 'ACTIVE', completedChunks: [0] });
    expect(new Date(r.data!.downloadSession.expiresAt).getTime()).toBeGreaterThan(Date.now());
  });

  it('a session with no activity in Redis past its PostgreSQL expiry is expired, as before', async () => {
    const id = await start('idle');
    await expireInPostgres(id);
    const r = await gql(srv.url, alice, DownloadSessionDocument, { id });
    expect(r.data!.downloadSession).toMatchObject({ status: 'EXPIRED' });
  });
});
