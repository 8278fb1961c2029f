import type { PrismaClient } from '../src/db/client.ts';
import type { FlushProgressJobResult, Processor } from '../src/jobs/queues.ts';
import { flushProgress } from '../src/sessions/flush.ts';
import type { HotProgressStore } from '../src/sessions/hot-progress.ts';

/**
 * The write-behind flush (docs/realtime.md): every few seconds, dirty sessions' hot progress
 * goes from Redis to PostgreSQL in one monotonic UPDATE per batch. Without Redis there is no
 * hot state and nothing to do. Safe on several workers at once: each takes disjoint ids.
 */
export function flushProgressProcessor(deps: {
  prisma: PrismaClient;
  hot?: HotProgressStore | undefined;
}): Processor<'flush-progress'> {
  return async (job): Promise<FlushProgressJobResult> => {
    if (!deps.hot) return { sessions: 0, statements: 0 };
    return flushProgress({ prisma: deps.prisma, hot: deps.hot }, { batch: job.data.batchSize });
  };
}
