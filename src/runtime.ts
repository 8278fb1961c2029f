import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { ingestProcessor } from '../jobs/ingest.ts';
import { type App, buildApp } from './app.ts';
import { createAuthenticator } from './auth/jwt.ts';
import type { Config } from './config/index.ts';
import { type Database, openDatabase } from './db/client.ts';
import { migrateDatabase } from './db/migrate.ts';
import { createEdgeHandler } from './edge/handler.ts';
import { Keyring } from './edge/signing.ts';
import { ensureDemoFile } from './files/demo.ts';
import { createFileRepository } from './files/repository.ts';
import { type DownloadUrlSigner, edgeUrlSigner, s3UrlSigner } from './sessions/download-url.ts';
import { createSessionService } from './sessions/service.ts';
import type { BlobStore } from './storage/blob-store.ts';
import { FsBlobStore } from './storage/fs.ts';
import { S3BlobStore } from './storage/s3.ts';
import { createS3Client } from './storage/s3-client.ts';

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

function openStore(config: Config): { store: BlobStore; signer?: (keyring: Keyring, base: () => string) => DownloadUrlSigner } {
  if (config.storage.kind === 'fs') return { store: new FsBlobStore(config.storage.root) };
  const s3 = config.storage;
  const client = createS3Client(s3);
  return {
    store: new S3BlobStore(client, s3.bucket),
    signer: config.downloadUrls === 's3-presigned' ? () => s3UrlSigner(client, s3.bucket) : undefined,
  };
}

/** The composition root's body: everything `haul serve` / `haul api` run, built from config. */
export async function startRuntime(config: Config, log: Logger, opts: RuntimeOptions): Promise<Runtime> {
  const db = await openDatabase(config.database);
  const redis = config.redisUrl
    ? // Not awaited: the API starts and serves from PostgreSQL while Redis is away; /readyz says so.
      new Redis(config.redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false })
    : undefined;
  redis?.on('error', (err) => log.warn({ err: err.message }, 'redis connection error'));
  let app: App | undefined;
  try {
    const migrated = await migrateDatabase(db, { log: (msg) => log.info(msg) });
    if (migrated.applied.length) log.info({ applied: migrated.applied }, 'migrations applied');

    const { store, signer: s3Signer } = openStore(config);
    const keyring = new Keyring(config.signing);
    let baseUrl = config.publicUrl ?? '';
    const edgeBase = () => config.edgeUrl ?? baseUrl;
    const signer = s3Signer ? s3Signer(keyring, edgeBase) : edgeUrlSigner(keyring, edgeBase);

    const sessions = createSessionService({
      prisma: db.prisma,
      signer,
      sessionTtlMs: config.sessionTtlMs,
      urlTtlMs: config.signing.urlTtlMs,
    });
    app = buildApp({
      log,
      auth: createAuthenticator(config.auth),
      sessions,
      files: createFileRepository(db.prisma),
      limits: config.limits,
      readiness: {
        database: async () => {
          await db.prisma.$queryRaw`SELECT 1`;
        },
        ...(redis ? { redis: async () => void (await redis.ping()) } : {}),
      },
      edge: opts.role === 'serve' ? createEdgeHandler({ keyring, store, log }) : undefined,
    });
    const port = await app.start(config.port, config.host);
    const shownHost = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
    baseUrl ||= `http://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}`;

    if (opts.role === 'serve') {
      // The demo goes through the same ingest processor the job system runs.
      const deps = { prisma: db.prisma, store };
      const ingest = ingestProcessor(deps);
      const demo = await ensureDemoFile(deps, {
        ingest: (data) => ingest({ data, updateProgress: (p) => log.debug({ progress: p }, 'demo ingest') }),
      });
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
        redis?.disconnect();
        await db.close();
      },
    };
  } catch (e) {
    await app?.stop(0);
    redis?.disconnect();
    await db.close();
    throw e;
  }
}
