import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { type App, buildApp } from './app.ts';
import { createAuthenticator } from './auth/jwt.ts';
import type { Config } from './config/index.ts';
import { type Database, openDatabase } from './db/client.ts';
import { migrateDatabase } from './db/migrate.ts';
import { createEdgeHandler } from './edge/handler.ts';
import { Keyring } from './edge/signing.ts';
import { StoreOrigin } from './edge/store-origin.ts';
import { ensureDemoFile } from './files/demo.ts';
import { createIngestService } from './files/ingest-service.ts';
import { createFileRepository } from './files/repository.ts';
import { ingestNow, publishExpired, startJobs } from './jobs/runtime.ts';
import { createSessionEvents } from './realtime/events.ts';
import { type DownloadUrlSigner, edgeUrlSigner, s3UrlSigner } from './sessions/download-url.ts';
import { createHotProgress } from './sessions/hot-progress.ts';
import { embeddedLiveState, redisLiveState } from './sessions/live.ts';
import { createSessionService } from './sessions/service.ts';
import type { BlobStore } from './storage/blob-store.ts';
import { FsBlobStore } from './storage/fs.ts';

export interface Runtime {
  app: App;
  db: Database;
  store: BlobStore;
  port: number;
  /** The base URL clients reach this process on. */
  baseUrl: string;
  stop(): Promise<void>;
}

export interface RuntimeOptions {
  /** serve: API + edge + demo file in one process; api: the control plane alone. */
  role: 'serve' | 'api';
}

/** The store, and for S3 the client's presigner; the AWS SDK is imported only for S3. */
async function openStore(
  config: Config,
): Promise<{ store: BlobStore; signer?: (keyring: Keyring, base: () => string) => DownloadUrlSigner }> {
  if (config.storage.kind === 'fs') return { store: new FsBlobStore(config.storage.root) };
  const s3 = config.storage;
  const [{ S3BlobStore }, { createS3Client }] = await Promise.all([import('./storage/s3.ts'), import('./storage/s3-client.ts')]);
  const client = createS3Client(s3);
  return {
    store: new S3BlobStore(client, s3.bucket),
    signer: config.downloadUrls === 's3-presigned' ? () => s3UrlSigner(client, s3.bucket) : undefined,
  };
}

/**
 * A Redis connection for pub/sub. The subscriber queues commands while disconnected and retries
 * forever (ioredis resubscribes on reconnect), so subscriptions recover when Redis returns; the
 * publisher fails fast, and its failures are dropped by the event layer.
 */
function redisClient(url: string, log: Logger, role: 'publisher' | 'subscriber'): Redis {
  const client =
    role === 'subscriber'
      ? new Redis(url, { maxRetriesPerRequest: null })
      : new Redis(url, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
  let warned = 0;
  client.on('error', (err) => {
    // One line per 30 s while Redis is away, not one per reconnect attempt.
    if (Date.now() - warned > 30_000) {
      warned = Date.now();
      log.warn({ err: err.message, role }, 'redis pub/sub connection error');
    }
  });
  return client;
}

/** The composition root's body: everything `haul serve` / `haul api` run, built from config. */
export async function startRuntime(config: Config, log: Logger, opts: RuntimeOptions): Promise<Runtime> {
  const db = await openDatabase(config.database);
  const redis = config.redisUrl
    ? // Not awaited: the API starts and serves from PostgreSQL while Redis is away; /readyz says so.
      new Redis(config.redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false })
    : undefined;
  redis?.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'));
  const closers: Array<() => Promise<void> | void> = [];
  let app: App | undefined;
  try {
    const migrated = await migrateDatabase(db, { log: (msg) => log.info(msg) });
    if (migrated.applied.length) log.info({ applied: migrated.applied }, 'migrations applied');

    const { store, signer: s3Signer } = await openStore(config);
    const keyring = new Keyring(config.signing);
    let baseUrl = config.publicUrl ?? '';
    const edgeBase = () => config.edgeUrl ?? baseUrl;
    const signer = s3Signer ? s3Signer(keyring, edgeBase) : edgeUrlSigner(keyring, edgeBase);

    // Realtime: Redis pub/sub and the progress hot path when REDIS_URL is set, else in-process.
    // Pub/sub needs its own connections (a subscribed connection can do nothing else).
    const pubsubRedis = config.redisUrl
      ? { publisher: redisClient(config.redisUrl, log, 'publisher'), subscriber: redisClient(config.redisUrl, log, 'subscriber') }
      : undefined;
    const events = createSessionEvents({ prefix: config.redisPrefix, redis: pubsubRedis });
    closers.push(() => events.close());
    const hot = redis
      ? createHotProgress(redis, { prefix: config.redisPrefix, sessionTtlMs: config.sessionTtlMs, shards: config.redisShards })
      : undefined;
    const live = hot ? redisLiveState({ hot, events, log }) : embeddedLiveState(events);
    const sessions = createSessionService({
      prisma: db.prisma,
      signer,
      sessionTtlMs: config.sessionTtlMs,
      urlTtlMs: config.signing.urlTtlMs,
      live,
    });
    // Jobs: BullMQ on REDIS_URL, else in-process (src/jobs/runtime.ts); swept expiries are published like any change.
    const jobs = await startJobs({
      config,
      prisma: db.prisma,
      store,
      log,
      role: opts.role,
      onExpired: publishExpired(db.prisma, (kind, row, file) => live.changed(kind, row, file)),
    });
    closers.unshift(() => jobs.stop());
    app = buildApp({
      log,
      auth: createAuthenticator(config.auth),
      sessions,
      events,
      files: createFileRepository(db.prisma),
      ingest: createIngestService({ prisma: db.prisma, jobs: jobs.queue }),
      limits: config.limits,
      readiness: {
        database: async () => {
          await db.prisma.$queryRaw`SELECT 1`;
        },
        ...(redis ? { redis: async () => void (await redis.ping()) } : {}),
      },
      edge: opts.role === 'serve' ? createEdgeHandler({ keyring, origin: new StoreOrigin(store), log }) : undefined,
    });
    const port = await app.start(config.port, config.host);
    const shownHost = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
    baseUrl ||= `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}`;

    if (opts.role === 'serve') {
      // The demo goes through the same ingest processor the job system runs.
      const deps = { prisma: db.prisma, store };
      const demo = await ensureDemoFile(deps, { ingest: (data) => ingestNow({ ...deps, log }, data) });
      if (demo) log.info({ fileId: demo.id, name: demo.name, size: Number(demo.sizeBytes) }, 'demo file ready');
    }
    const running = app;
    return {
      app: running,
      db,
      store,
      port,
      baseUrl,
      async stop() {
        await running.stop();
        for (const close of closers) await close();
        redis?.disconnect();
        await db.close();
      },
    };
  } catch (e) {
    await app?.stop(0);
    for (const close of closers) await close();
    redis?.disconnect();
    await db.close();
    throw e;
  }
}
