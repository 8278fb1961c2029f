import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintToken } from '../../src/auth/jwt.ts';
import {
  DownloadSessionDocument,
  PauseDownloadDocument,
  ReportProgressDocument,
  ResumeDownloadDocument,
  StartDownloadDocument,
} from '../../src/client/generated/graphql.ts';
import { openDatabase } from '../../src/db/client.ts';
import { migrateDatabase } from '../../src/db/migrate.ts';
import { ingestObject } from '../../src/files/ingest.ts';
import { FsBlobStore } from '../../src/storage/fs.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.ts';
import { type HaulProcess, startHaulProcess } from '../helpers/process.ts';
import { gql } from '../helpers/server.ts';
import { PROGRESS_SUBSCRIPTION, type ProgressEvent, subscribeWs } from '../helpers/subscribe.ts';

const SECRET = 'redis-fault-secret-0123456789abcdefgh';
const CHUNK = 65536;

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return port;
}

/** A redis-server of the test's own, on a port of its own, keeping nothing on disk. */
async function startRedis(port: number, dir: string): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('Ready to accept connections')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`redis-server exited ${code}: ${out}`)));
  });
  return child;
}

async function stopRedis(child: ChildProcess) {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

let pg: TestDatabase;
let dir: string;
let redisPort: number;
let redis: ChildProcess;
let api: HaulProcess;
let fileId: string;
let token: string;

beforeAll(async () => {
  pg = await createTestDatabase();
  dir = await mkdtemp(join(tmpdir(), 'haul-redis-fault-'));
  const db = await openDatabase({ kind: 'postgres', url: pg.url });
  await migrateDatabase(db);
  const store = new FsBlobStore(join(dir, 'objects'));
  await store.put('f.bin', Buffer.alloc(8 * CHUNK, 1));
  fileId = (
    await ingestObject(
      { prisma: db.prisma, store },
      { storageKey: 'f.bin', name: 'f.bin', contentType: 'application/octet-stream', chunkSize: CHUNK },
    )
  ).id;
  await db.close();
  redisPort = await freePort();
  redis = await startRedis(redisPort, dir);
  api = await startHaulProcess(['api'], {
    DATABASE_URL: pg.url,
    REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    HAUL_JWT_SECRET: SECRET,
    HAUL_SIGNING_KEYS: 'k1:redis-fault-signing-01',
    HAUL_STORAGE_DIR: join(dir, 'objects'),
    HAUL_DATA_DIR: dir,
  });
  token = await mintToken(SECRET, { sub: 'alice', ttlMs: 600_000 });
});

afterAll(async () => {
  await api?.[Symbol.asyncDispose]();
  if (redis && redis.exitCode === null && redis.signalCode === null) await stopRedis(redis);
  await pg?.[Symbol.asyncDispose]();
  await rm(dir, { recursive: true, force: true });
});

describe('Redis fault: availability over freshness', () => {
  it('keeps start/pause/resume/reads/reports working on PostgreSQL while Redis is down, and subscriptions recover', async () => {
    const id = (await gql(api.url, token, StartDownloadDocument, { fileId, clientId: 'laptop' })).data!.startDownload.session.id;
    const sub = subscribeWs<ProgressEvent>(api.url, token, PROGRESS_SUBSCRIPTION, { id });
    try {
      await sub.waitFor(1);
      await gql(api.url, token, ReportProgressDocument, { sessionId: id, completedChunks: [0] });
      await sub.waitFor(2);

      await stopRedis(redis);
      // Every control operation answers from PostgreSQL alone.
      const other = await gql(api.url, token, StartDownloadDocument, { fileId, clientId: 'phone' });
      expect(other.errors).toBeUndefined();
      const reported = await gql(api.url, token, ReportProgressDocument, { sessionId: id, completedChunks: [1, 2] });
      expect(reported.errors).toBeUndefined();
      // Chunk 0 lived only in Redis (no flush ran before it died): exactly the documented loss,
      // the unflushed window. The client's journal still has it and reports it again.
      expect(reported.data!.reportProgress.completedChunks).toEqual([1, 2]);
      await gql(api.url, token, ReportProgressDocument, { sessionId: id, completedChunks: [0] });
      const paused = await gql(api.url, token, PauseDownloadDocument, { sessionId: id });
      expect(paused.data?.pauseDownload.status).toBe('PAUSED');
      const resumed = await gql(api.url, token, ResumeDownloadDocument, { sessionId: id });
      expect(resumed.data?.resumeDownload.session.status).toBe('ACTIVE');
      const read = await gql(api.url, token, DownloadSessionDocument, { id });
      expect(read.data?.downloadSession).toMatchObject({
        status: 'ACTIVE',
        bytesConfirmed: 3 * CHUNK,
        completedChunks: [0, 1, 2],
      });

      // Redis returns (empty: it kept nothing): subscriptions deliver again, progress goes on.
      redis = await startRedis(redisPort, dir);
      const seen = sub.events.length;
      await expect
        .poll(
          async () => {
            await gql(api.url, token, ReportProgressDocument, { sessionId: id, completedChunks: [3] });
            return sub.events.length > seen;
          },
          { timeout: 15_000, interval: 500 },
        )
        .toBe(true);
      const last = sub.events.at(-1)!.downloadProgress;
      expect(last.session.completedChunks).toEqual([0, 1, 2, 3]);
      expect(last.session.bytesConfirmed).toBe(4 * CHUNK);
    } finally {
      sub.close();
    }
  });
});
