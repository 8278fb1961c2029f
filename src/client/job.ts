import { createHash, type Hash } from 'node:crypto';

/** One manifest entry: bytes [start, end] (inclusive) and, with a manifest, their SHA-256. */
export interface Chunk {
  index: number;
  start: number;
  end: number;
  sha256?: string | undefined;
}

let nextJobId = 1;

/**
 * A byte range of one chunk that one connection fetches: the whole chunk, or (at the tail) the
 * back half of another job's remainder (`split`) or a duplicate of it (`race`).
 */
export class Job {
  readonly id = nextJobId++;
  readonly ctl = new AbortController();
  /** Next byte expected; bytes [from, pos) are received (and written once the job exits). */
  pos: number;
  /** Streaming SHA-256, only when the job starts at the chunk's first byte. */
  readonly hash: Hash | null;
  readonly startedAt = performance.now();
  lastByteAt = performance.now();
  /** A duplicate exists for this job's remainder (or this is one): never raced twice. */
  raced = false;
  /** Waiting out a retry delay (honouring Retry-After): not lagging, so not raced meanwhile. */
  backingOff = false;
  source: string | undefined;

  constructor(
    readonly chunk: Chunk,
    readonly from: number,
    /** Last byte, inclusive; lowered when the back of the job is split off. */
    public to: number,
    readonly kind: 'chunk' | 'split' | 'race',
  ) {
    this.pos = from;
    this.hash = from === chunk.start && chunk.sha256 ? createHash('sha256') : null;
  }

  get remaining(): number {
    return Math.max(0, this.to + 1 - this.pos);
  }

  /** Average receive rate since the job started, bytes/s. */
  rate(now = performance.now()): number {
    return ((this.pos - this.from) * 1000) / Math.max(1, now - this.startedAt);
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
