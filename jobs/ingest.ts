import { type IngestDeps, type IngestInput, ingestObject } from '../src/files/ingest.ts';
import type { File } from '../src/generated/prisma/client.ts';

/** The payload of an ingest job: what `ingestFile` and `haul ingest` enqueue. */
export type IngestJobData = IngestInput;

/** The slice of a BullMQ `Job` a processor uses, so the same processor runs in-process too. */
export interface JobLike<T> {
  data: T;
  updateProgress(progress: number | object): Promise<void> | void;
}

/**
 * The ingest processor: builds the manifest of one stored object (src/files/ingest.ts) and
 * reports progress as a percentage. `haul serve` runs it in-process for the demo file; the
 * ingest issue registers it with a BullMQ Worker for `haul worker` (same signature:
 * job, token, signal).
 */
export function ingestProcessor(deps: IngestDeps) {
  return async (job: JobLike<IngestJobData>, _token?: string, signal?: AbortSignal): Promise<File> => {
    let lastPercent = -1;
    return ingestObject(deps, job.data, {
      signal,
      onProgress(done, total) {
        const percent = total === 0 ? 100 : Math.floor((done / total) * 100);
        if (percent !== lastPercent) {
          lastPercent = percent;
          void job.updateProgress(percent);
        }
      },
    });
  };
}
