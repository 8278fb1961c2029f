import { type IngestDeps, type IngestOptions, ingestObject, isPermanentIngestError } from '../src/files/ingest.ts';
import { type IngestJobResult, type Processor, UnrecoverableJobError } from '../src/jobs/queues.ts';

export interface IngestProcessorOptions {
  /** Hashing strategy (default auto: worker threads from 8 MiB up). */
  hashing?: IngestOptions['hashing'];
}

/**
 * The ingest processor: builds the manifest of one stored object (src/files/ingest.ts) and
 * reports progress as a whole percentage (at most 101 progress writes, whatever the size).
 *
 * Retries belong to the runner (BullMQ, or the in-process one): until the last attempt a
 * failure leaves the file PENDING with the error in `failReason`; the last one, or a failure no
 * retry can fix (bad input, bytes other than the expected checksum), marks it FAILED. Re-running
 * on the same object rewrites the same rows, so a retry after a crash is harmless.
 */
export function ingestProcessor(deps: IngestDeps, opts: IngestProcessorOptions = {}): Processor<'ingest'> {
  return async (job, _token, signal): Promise<IngestJobResult> => {
    const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    let lastPercent = -1;
    try {
      const file = await ingestObject(deps, job.data, {
        signal,
        hashing: opts.hashing,
        markFailed: lastAttempt,
        onProgress(done, total) {
          const percent = total === 0 ? 100 : Math.floor((done / total) * 100);
          if (percent !== lastPercent) {
            lastPercent = percent;
            // Progress is advisory: a lost update must not fail the ingest.
            void Promise.resolve(job.updateProgress(percent)).catch(() => {});
          }
        },
      });
      // The result is stored as JSON by BullMQ: plain numbers and strings, no BigInt.
      return {
        fileId: file.id,
        sizeBytes: Number(file.sizeBytes),
        chunkCount: file.chunkCount,
        checksum: file.checksum as string,
        merkleRoot: file.merkleRoot as string,
      };
    } catch (e) {
      if (isPermanentIngestError(e)) throw new UnrecoverableJobError((e as Error).message);
      throw e;
    }
  };
}
