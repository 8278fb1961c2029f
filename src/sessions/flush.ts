import type { PrismaClient } from '../db/client.ts';
import type { HotProgress, HotProgressStore } from './hot-progress.ts';

export interface FlushResult {
  /** Sessions written to PostgreSQL. */
  sessions: number;
  /** UPDATE statements sent (one per batch). */
  statements: number;
}

/**
 * The write-behind half of the hot path: takes dirty session ids from every shard, reads their
 * hot progress, and writes each batch to PostgreSQL in ONE statement that merges monotonically
 * (chunk union, offset max, expiry max), so a flush that races a write-through change, repeats
 * after a crash, or runs on two workers at once can never move a session backwards. Ids whose
 * batch fails are marked dirty again; nothing is lost while Redis keeps its memory.
 */
export async function flushProgress(
  deps: { prisma: PrismaClient; hot: HotProgressStore },
  opts: { batch?: number; maxBatches?: number } = {},
): Promise<FlushResult> {
  const batch = opts.batch ?? 1000;
  const maxBatches = opts.maxBatches ?? 100;
  let sessions = 0;
  let statements = 0;
  const drained = new Set<number>();
  for (let round = 0; round < maxBatches && drained.size < deps.hot.shards; round++) {
    // Gather one batch across the shards, so a flush is one statement per `batch` sessions.
    const ids: string[] = [];
    for (let shard = 0; shard < deps.hot.shards && ids.length < batch; shard++) {
      if (drained.has(shard)) continue;
      const want = batch - ids.length;
      const got = await deps.hot.takeDirty(shard, want);
      if (got.length < want) drained.add(shard);
      ids.push(...got);
    }
    if (ids.length === 0) break;
    try {
      sessions += await writeBatch(deps.prisma, ids, await deps.hot.readMany(ids));
      statements++;
    } catch (e) {
      await deps.hot.markDirty(ids);
      throw e;
    }
  }
  return { sessions, statements };
}

/** One UPDATE for the whole batch; returns how many sessions it carried. */
async function writeBatch(prisma: PrismaClient, ids: readonly string[], hot: ReadonlyArray<HotProgress | null>): Promise<number> {
  const rows = ids.flatMap((id, i) => {
    const p = hot[i];
    if (!p) return [];
    return [
      {
        id,
        confirmed: p.bytesConfirmed,
        chunks: p.completedChunks,
        rate: p.transferRateBps,
        exp: new Date(p.expiresAtMs || 0).toISOString(),
        updated: new Date(p.updatedAtMs || Date.now()).toISOString(),
      },
    ];
  });
  if (rows.length === 0) return 0;
  // Timestamps are UTC ISO strings; casting to timestamp(3) drops the zone, as Prisma stores them.
  await prisma.$executeRaw`
    UPDATE "DownloadSession" AS d SET
      "completedChunks" = (SELECT coalesce(array_agg(DISTINCT c ORDER BY c), '{}')
                           FROM unnest(coalesce(d."completedChunks", '{}') || v.chunks) AS c),
      "bytesConfirmed" = GREATEST(d."bytesConfirmed", v.confirmed),
      "transferRateBps" = coalesce(v.rate, d."transferRateBps"),
      "expiresAt" = CASE WHEN d."status" IN ('ACTIVE', 'PAUSED') THEN GREATEST(d."expiresAt", v.exp) ELSE d."expiresAt" END,
      "updatedAt" = GREATEST(d."updatedAt", v.updated)
    FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
      AS v(id uuid, confirmed bigint, chunks int[], rate bigint, exp timestamp(3), updated timestamp(3))
    WHERE d."id" = v.id`;
  return rows.length;
}
