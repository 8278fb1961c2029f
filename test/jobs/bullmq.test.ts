import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { type Database, openDatabase } from '../../src/db/client.ts';
import { migrateDatabase } from '../../src/db/migrate.ts';
import { createIngestService } from '../../src/files/ingest-service.ts';
import { type BullWorkers, createBullQueue, startBullWorkers } from '../../src/jobs/bullmq.ts';
import { buildProcessors } from '../../src/jobs/processors.ts';
import {
  DEFAULT_JOB_SETTINGS,
  ingestJobId,
  type JobQueue,
  type JobSettings,
  type Processors,
  SHUTDOWN,
} from '../../src/jobs/queues.ts';
import { FsBlobStore } from '../../src/storage/fs.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.ts';
import { deleteRedisKeys, REDIS_URL, testRedisPrefix } from '../helpers/redis.ts';

const run = promisify(execFile);
const admin = { sub: 'root', role: 'admin' as const };
const prefix = testRedisPrefix('bullmq');

let pgdb: TestDatabase;
let db: Database;
let dir: string;
let store: FsBlobStore;
const settings: JobSettings = { ...DEFAULT_JOB_SETTINGS, prefix: `${prefix}bull`, ingestBackoffMs: 100 };

beforeAll(async () => {
  pgdb = await createTestDatabase('haul_bullmq');
  db = await openDatabase({ kind: 'postgres', url: pgdb.url });
  await migrateDatabase(db);
  dir = await mkdtemp(join(tmpdir(), 'haul-bullmq-'));
  store = new FsBlobStore(dir);
});
afterAll(async () => {
  await db?.close();
  await pgdb?.[Symbol.asyncDispose]();
  await rm(dir, { recursive: true, force: true });
  await deleteRedisKeys(prefix);
});

/** The real processors, with every ingest attempt counted and the row's state after each failure recorded. */
function counted() {
  const real = buildProcessors({ prisma: db.prisma, store });
  const calls: { fileId?: string; outcome: string; statusAfter?: string; reasonAfter?: string | null }[] = [];
  const processors: Processors = {
    ...real,
    ingest: async (job, token, signal) => {
      try {
        const r = await real.ingest(job, token, signal);
        calls.push({ fileId: r.fileId, outcome: 'ok' });
        return r;
      } catch (e) {
        const row = job.data.fileId ? await db.prisma.file.findUnique({ where: { id: job.data.fileId } }) : null;
        calls.push({
          fileId: job.data.fileId,
          outcome: (e as Error).name,
          statusAfter: row?.status,
          reasonAfter: row?.failReason,
        });
        throw e;
      }
    },
  };
  return { processors, calls };
}

