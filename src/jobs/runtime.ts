import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { ingestProcessor } from '../../jobs/ingest.ts';
import type { Config } from '../config/index.ts';
import type { PrismaClient } from '../db/client.ts';
import { DEFAULT_CHUNK_SIZE } from '../files/chunking.ts';
import type { IngestInput } from '../files/ingest.ts';
import type { DownloadSession, File } from '../generated/prisma/client.ts';
import { flushProgress } from '../sessions/flush.ts';
import { createHotProgress } from '../sessions/hot-progress.ts';
import { type FileView, toFileView } from '../sessions/model.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import { type BullWorkers, createBullQueue, startBullWorkers } from './bullmq.ts';
import { createInProcessJobs } from './in-process.ts';
import { buildProcessors } from './processors.ts';
import { ingestJobId, type JobQueue, type JobSettings, QUEUE_NAMES, type QueueName } from './queues.ts';

export interface JobsRuntime {
  /** Where producers enqueue: BullMQ when REDIS_URL is set, else the in-process runner. */
  queue: JobQueue;
  /** Stops processing (gracefully, see BullWorkers.close) and closes the queue. */
  stop(): Promise<void>;
}

export interface StartJobsOptions {
  config: Config;
  prisma: PrismaClient;
  store: BlobStore;
  log: Logger;
  /**
   * serve: enqueue and process (in-process, or BullMQ workers in this process with REDIS_URL);
   * api: enqueue only on Redis (a `haul worker` fleet processes), or process in-process without
   * it, since nothing else would; worker: process only.
   */
  role: 'serve' | 'api' | 'worker';
  /** Queues this process consumes on BullMQ (default all). */
  queues?: readonly QueueName[];
  onExpired?(sessions: DownloadSession[]): void | Promise<void>;
}

/** BullMQ keys live under the deployment's Redis prefix: `<HAUL_REDIS_PREFIX>bull:<queue>:…`. */
export function jobSettings(config: Config): JobSettings {
  return { prefix: `${config.redisPrefix}bull`, ...config.jobs };
}

/**
 * Chooses and starts the job runner from configuration alone (DESIGN §2): the code that enqueues
 * and the processors are the same either way.
 */
export async function startJobs(opts: StartJobsOptions): Promise<JobsRuntime> {
  const { config, log } = opts;
  const settings = jobSettings(config);
  // The flush reads the hot path's Redis state; a connection of its own, fail-fast.
  const hotRedis =
    config.redisUrl && opts.role !== 'api'
      ? new Redis(config.redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false })
      : undefined;
  hotRedis?.on('error', () => {});
  const hot = hotRedis
    ? createHotProgress(hotRedis, { prefix: config.redisPrefix, sessionTtlMs: config.sessionTtlMs, shards: config.redisShards })
    : undefined;
  const processors = buildProcessors({
    prisma: opts.prisma,
    store: opts.store,
    log,
    onExpired: opts.onExpired,
    expireGraceMs: config.jobs.expireGraceMs,
    hot,
  });
  const sweep = { batchSize: config.jobs.expireBatch };

  if (!config.redisUrl) {
    const jobs = createInProcessJobs(processors, settings, log.child({ jobs: 'in-process' }));
    await jobs.schedule('expire-sessions', config.jobs.expireEveryMs, sweep);
    await recoverPendingIngests(opts.prisma, jobs, log);
    return { queue: jobs, stop: () => jobs.close() };
  }

  const queue = createBullQueue(config.redisUrl, settings, log);
  let workers: BullWorkers | undefined;
  try {
    if (opts.role !== 'api') {
      const queues = opts.queues ?? QUEUE_NAMES;
      workers = startBullWorkers({
        redisUrl: config.redisUrl,
        settings,
        processors,
        queues,
        log,
        name: `${opts.role}-${process.pid}`,
      });
      // Every worker upserts the same scheduler id: one schedule, whatever the fleet size.
      if (queues.includes('expire-sessions')) await queue.schedule('expire-sessions', config.jobs.expireEveryMs, sweep);
      if (queues.includes('flush-progress')) await queue.schedule('flush-progress', config.jobs.flushEveryMs, {});
    }
  } catch (e) {
    await workers?.close(0);
    await queue.close();
    hotRedis?.disconnect();
    throw e;
  }
  return {
    queue,
    async stop() {
      await workers?.close(config.jobs.shutdownGraceMs);
      // A last flush, so a graceful stop leaves nothing behind in Redis.
      if (hot) await flushProgress({ prisma: opts.prisma, hot }).catch(() => {});
      await queue.close();
      hotRedis?.disconnect();
    },
  };
}

/**
 * The in-process runner keeps nothing across restarts: files left PENDING by a stopped process
 * (an ingest cut short, or accepted just before shutdown) are owed an ingest; enqueue it again.
 */
async function recoverPendingIngests(prisma: PrismaClient, queue: JobQueue, log: Logger): Promise<void> {
  const pending = await prisma.file.findMany({
    where: { status: 'PENDING' },
    select: { id: true, storageKey: true, name: true, contentType: true, chunkSize: true },
  });
  for (const f of pending) {
    const data = { fileId: f.id, storageKey: f.storageKey, name: f.name, contentType: f.contentType, chunkSize: f.chunkSize };
    await queue.enqueue('ingest', data, { jobId: ingestJobId(data) });
  }
  if (pending.length) log.info({ files: pending.length }, 'resumed pending ingests');
}

/**
 * Runs one ingest through the job processor right here, awaited (no queue): `haul serve` seeds
 * its demo file this way, so the demo goes through the same code as every ingest.
 */
export async function ingestNow(
  deps: { prisma: PrismaClient; store: BlobStore; log?: Logger },
  input: IngestInput,
): Promise<File> {
  const run = ingestProcessor({ prisma: deps.prisma, store: deps.store });
  const data = { ...input, chunkSize: input.chunkSize ?? DEFAULT_CHUNK_SIZE };
  const result = await run({
    id: ingestJobId(data),
    data,
    attemptsMade: 0,
    opts: { attempts: 1 },
    updateProgress: (p) => deps.log?.debug({ progress: p, storageKey: input.storageKey }, 'ingest progress'),
  });
  return deps.prisma.file.findUniqueOrThrow({ where: { id: result.fileId } });
}

/**
 * The sweep's `onExpired` for a process that publishes session changes: each expired session
 * goes out like any other change (`live.changed`), with its file (one query per batch).
 */
export function publishExpired(
  prisma: PrismaClient,
  changed: (kind: 'EXPIRED', row: DownloadSession, file: FileView) => Promise<void>,
): (sessions: DownloadSession[]) => Promise<void> {
  return async (sessions) => {
    const ids = [...new Set(sessions.map((s) => s.fileId))];
    const files = new Map((await prisma.file.findMany({ where: { id: { in: ids } } })).map((f) => [f.id, toFileView(f)]));
    for (const s of sessions) {
      const file = files.get(s.fileId);
      if (file) await changed('EXPIRED', s, file);
    }
  };
}
