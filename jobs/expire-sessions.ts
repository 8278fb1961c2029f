import type { PrismaClient } from '../src/db/client.ts';
import type { DownloadSession } from '../src/generated/prisma/client.ts';
import type { ExpireSessionsJobResult, Processor } from '../src/jobs/queues.ts';

export interface ExpireSessionsDeps {
  prisma: PrismaClient;
  now?: () => Date;
  /**
   * Called once per committed batch with the sessions that batch moved to EXPIRED, and never
   * for a session another sweep (or an access, `expireIfDue`) expired first: the hook that
   * publishes the change. Errors are reported to `onError` and do not undo the expiry.
   */
  onExpired?(sessions: DownloadSession[]): void | Promise<void>;
  onError?(err: unknown): void;
  /**
   * Only sessions expired for longer than this are swept (default 0). With write-behind
   * progress, activity may have extended a session in Redis that PostgreSQL has not seen
   * yet; a grace longer than the flush period keeps the sweep from racing it.
   */
  graceMs?: number;
}

/** Upper bound on batches per run, so one run ends; the next tick carries on. */
const MAX_BATCHES = 1000;

/**
 * One sweep: moves live sessions (ACTIVE, PAUSED) past `expiresAt` to EXPIRED, `batchSize` per
 * statement. Each statement locks its batch with FOR UPDATE SKIP LOCKED, so sweeps running at
 * once on several workers take disjoint batches and never wait on each other; the status
 * condition is checked again under the lock, so a session is expired, and reported, exactly
 * once. Idempotent: a repeated sweep finds nothing left to do.
 */
export async function expireDueSessions(
  deps: ExpireSessionsDeps,
  opts: { batchSize?: number; signal?: AbortSignal } = {},
): Promise<ExpireSessionsJobResult> {
  const { prisma } = deps;
  const batchSize = Math.max(1, Math.min(opts.batchSize ?? 1000, 10_000));
  let expired = 0;
  let batches = 0;
  for (; batches < MAX_BATCHES; ) {
    opts.signal?.throwIfAborted();
    const now = (deps.now ?? (() => new Date()))();
    const cutoff = new Date(now.getTime() - (deps.graceMs ?? 0));
    const rows = await prisma.$queryRaw<{ id: string }[]>`
      UPDATE "DownloadSession" SET "status" = 'EXPIRED', "updatedAt" = ${now}
      WHERE "id" IN (
        SELECT "id" FROM "DownloadSession"
        WHERE "status" IN ('ACTIVE', 'PAUSED') AND "expiresAt" <= ${cutoff}
        ORDER BY "expiresAt"
        LIMIT ${batchSize}
        FOR UPDATE SKIP LOCKED)
      AND "status" IN ('ACTIVE', 'PAUSED') AND "expiresAt" <= ${cutoff}
      RETURNING "id"::text AS id`;
    if (rows.length > 0) {
      batches++;
      expired += rows.length;
      await report(deps, rows);
    }
    if (rows.length < batchSize) break;
  }
  return { expired, batches };
}

async function report(deps: ExpireSessionsDeps, rows: { id: string }[]): Promise<void> {
  if (!deps.onExpired) return;
  try {
    const sessions = await deps.prisma.downloadSession.findMany({ where: { id: { in: rows.map((r) => r.id) } } });
    await deps.onExpired(sessions);
  } catch (e) {
    deps.onError?.(e);
  }
}

/** The scheduled processor: one sweep per tick of `upsertJobScheduler` (or the in-process timer). */
export function expireSessionsProcessor(deps: ExpireSessionsDeps): Processor<'expire-sessions'> {
  return (job, _token, signal) => expireDueSessions(deps, { batchSize: job.data.batchSize, signal });
}