function workers(processors: Processors, s: JobSettings = settings): BullWorkers {
  // Each test's workers stop with it, so the next test's jobs meet only its own workers.
  const w = startBullWorkers({ redisUrl: REDIS_URL, settings: s, processors });
  onTestFinished(() => w.close(1000));
  return w;
}
function producer(): JobQueue {
  const q = createBullQueue(REDIS_URL, settings);
  onTestFinished(() => q.close());
  return q;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 30_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
const settled = (id: string) =>
  waitFor(`file ${id} to settle`, async () => {
    const f = await db.prisma.file.findUnique({ where: { id } });
    return f && f.status !== 'PENDING' ? f : undefined;
  });

describe('ingest on BullMQ (real Redis and PostgreSQL)', () => {
  it('one ingestFile enqueued many times, by two producers, on two workers, is hashed once; a later one re-runs', async () => {
    const { processors, calls } = counted();
    workers(processors);
    workers(processors);
    const [p1, p2] = [producer(), producer()];
    const key = 'twice/object.bin';
    await store.put(key, randomBytes(24 * 1024 * 1024));
    const input = { storageKey: key, name: 'object.bin', contentType: 'application/octet-stream', chunkSize: 1024 * 1024 };
    // Ten concurrent requests: the File row is upserted by key, the job id is deterministic.
    const files = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        createIngestService({ prisma: db.prisma, jobs: i % 2 ? p1 : p2 }).ingestFile(admin, input),
      ),
    );
    expect(new Set(files.map((f) => f.id)).size).toBe(1);
    const file = await settled(files[0]!.id);
    expect(file.status).toBe('READY');
    const { stdout } = await run('sha256sum', [join(dir, key)]);
    expect(file.checksum).toBe(stdout.split(' ')[0]);
    await new Promise((r) => setTimeout(r, 300));
    expect(calls).toEqual([{ fileId: file.id, outcome: 'ok' }]);

    // The object changes and is ingested again: the finished job of that id is history, not a barrier.
    await store.put(key, randomBytes(3 * 1024 * 1024));
    await createIngestService({ prisma: db.prisma, jobs: p1 }).ingestFile(admin, input);
    const again = await settled(file.id);
    expect(again.status).toBe('READY');
    expect(again.chunkCount).toBe(3);
    expect(calls).toHaveLength(2);
  });

  it('a missing object is retried with exponential backoff, stays PENDING meanwhile, then ends FAILED with a reason', async () => {
    const { processors, calls } = counted();
    workers(processors);
    const jobs = producer();
    const t0 = Date.now();
    const f = await createIngestService({ prisma: db.prisma, jobs }).ingestFile(admin, {
      storageKey: 'missing/never-written.bin',
      name: 'ghost.bin',
      contentType: 'application/octet-stream',
    });
    expect(f.status).toBe('PENDING');
    const failed = await settled(f.id);
    expect(failed.status).toBe('FAILED');
    expect(failed.failReason).toMatch(/not found/);
    // Three attempts: the first two leave the file PENDING with the reason and "will retry".
    expect(calls.map((c) => [c.outcome, c.statusAfter])).toEqual([
      ['HaulError', 'PENDING'],
      ['HaulError', 'PENDING'],
      ['HaulError', 'FAILED'],
    ]);
    expect(calls[0]?.reasonAfter).toMatch(/not found.*will retry/);
    // Backoff 100 ms then 200 ms.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
  });

  it('bytes other than the expected checksum end FAILED at once: no retry can fix them', async () => {
    const { processors, calls } = counted();
    workers(processors);
    const jobs = producer();
    await store.put('corrupt/object.bin', randomBytes(100_000));
    const f = await createIngestService({ prisma: db.prisma, jobs }).ingestFile(admin, {
      storageKey: 'corrupt/object.bin',
      name: 'object.bin',
      contentType: 'application/octet-stream',
      checksum: 'ab'.repeat(32),
    });
    const failed = await settled(f.id);
    expect(failed.status).toBe('FAILED');
    expect(failed.failReason).toMatch(/not the expected abab/);
    expect(calls.map((c) => c.outcome)).toEqual(['UnrecoverableError']);
    expect(await db.prisma.fileChunk.count({ where: { fileId: f.id } })).toBe(0);
  });

  it('SIGTERM-style close hands a running job back (no attempt spent) and another worker completes it', async () => {
    const jobs = producer();
    const real = buildProcessors({ prisma: db.prisma, store });
    let started!: () => void;
    const running = new Promise<void>((r) => {
      started = r;
    });
    let aborted: unknown;
    // Worker A's ingest never finishes by itself: it waits for its abort signal.
    const stuck = startBullWorkers({
      redisUrl: REDIS_URL,
      settings,
      queues: ['ingest'],
      processors: {
        ...real,
        ingest: (_job, _token, signal) =>
          new Promise((_, reject) => {
            started();
            signal?.addEventListener('abort', () => {
              aborted = signal.reason;
              reject(new Error('aborted'));
            });
          }),
      },
    });
    await store.put('handoff/object.bin', randomBytes(200_000));
    const f = await createIngestService({ prisma: db.prisma, jobs }).ingestFile(admin, {
      storageKey: 'handoff/object.bin',
      name: 'object.bin',
      contentType: 'application/octet-stream',
    });
    await running;
    await stuck.close(200);
    expect(aborted).toBe(SHUTDOWN);
    const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const q = new Queue('ingest', { connection, prefix: settings.prefix });
    onTestFinished(async () => {
      await q.close();
      connection.disconnect();
    });
    const job = await q.getJob(ingestJobId({ storageKey: 'handoff/object.bin', chunkSize: f.chunkSize }));
    expect(await job?.getState()).toBe('waiting');
    expect(job?.attemptsMade).toBe(0);

    workers(real);
    expect((await settled(f.id)).status).toBe('READY');
  });
});
