import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../src/db/client.ts';
import { migrateDatabase } from '../../src/db/migrate.ts';
import { flushProgress } from '../../src/sessions/flush.ts';
import { createHotProgress } from '../../src/sessions/hot-progress.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.ts';

const REDIS_URL = process.env.HAUL_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const PREFIX = `haul-test-${randomUUID().slice(0, 8)}:`;
const alice = { sub: 'alice', admin: false };

let pg: TestDatabase;
let db: Database;
let redis: Redis;
let hot: ReturnType<typeof createHotProgress>;
let fileId: string;

beforeAll(async () => {
  pg = await createTestDatabase();
  db = await openDatabase({ kind: 'postgres', url: pg.url });
  await migrateDatabase(db);
  redis = new Redis(REDIS_URL);
  hot = createHotProgress(redis, { prefix: PREFIX, sessionTtlMs: 3_600_000 });
  const f = await db.prisma.file.create({
    data: {
      name: 'f.bin',
      sizeBytes: 11_500n,
      contentType: 'application/octet-stream',
      storageKey: 'f.bin',
      checksum: 'a'.repeat(64),
      chunkSize: 1000,
      chunkCount: 12,
      status: 'READY',
    },
  });
  fileId = f.id;
});

afterAll(async () => {
  const keys = await redis.keys(`${PREFIX}*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
  await db?.close();
  await pg?.[Symbol.asyncDispose]();
});

async function session(client: string, stored: { bytesConfirmed?: bigint; completedChunks?: number[] } = {}) {
  const s = await db.prisma.downloadSession.create({
    data: {
      fileId,
      ownerId: 'alice',
      clientId: client,
      totalBytes: 11_500n,
      urlExpiresAt: new Date(Date.now() + 3_600_000),
      expiresAt: new Date(Date.now() + 3_600_000),
      ...stored,
    },
  });
  await hot.prime(
    s.id,
    {
      ownerId: 'alice',
      status: 'ACTIVE',
      sizeBytes: 11_500,
      chunkSize: 1000,
      chunkCount: 12,
      expiresAtMs: s.expiresAt.getTime(),
    },
    { bytesConfirmed: Number(s.bytesConfirmed), completedChunks: s.completedChunks },
  );
  return s.id;
}

describe('flushing hot progress to PostgreSQL', () => {
  it('writes a burst of reports for many sessions in one statement per batch, merged', async () => {
    const ids = await Promise.all(Array.from({ length: 50 }, (_, i) => session(`burst-${i}`)));
    await Promise.all(
      ids.flatMap((id) => [0, 1, 2, 4].map((c) => hot.report(id, alice, { completedChunks: [c], transferRateBps: 1234 }))),
    );
    const r = await flushProgress({ prisma: db.prisma, hot });
    expect(r).toEqual({ sessions: 50, statements: 1 });
    const rows = await db.prisma.downloadSession.findMany({ where: { id: { in: ids } } });
    for (const row of rows) {
      expect(row.completedChunks).toEqual([0, 1, 2, 4]);
      expect(row.bytesConfirmed).toBe(3000n);
      expect(row.transferRateBps).toBe(1234n);
    }
    // Nothing dirty any more: a second flush writes nothing.
    expect(await flushProgress({ prisma: db.prisma, hot })).toEqual({ sessions: 0, statements: 0 });
  });

  it('never moves PostgreSQL backwards, whatever order writes land in', async () => {
    const id = await session('order', { bytesConfirmed: 9000n, completedChunks: [7] });
    await hot.report(id, alice, { completedChunks: [0] });
    // A write-through elsewhere raised PostgreSQL further meanwhile.
    await db.prisma.downloadSession.update({ where: { id }, data: { bytesConfirmed: 10_000n, completedChunks: [7, 9] } });
    await flushProgress({ prisma: db.prisma, hot });
    const row = await db.prisma.downloadSession.findUniqueOrThrow({ where: { id } });
    expect(row.bytesConfirmed).toBe(10_000n);
    expect(row.completedChunks).toEqual([0, 7, 9]);
  });

  it('keeps ids dirty when the database write fails, so the next flush retries them', async () => {
    const id = await session('retry');
    await hot.report(id, alice, { completedChunks: [0, 1] });
    const broken = { ...db.prisma, $executeRaw: () => Promise.reject(new Error('database down')) } as unknown as typeof db.prisma;
    await expect(flushProgress({ prisma: broken, hot })).rejects.toThrow('database down');
    expect(await flushProgress({ prisma: db.prisma, hot })).toMatchObject({ sessions: 1 });
    expect((await db.prisma.downloadSession.findUniqueOrThrow({ where: { id } })).completedChunks).toEqual([0, 1]);
  });
});
