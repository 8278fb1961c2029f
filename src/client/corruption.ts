import { HaulClientError } from './errors.ts';
import type { TransferStats } from './transfer.ts';
import type { DownloadEvent } from './types.ts';

/**
 * Chunks that failed their SHA-256, counted per chunk and per source: each failure is a
 * `corrupt-chunk` event, every third from one source a `source-warning`, and a chunk that fails
 * `maxPerChunk` times ends the download (CORRUPT_SOURCE): the source keeps sending bad bytes.
 */
export class CorruptionLedger {
  readonly #byChunk = new Map<number, number>();

  constructor(
    private readonly stats: TransferStats,
    private readonly maxPerChunk: number,
    private readonly emit: (e: DownloadEvent) => void,
  ) {}

  /** Chunk `index` from `source` failed its check; throws CORRUPT_SOURCE at the limit. */
  record(index: number, source: string | undefined): void {
    const n = (this.#byChunk.get(index) ?? 0) + 1;
    this.#byChunk.set(index, n);
    const key = source ?? 'unknown';
    const bySource = (this.stats.corruption[key] ?? 0) + 1;
    this.stats.corruption[key] = bySource;
    this.stats.refetchedChunks++;
    this.emit({ type: 'corrupt-chunk', chunk: index, source, count: n });
    if (bySource % 3 === 0) this.emit({ type: 'source-warning', source: key, corruptChunks: bySource });
    if (n >= this.maxPerChunk)
      throw new HaulClientError('CORRUPT_SOURCE', `chunk ${index} failed its SHA-256 ${n} times (last from ${key})`, {
        source,
        attempt: n,
      });
  }
}
