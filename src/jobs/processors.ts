import type { Logger } from 'pino';
import { expireSessionsProcessor } from '../../jobs/expire-sessions.ts';
import { flushProgressProcessor } from '../../jobs/flush-progress.ts';
import { ingestProcessor } from '../../jobs/ingest.ts';
import type { PrismaClient } from '../db/client.ts';
import type { IngestOptions } from '../files/ingest.ts';
import type { DownloadSession } from '../generated/prisma/client.ts';
import type { HotProgressStore } from '../sessions/hot-progress.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import type { Processors } from './queues.ts';

export interface ProcessorDeps {
  prisma: PrismaClient;
  store: BlobStore;
  log?: Logger;
  /** Publishes sessions the sweep expired (the session service's change hook). */
  onExpired?(sessions: DownloadSession[]): void | Promise<void>;
  expireGraceMs?: number;
  hashing?: IngestOptions['hashing'];
  now?: () => Date;
  /** The Redis progress hot path, when configured: what the flush writes to PostgreSQL. */
  hot?: HotProgressStore;
}

/** The processor of every queue, built once per process; both runners take this table. */
export function buildProcessors(deps: ProcessorDeps): Processors {
  return {
    ingest: ingestProcessor({ prisma: deps.prisma, store: deps.store }, { hashing: deps.hashing }),
    'expire-sessions': expireSessionsProcessor({
      prisma: deps.prisma,
      now: deps.now,
      graceMs: deps.expireGraceMs,
      onExpired: deps.onExpired,
      onError: (err) =>
        deps.log?.warn({ err: err instanceof Error ? err.message : String(err) }, 'publishing expired sessions failed'),
    }),
    'flush-progress': flushProgressProcessor({ prisma: deps.prisma, hot: deps.hot }),
  };
}
