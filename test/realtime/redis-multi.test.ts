import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintToken } from '../../src/auth/jwt.ts';
import { ReportProgressDocument, StartDownloadDocument } from '../../src/client/generated/graphql.ts';
import { openDatabase } from '../../src/db/client.ts';
import { migrateDatabase } from '../../src/db/migrate.ts';
import { ingestObject } from '../../src/files/ingest.ts';
import { FsBlobStore } from '../../src/storage/fs.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.ts';
import { type HaulProcess, startHaulProcess } from '../helpers/process.ts';
import { gql } from '../helpers/server.ts';
import { PROGRESS_SUBSCRIPTION, type ProgressEvent, subscribeSse, subscribeWs } from '../helpers/subscribe.ts';

const SECRET = 'multi-process-secret-0123456789abcdef';
const REDIS_URL = process.env.HAUL_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

let pg: TestDatabase;
let dir: string;
let a: HaulProcess;
let b: HaulProcess;
let fileId: string;

beforeAll(async () => {
  pg = await createTestDatabase();
  dir = await mkdtemp(join(tmpdir(), 'haul-multi-'));
  // One file, ingested straight into the shared database and store.
  const db = await openDatabase({ kind: 'postgres', url: pg.url });
  await migrateDatabase(db);
  const store = new FsBlobStore(join(dir, 'objects'));
  await store.put('multi.bin', Buffer.alloc(5 * 65536, 9));
  fileId = (
    await ingestObject(
      { prisma: db.prisma, store },
      { storageKey: 'multi.bin', name: 'multi.bin', contentType: 'application/octet-stream', chunkSize: 65536 },
    )
  ).id;
  await db.close();
  const env = {
    DATABASE_URL: pg.url,
    REDIS_URL,
    HAUL_REDIS_PREFIX: `haul-test-${randomUUID().slice(0, 8)}:`,
    HAUL_JWT_SECRET: SECRET,
    HAUL_SIGNING_KEYS: 'k1:multi-signing-secret-01',
    HAUL_STORAGE_DIR: join(dir, 'objects'),
    HAUL_DATA_DIR: dir,
  };
  [a, b] = await Promise.all([startHaulProcess(['api'], env), startHaulProcess(['api'], env)]);
});

afterAll(async () => {
  await a?.[Symbol.asyncDispose]();
  await b?.[Symbol.asyncDispose]();
  await pg?.[Symbol.asyncDispose]();
  await rm(dir, { recursive: true, force: true });
});

describe('two haul api processes sharing Redis and PostgreSQL', () => {
  it('a report sent to A reaches WebSocket and SSE subscribers on B', async () => {
    const alice = await mintToken(SECRET, { sub: 'alice', ttlMs: 600_000 });
    const started = await gql(a.url, alice, StartDownloadDocument, { fileId, clientId: 'laptop' });
    const id = started.data!.startDownload.session.id;
    const ws = subscribeWs<ProgressEvent>(b.url, alice, PROGRESS_SUBSCRIPTION, { id });
    const sse = subscribeSse<ProgressEvent>(b.url, alice, PROGRESS_SUBSCRIPTION, { id });
    try {
      await ws.waitFor(1);
      await sse.waitFor(1);
      const r = await gql(a.url, alice, ReportProgressDocument, { sessionId: id, completedChunks: [0, 1, 2] });
      expect(r.data?.reportProgress.bytesConfirmed).toBe(3 * 65536);
      for (const sub of [ws, sse]) {
        const [, event] = await sub.waitFor(2);
        expect(event!.downloadProgress).toMatchObject({
          kind: 'PROGRESS',
          session: { id, bytesConfirmed: 3 * 65536, completedChunks: [0, 1, 2] },
        });
      }
    } finally {
      ws.close();
      sse.close();
    }
  });

  it("refuses user B's subscription to user A's session on both transports", async () => {
    const alice = await mintToken(SECRET, { sub: 'alice', ttlMs: 600_000 });
    const bob = await mintToken(SECRET, { sub: 'bob', ttlMs: 600_000 });
    const id = (await gql(a.url, alice, StartDownloadDocument, { fileId, clientId: 'private' })).data!.startDownload.session.id;
    for (const sub of [
      subscribeWs<ProgressEvent>(b.url, bob, PROGRESS_SUBSCRIPTION, { id }),
      subscribeSse<ProgressEvent>(b.url, bob, PROGRESS_SUBSCRIPTION, { id }),
    ]) {
      try {
        await expect.poll(() => sub.errors.length).toBeGreaterThan(0);
        expect(JSON.stringify(sub.errors)).toContain('NOT_FOUND');
        expect(sub.events).toEqual([]);
      } finally {
        sub.close();
      }
    }
  });
});
