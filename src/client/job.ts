import { createHash, type Hash } from 'node:crypto';

/** One manifest entry: bytes [start, end] (inclusive) and, with a manifest, their SHA-256. */
export interface Chunk {
  index: number;
  start: number;
  end: number;
  sha256?: string | undefined;
}

/** A download's chunks: a regular tiling (every chunk `chunkSize` bytes but the last), so offsets map to chunks by division. */
export class ChunkMap {
  readonly chunkSize: number;
  constructor(
    readonly chunks: readonly Chunk[],
    /** Jobs hash chunks as they stream (false: chunks are verified by reading them back, elsewhere). */
    readonly hashInline = true,
  ) {
    this.chunkSize = chunks.length > 0 ? chunks[0]!.end - chunks[0]!.start + 1 : 1;
  }

  at(offset: number): Chunk {
    return this.chunks[Math.min(this.chunks.length - 1, Math.floor(offset / this.chunkSize))]!;
  }
}

let nextJobId = 1;

/**
 * A byte range that one connection fetches with one request: a run of whole chunks claimed from
 * the queue, or (at the tail) the back of another job's remainder (`split`) or a duplicate of it
 * (`race`). With inline hashing, every chunk it streams from that chunk's first byte is hashed on
 * the way, so it is verified the moment its last byte is written; otherwise chunks are read back
 * and verified elsewhere (chunk-verifier.ts).
 */
export class Job {
  readonly id = nextJobId++;
  readonly ctl = new AbortController();
  /** Next byte expected; bytes [from, pos) are received (and written once the job exits). */
  pos: number;
  /** The chunk holding `pos`. */
  current: Chunk;
  /** Streaming SHA-256 of `current`, only when the job received it from its first byte. */
  hash: Hash | null;
  readonly startedAt = performance.now();
  lastByteAt = performance.now();
  /** A duplicate exists for this job's remainder (or this is one): never raced twice. */
  raced = false;
  /** Waiting out a retry delay (honouring Retry-After): not lagging, so not raced meanwhile. */
  backingOff = false;
  source: string | undefined;
  /** Chunk completions waiting for their bytes to reach the file. */
  readonly settling: Promise<void>[] = [];

  constructor(
    readonly map: ChunkMap,
    readonly from: number,
    /** Last byte, inclusive; lowered when the back of the job is split off. */
    public to: number,
    readonly kind: 'chunks' | 'split' | 'race',
  ) {
    this.pos = from;
    this.current = map.at(from);
    this.hash = from === this.current.start ? this.#newHash() : null;
  }

  get remaining(): number {
    return Math.max(0, this.to + 1 - this.pos);
  }

  /** Average receive rate since the job started, bytes/s. */
  rate(now = performance.now()): number {
    return ((this.pos - this.from) * 1000) / Math.max(1, now - this.startedAt);
  }

  /** `pos` reached the end of `current` and the job goes on: the finished chunk and its digest (when hashed whole). */
  crossBoundary(): { chunk: Chunk; digest: string | undefined } {
    const chunk = this.current;
    const digest = this.hash?.digest('hex');
    this.current = this.map.at(this.pos);
    this.hash = this.#newHash();
    return { chunk, digest };
  }

  /** A streaming hash for `current`, when chunks are hashed inline and it has a digest to meet. */
  #newHash(): Hash | null {
    return this.map.hashInline && this.current.sha256 ? createHash('sha256') : null;
  }
}

/** Whether the union of `ranges` covers [start, end]. */
export function isCovered(ranges: readonly [number, number][], start: number, end: number): boolean {
  if (end < start) return true;
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  let reach = start;
  for (const [a, b] of sorted) {
    if (a > reach) break;
    if (b + 1 > reach) reach = b + 1;
    if (reach > end) return true;
  }
  return reach > end;
}
