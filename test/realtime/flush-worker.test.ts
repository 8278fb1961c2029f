import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintToken } from '../../src/auth/jwt.ts';
import { ReportProgressDocument, StartDownloadDocument } from '../../src/client/generated/graphql.ts';
import { type Database, openDatabase } from '../../src/db/client.ts';
import { migrateDatabase } from '../../src/db/migrate.ts';
import { ingestObject } from '../../src/files/ingest.ts';
import { FsBlobStore } from '../../src/storage/fs.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.ts';
import { cleanEnv, type HaulProcess, startHaulProcess } from '../helpers/process.ts';
import { gql } from '../helpers/server.ts';

const SECRET = 'flush-worker-secret-0123456789abcdefgh';
const REDIS_URL = process.env.HAUL_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const HAUL = new URL('../../bin/haul.js', import.meta.url).pathname;
const CHUNK = 65536;

let pg: TestDatabase;
let db: Database;
let dir: string;
let env: Record<string, string>;
let fileId: string;

beforeAll(async () => {
  pg = await createTestDatabase();
  dir = await mkdtemp(join(tmpdir(), 'haul-flush-'));
  db = await openDatabase({ kind: 'postgres', url: pg.url });
  await migrateDatabase(db);
  const store = new FsBlobStore(join(dir, 'objects'));
  await store.put('f.bin', Buffer.alloc(32 * CHUNK, 2));
  fileId = (
    await ingestObject(
      { prisma: db.prisma, store },
      { storageKey: 'f.bin', name: 'f.bin', contentType: 'application/octet-stream', chunkSize: CHUNK },
    )
  ).id;
  env = {
    DATABASE_URL: pg.url,
    REDIS_URL,
    HAUL_REDIS_PREFIX: `haul-test-${randomUUID().slice(0, 8)}:`,
    HAUL_JWT_SECRET: SECRET,
    HAUL_SIGNING_KEYS: 'k1:flush-worker-signing-01',
    HAUL_STORAGE_DIR: join(dir, 'objects'),
    HAUL_DATA_DIR: dir,
    HAUL_FLUSH_INTERVAL: '1s',
  };
});

afterAll(async () => {
  await db?.close();
  await pg?.[Symbol.asyncDispose]();
  await rm(dir, { recursive: true, force: true });
});

describe('the write-behind flush in haul worker', () => {
  it('an API killed between flushes loses no acknowledged progress: the worker flushes it', async () => {
    const api: HaulProcess = await startHaulProcess(['api'], env);
    const worker = spawn('node', [HAUL, 'worker'], { env: { ...cleanEnv(), LOG_LEVEL: 'warn', ...env }, stdio: 'ignore' });
    try {
      const token = await mintToken(SECRET, { sub: 'alice', ttlMs: 600_000 });
      const id = (await gql(api.url, token, StartDownloadDocument, { fileId, clientId: 'laptop' })).data!.startDownload.session
        .id;
      // Eight connections of one client report at once, then the API dies before answering more.
      const acked = await Promise.all(
        Array.from({ length: 8 }, (_, c) =>
          gql(api.url, token, ReportProgressDocument, { sessionId: id, completedChunks: [c * 2, c * 2 + 1] }),
        ),
      );
      expect(acked.every((r) => !r.errors)).toBe(true);
      api.child.kill('SIGKILL');
      const all = Array.from({ length: 16 }, (_, i) => i);
      await expect
        .poll(async () => (await db.prisma.downloadSession.findUniqueOrThrow({ where: { id } })).completedChunks, {
          timeout: 15_000,
          interval: 250,
        })
        .toEqual(all);
      const row = await db.prisma.downloadSession.findUniqueOrThrow({ where: { id } });
      expect(row.bytesConfirmed).toBe(BigInt(16 * CHUNK));
    } finally {
      await api[Symbol.asyncDispose]();
      const exited = new Promise((r) => worker.once('exit', r));
      worker.kill('SIGTERM');
      await exited;
    }
  });
});
