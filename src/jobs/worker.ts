import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../config/index.ts';
import { openDatabase } from '../db/client.ts';
import { migrateDatabase } from '../db/migrate.ts';
import { createSessionEvents } from '../realtime/events.ts';
import { createHotProgress } from '../sessions/hot-progress.ts';
import { redisLiveState } from '../sessions/live.ts';
import { openBlobStore } from '../storage/open.ts';
import type { QueueName } from './queues.ts';
import { publishExpired, startJobs } from './runtime.ts';

export interface WorkerProcess {
  stop(): Promise<void>;
}

/**
 * The body of `haul worker`: PostgreSQL, the object store and Redis, and one BullMQ Worker per
 * queue. Expired sessions are published through Redis exactly as the API publishes its changes,
 * so subscribers on any API process see them.
 */
export async function startWorkerProcess(
  config: Config,
  log: Logger,
  opts: { queues?: QueueName[] } = {},
): Promise<WorkerProcess> {
  const redisUrl = config.redisUrl;
  if (!redisUrl) throw new Error('haul worker needs REDIS_URL');
  const db = await openDatabase(config.database);
  const clients: Redis[] = [];
  const client = (patient: boolean) => {
    const c = patient
      ? new Redis(redisUrl, { maxRetriesPerRequest: null })
      : new Redis(redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
    c.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'));
    clients.push(c);
    return c;
  };
  try {
    // Applying pending migrations is safe from any process (advisory lock); a worker started
    // first on a fresh database must not fail every job for want of tables.
    await migrateDatabase(db, { log: (msg) => log.info(msg) });
    const events = createSessionEvents({
      prefix: config.redisPrefix,
      redis: { publisher: client(false), subscriber: client(true) },
    });
    const hot = createHotProgress(client(false), { prefix: config.redisPrefix, sessionTtlMs: config.sessionTtlMs });
    const live = redisLiveState({ hot, events, log });
    const jobs = await startJobs({
      config,
      prisma: db.prisma,
      store: await openBlobStore(config.storage),
      log,
      role: 'worker',
      queues: opts.queues,
      onExpired: publishExpired(db.prisma, (kind, row, file) => live.changed(kind, row, file)),
    });
    return {
      async stop() {
        await jobs.stop();
        await events.close();
        for (const c of clients) c.disconnect();
        await db.close();
      },
    };
  } catch (e) {
    for (const c of clients) c.disconnect();
    await db.close();
    throw e;
  }
}
