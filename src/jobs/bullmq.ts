import { type Job, type JobsOptions, Queue, WaitingError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { type JobQueue, type JobSettings, type Processors, QUEUE_NAMES, type QueueName, SHUTDOWN } from './queues.ts';

/** Job options per queue: retries with exponential backoff for ingest; bounded history for all. */
function jobOptions(queue: QueueName, s: JobSettings): JobsOptions {
  const history = { removeOnComplete: { age: 3600, count: 1000 }, removeOnFail: { age: 7 * 24 * 3600, count: 1000 } };
  if (queue === 'ingest')
    return { attempts: s.ingestAttempts, backoff: { type: 'exponential', delay: s.ingestBackoffMs }, ...history };
  return { attempts: 1, ...history };
}

const LIVE_STATES = new Set(['waiting', 'active', 'delayed', 'prioritized', 'waiting-children']);

/**
 * The producer side on Redis (API processes, `haul serve` with REDIS_URL). Its connection
 * fails fast while Redis is away (no offline queue), so an `ingestFile` answers an error
 * instead of hanging; workers use their own, patient, connections.
 */
export function createBullQueue(redisUrl: string, settings: JobSettings, log?: Logger): JobQueue {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
  connection.on('error', (err) => log?.warn({ err: err.message }, 'job queue: redis connection error'));
  const queues = new Map<QueueName, Queue>();
  const queueFor = (name: QueueName): Queue => {
    let q = queues.get(name);
    if (!q) {
      q = new Queue(name, { connection, prefix: settings.prefix });
      q.on('error', (err) => log?.warn({ err: err.message, queue: name }, 'job queue error'));
      queues.set(name, q);
    }
    return q;
  };

  return {
    kind: 'bullmq',

    async enqueue(queue, data, opts = {}) {
      const q = queueFor(queue);
      if (opts.jobId) {
        // BullMQ ignores an add whose id exists in any state; a finished job of this id is
        // history, and a new request (e.g. re-ingest after the object changed) must run.
        const state = await q.getJobState(opts.jobId);
        if (state === 'completed' || state === 'failed') await q.remove(opts.jobId);
      }
      const job = await q.add(queue, data, { ...jobOptions(queue, settings), ...(opts.jobId ? { jobId: opts.jobId } : {}) });
      return { id: job.id as string };
    },

    async progress(queue, jobId) {
      const job = await queueFor(queue).getJob(jobId);
      if (!job || !LIVE_STATES.has(await job.getState())) return null;
      return typeof job.progress === 'number' ? job.progress : 0;
    },

    async schedule(queue, everyMs, data) {
      // Upsert by a fixed id: every worker may call this at start, there is still one schedule.
      await queueFor(queue).upsertJobScheduler(
        queue,
        { every: everyMs },
        { name: queue, data, opts: { removeOnComplete: { count: 10 }, removeOnFail: { count: 100 } } },
      );
    },

    async close() {
      await Promise.all([...queues.values()].map((q) => q.close()));
      connection.disconnect();
    },
  };
}

export interface BullWorkers {
  workers: Worker[];
  /**
   * Graceful stop (SIGTERM): take no new jobs and let running ones finish; after `graceMs`,
   * abort them with the reason `shutdown`, and hand each back to the queue (moved to wait, no
   * attempt spent) for another worker to redo.
   */
  close(graceMs?: number): Promise<void>;
}

export interface BullWorkerOptions {
  redisUrl: string;
  settings: JobSettings;
  processors: Processors;
  /** Queues to consume (default all). */
  queues?: readonly QueueName[];
  log?: Logger;
  /** Shown in BullMQ's job records (`processedBy`). */
  name?: string;
}

/** Starts one BullMQ Worker per queue, each on its own connection (BullMQ needs maxRetriesPerRequest: null). */
export function startBullWorkers(opts: BullWorkerOptions): BullWorkers {
  const { settings, log } = opts;
  const connections: Redis[] = [];
  const workers = (opts.queues ?? QUEUE_NAMES).map((queue) => {
    const processor = opts.processors[queue] as (job: Job, token?: string, signal?: AbortSignal) => Promise<unknown>;
    const connection = new Redis(opts.redisUrl, { maxRetriesPerRequest: null });
    connection.on('error', (err) => log?.warn({ err: err.message }, 'worker: redis connection error'));
    connections.push(connection);
    const worker = new Worker(
      queue,
      // Three parameters: BullMQ passes an abort signal only to processors that declare one.
      async (job: Job, token?: string, signal?: AbortSignal) => {
        try {
          return await processor(job, token, signal);
        } catch (e) {
          if (signal?.aborted && signal.reason === SHUTDOWN && token) {
            await job.moveToWait(token);
            throw new WaitingError();
          }
          throw e;
        }
      },
      {
        connection,
        prefix: settings.prefix,
        name: opts.name,
        concurrency: queue === 'ingest' ? settings.ingestConcurrency : 1,
        lockDuration: settings.lockDurationMs,
        stalledInterval: settings.stalledIntervalMs,
        // A job whose worker died is retried; twice in a row means it kills workers: fail it.
        maxStalledCount: 2,
      },
    );
    worker.on('error', (err) => log?.warn({ err: err.message, queue }, 'worker error'));
    worker.on('failed', (job, err) =>
      log?.warn({ queue, jobId: job?.id, attempt: job?.attemptsMade, err: err.message }, 'job attempt failed'),
    );
    // Ingests are events worth a line; the sweep every minute is not.
    worker.on('completed', (job, result) =>
      queue === 'ingest'
        ? log?.info({ queue, jobId: job.id, result }, 'job completed')
        : log?.debug({ queue, result }, 'job completed'),
    );
    return worker;
  });

  return {
    workers,
    async close(graceMs = 30_000) {
      const timer = setTimeout(() => {
        for (const w of workers) w.cancelAllJobs(SHUTDOWN);
      }, graceMs);
      try {
        await Promise.all(workers.map((w) => w.close()));
      } finally {
        clearTimeout(timer);
        for (const c of connections) c.disconnect();
      }
    },
  };
}
