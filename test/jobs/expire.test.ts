import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expireDueSessions } from '../../jobs/expire-sessions.ts';
import { type Database, openDatabase } from '../../src/db/client.ts';
import type { DownloadSession } from '../../src/generated/prisma/client.ts';
import { type BullWorkers, createBullQueue, startBullWorkers } from '../../src/jobs/bullmq.ts';
import { buildProcessors } from '../../src/jobs/processors.ts';
import { DEFAULT_JOB_SETTINGS, type JobQueue, type JobSettings } from '../../src/jobs/queues.ts';
import { FsBlobStore } from '../../src/storage/fs.ts';
import { rawGql } from '../helpers/api.ts';
import { deleteRedisKeys, REDIS_URL, testRedisPrefix } from '../helpers/redis.ts';
import { rest, startTestServer, type TestServer } from '../helpers/server.ts';

const prefix = testRedisPrefix('expire');
const settings: JobSettings = { ...DEFAULT_JOB_SETTINGS, prefix: `${prefix}bull` };
const HOUR = 3_600_000;

let server: TestServer;
let prisma: Database['prisma'];
let fileId: string;
let n = 0;

beforeAll(async () => {
  // The server's own in-process sweep ticks once at start (nothing is due then) and not again.
  server = await startTestServer({ env: { HAUL_EXPIRE_EVERY: '1h' } });
  prisma = server.runtime.db.prisma;
  fileId = await server.addFile('f.bin', Buffer.alloc(10_000), { chunkSize: 1024 });
});
afterAll(async () => {
  await server?.[Symbol.asyncDispose]();
  await deleteRedisKeys(prefix);
});

/** Inserts sessions directly; `ageMs` > 0 puts expiresAt that far in the past. */
async function sessions(count: number, opts: { ageMs: number; status?: DownloadSession['status']; owner?: string }) {
  const now = Date.now();
  const rows = Array.from({ length: count }, (_, i) => ({
    fileId,
    ownerId: opts.owner ?? 'alice',
    clientId: `c${++n}`,
    status: opts.status ?? (i % 2 ? 'PAUSED' : 'ACTIVE'),
    totalBytes: 10_000n,
    urlExpiresAt: new Date(now + HOUR),
    expiresAt: new Date(now - opts.ageMs),
  }));
  await prisma.downloadSession.createMany({ data: rows });
  return prisma.downloadSession.findMany({ where: { clientId: { in: rows.map((r) => r.clientId) } }, select: { id: true } });
}

const statusOf = async (ids: { id: string }[]) =>
  Object.fromEntries(
    (await prisma.downloadSession.groupBy({ by: ['status'], where: { id: { in: ids.map((r) => r.id) } }, _count: true })).map(
      (g) => [g.status, g._count],
    ),
  );

describe('session expiry sweep', () => {
  it('concurrent sweeps expire every due session exactly once, in batches, and touch nothing else', async () => {
    const due = await sessions(1000, { ageMs: 60_000 });
    const future = await sessions(20, { ageMs: -HOUR });
    const completed = await sessions(5, { ageMs: 60_000, status: 'COMPLETED' });
    const seen: string[] = [];
    const deps = { prisma, onExpired: (rows: DownloadSession[]) => void seen.push(...rows.map((r) => r.id)) };
    const results = await Promise.all([1, 2, 3].map(() => expireDueSessions(deps, { batchSize: 100 })));
    expect(results.reduce((s, r) => s + r.expired, 0)).toBe(1000);
    expect(results.reduce((s, r) => s + r.batches, 0)).toBeGreaterThanOrEqual(10);
    expect(seen).toHaveLength(1000);
    expect(new Set(seen)).toEqual(new Set(due.map((r) => r.id)));
    expect(await statusOf(due)).toEqual({ EXPIRED: 1000 });
    expect(await statusOf(completed)).toEqual({ COMPLETED: 5 });
    expect(Object.keys(await statusOf(future)).sort()).toEqual(['ACTIVE', 'PAUSED']);
    // Idempotent: nothing is left, nothing is reported again.
    expect(await expireDueSessions(deps)).toEqual({ expired: 0, batches: 0 });
    expect(seen).toHaveLength(1000);
  });

  it('the grace period leaves recently expired sessions for a later sweep', async () => {
    const recent = await sessions(3, { ageMs: 1_000 });
    expect((await expireDueSessions({ prisma, graceMs: 60_000 })).expired).toBe(0);
    expect(await statusOf(recent)).toEqual({ ACTIVE: 2, PAUSED: 1 });
    expect((await expireDueSessions({ prisma })).expired).toBe(3);
  });

  it('scheduled on BullMQ with two workers: one schedule, each session expired and published once', async () => {
    const due = await sessions(2500, { ageMs: 5_000 });
    const published: string[] = [];
    const store = new FsBlobStore(server.config.storage.kind === 'fs' ? server.config.storage.root : '/nonexistent');
    // Two "processes": each worker has its own PostgreSQL pool and its own producer.
    const dbs: Database[] = [];
    const workers: BullWorkers[] = [];
    const producers: JobQueue[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const db = await openDatabase(server.config.database);
        dbs.push(db);
        const processors = buildProcessors({
          prisma: db.prisma,
          store,
          onExpired: (rows) => void published.push(...rows.map((r) => r.id)),
        });
        workers.push(startBullWorkers({ redisUrl: REDIS_URL, settings, processors, queues: ['expire-sessions'] }));
        const q = createBullQueue(REDIS_URL, settings);
        producers.push(q);
        await q.schedule('expire-sessions', 150, { batchSize: 1000 });
      }
      const until = Date.now() + 30_000;
      while ((await statusOf(due)).EXPIRED !== 2500 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
      // A few more ticks: nothing is expired or published twice.
      await new Promise((r) => setTimeout(r, 600));
      expect(await statusOf(due)).toEqual({ EXPIRED: 2500 });
      expect(published).toHaveLength(2500);
      expect(new Set(published).size).toBe(2500);

      const { Queue } = await import('bullmq');
      const { Redis } = await import('ioredis');
      const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
      const q = new Queue('expire-sessions', { connection, prefix: settings.prefix });
      expect(await q.getJobSchedulers()).toHaveLength(1);
      await q.close();
      connection.disconnect();
    } finally {
      for (const w of workers) await w.close(1000);
      for (const q of producers) await q.close();
      for (const db of dbs) await db.close();
    }
  });

  it('a swept session answers SESSION_EXPIRED to its owner, over GraphQL and REST', async () => {
    const [s] = await sessions(1, { ageMs: 1_000, owner: 'bob', status: 'PAUSED' });
    expect((await expireDueSessions({ prisma })).expired).toBe(1);
    const token = await server.token('bob');
    const resumed = await rawGql(server.url, token, 'mutation($id: ID!) { resumeDownload(sessionId: $id) { downloadUrl } }', {
      id: s!.id,
    });
    expect(resumed.errors?.[0]?.extensions?.code).toBe('SESSION_EXPIRED');
    const patched = await rest(server.url, token, 'PATCH', `/downloads/${s!.id}`, { status: 'resumed' });
    expect(patched.status).toBe(410);
    expect(patched.body.error.code).toBe('SESSION_EXPIRED');
    const got = await rest(server.url, token, 'GET', `/downloads/${s!.id}/progress`);
    expect(got.body.status).toBe('expired');
  });
});
