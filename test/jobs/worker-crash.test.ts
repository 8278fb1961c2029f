import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../src/db/client.ts';
import { migrateDatabase } from '../../src/db/migrate.ts';
import { createIngestService } from '../../src/files/ingest-service.ts';
import { createBullQueue } from '../../src/jobs/bullmq.ts';
import { DEFAULT_JOB_SETTINGS, ingestJobId, type JobQueue } from '../../src/jobs/queues.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.ts';
import { cleanEnv } from '../helpers/process.ts';
import { deleteRedisKeys, REDIS_URL, testRedisPrefix } from '../helpers/redis.ts';

/**
 * Real `haul worker` processes: one is SIGKILLed in the middle of an ingest; BullMQ's stalled-job
 * check (a short lock and check interval here, 30 s each by default) hands the job to another
 * worker, which completes it.
 */

const run = promisify(execFile);
const HAUL = new URL('../../bin/haul.js', import.meta.url).pathname;
const GiB = 1024 ** 3;
const prefix = testRedisPrefix('crash');

let pgdb: TestDatabase;
let db: Database;
let dir: string;
let jobs: JobQueue;
const children: ChildProcess[] = [];

beforeAll(async () => {
  pgdb = await createTestDatabase('haul_crash');
  db = await openDatabase({ kind: 'postgres', url: pgdb.url });
  await migrateDatabase(db);
  dir = await mkdtemp(join(tmpdir(), 'haul-crash-'));
  jobs = createBullQueue(REDIS_URL, { ...DEFAULT_JOB_SETTINGS, prefix: `${prefix}bull` });
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await jobs?.close();
  await db?.close();
  await pgdb?.[Symbol.asyncDispose]();
  await rm(dir, { recursive: true, force: true });
  await deleteRedisKeys(prefix);
});

/** Starts `haul worker` and resolves once it consumes its queues. */
async function startWorker(): Promise<ChildProcess> {
  const child = spawn('node', [HAUL, 'worker'], {
    env: {
      ...cleanEnv(),
      DATABASE_URL: pgdb.url,
      REDIS_URL,
      HAUL_REDIS_PREFIX: prefix,
      HAUL_STORAGE: 'fs',
      HAUL_STORAGE_DIR: dir,
      HAUL_JOB_LOCK_DURATION: '2s',
      HAUL_JOB_STALLED_INTERVAL: '1s',
      HAUL_EXPIRE_EVERY: '1h',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (b: Buffer) => {
      out += b.toString();
      if (/haul worker \d+ consuming/.test(out)) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`haul worker exited ${code}: ${out}`)));
  });
  return child;
}

it('a worker killed mid-ingest leaves the job to be retried and completed by another worker', async () => {
  await writeFile(join(dir, 'big.bin'), '');
  await truncate(join(dir, 'big.bin'), 3 * GiB);
  const expected = run('openssl', ['dgst', '-sha256', '-r', join(dir, 'big.bin')]);

  const first = await startWorker();
  const file = await createIngestService({ prisma: db.prisma, jobs }).ingestFile(
    { sub: 'root', role: 'admin' },
    { storageKey: 'big.bin', name: 'big.bin', contentType: 'application/octet-stream' },
  );
  const jobId = ingestJobId(file);
  // Kill it once it is visibly hashing (progress is written as whole percents).
  for (let p = await jobs.progress('ingest', jobId); !p || p < 1; p = await jobs.progress('ingest', jobId))
    await new Promise((r) => setTimeout(r, 20));
  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));
  expect((await db.prisma.file.findUniqueOrThrow({ where: { id: file.id } })).status).toBe('PENDING');

  await startWorker();
  let row = await db.prisma.file.findUniqueOrThrow({ where: { id: file.id } });
  for (const until = Date.now() + 90_000; row.status === 'PENDING' && Date.now() < until; ) {
    await new Promise((r) => setTimeout(r, 100));
    row = await db.prisma.file.findUniqueOrThrow({ where: { id: file.id } });
  }
  expect(row.status).toBe('READY');
  expect(row.checksum).toBe((await expected).stdout.split(' ')[0]);
  expect(row.chunkCount).toBe(308);
  expect(await db.prisma.fileChunk.count({ where: { fileId: file.id } })).toBe(308);

  // BullMQ's record: the killed worker's stall, then completion elsewhere, no failed attempt.
  const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const q = new Queue('ingest', { connection, prefix: `${prefix}bull` });
  try {
    const job = await q.getJob(jobId);
    expect(await job?.getState()).toBe('completed');
    expect(job?.stalledCounter).toBeGreaterThanOrEqual(1);
    expect(job?.failedReason).toBeFalsy();
  } finally {
    await q.close();
    connection.disconnect();
  }
}, 120_000);
