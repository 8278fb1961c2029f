/**
 * The edge's slice cache (DESIGN §6, issue 3 part 6): fixed-size slices of object versions, kept
 * in memory, bounded in bytes, least-recently-used evicted first.
 *
 * - Key: (object path, version, slice index), built from `downloadCacheKey`, so the signature,
 *   expiry, key id and header overrides of a URL never split the cache: every signed URL for
 *   one version shares its slices. The version is the object's SHA-256, so a cached slice can
 *   never be stale: new bytes are a new version, hence new keys.
 * - Slice i covers bytes [i·S, min((i+1)·S, size) − 1]; the last slice of a file is short.
 * - Budget: the sum of stored slice lengths never exceeds `maxBytes` (the budget is the
 *   cache's; a slice evicted while a response still sends it lives until that response is done).
 * - Single-flight: concurrent misses on one slice share one fill; a fill is cancelled only when
 *   every waiter has gone; a failed fill is not stored and all its waiters get the error.
 * - Bypass: files larger than `bypassBytes` are not cached at all (see CachedOrigin), so one
 *   huge download cannot flush every popular slice.
 *
 * The cache knows nothing of origins: `CachedOrigin` supplies the fill function.
 */
import { downloadCacheKey } from './signing.ts';
import { SingleFlight } from './single-flight.ts';

export const DEFAULT_SLICE_BYTES = 1024 * 1024;
export const DEFAULT_CACHE_BYTES = 256 * 1024 * 1024;

export interface SliceCacheOptions {
  /** Slice size in bytes. Default 1 MiB (`DEFAULT_SLICE_BYTES`). */
  sliceBytes?: number | undefined;
  /** Byte budget for stored slices; 0 stores nothing. Default 256 MiB (`DEFAULT_CACHE_BYTES`). */
  maxBytes?: number | undefined;
  /**
   * Files strictly larger than this bypass the cache (reads go straight to the inner origin).
   * Default: `maxBytes` (a file that cannot fit would only cycle the whole cache).
   */
  bypassBytes?: number | undefined;
  /** Called synchronously on every cache event; wire metrics here (`EdgeMetrics.cacheEvent`). */
  onEvent?: ((e: SliceCacheEvent) => void) | undefined;
}

/** What the cache reports. `cachedBytes` is the total stored after the change. */
export type SliceCacheEvent =
  | { type: 'hit'; bytes: number }
  | { type: 'miss' }
  /** A miss that joined a fill already in progress (no origin read of its own). */
  | { type: 'coalesced' }
  | { type: 'insert'; bytes: number; cachedBytes: number }
  | { type: 'evict'; bytes: number; cachedBytes: number }
  /** Bytes read from the inner origin, by fills and by bypassed reads. */
  | { type: 'origin'; bytes: number }
  /** A read of a file above `bypassBytes`. */
  | { type: 'bypass' };

export interface SliceCacheStats {
  hits: number;
  /** Misses that started a fill. */
  misses: number;
  /** Misses that joined a fill in progress. */
  coalesced: number;
  evictions: number;
  /** Bytes stored now (≤ maxBytes). */
  bytesCached: number;
  /** Slices stored now. */
  slices: number;
  /** Bytes read from the inner origin (fills and bypassed reads). */
  originBytes: number;
  /** Reads that bypassed the cache. */
  bypassed: number;
}

/** The object version a slice belongs to (an ObjectRef fits). */
export interface SliceObject {
  objectPath: string;
  version: string;
}

const checkSize = (name: string, v: number, min: number): number => {
  if (!Number.isSafeInteger(v) || v < min) throw new TypeError(`SliceCache: ${name} must be an integer ≥ ${min}, got ${v}`);
  return v;
};

export class SliceCache {
  readonly sliceBytes: number;
  readonly maxBytes: number;
  readonly bypassBytes: number;
  readonly #onEvent: ((e: SliceCacheEvent) => void) | undefined;
  /** Insertion order is recency order: a hit re-inserts, eviction takes the first entry. */
  readonly #slices = new Map<string, Buffer>();
  readonly #fills = new SingleFlight<string, Buffer>();
  #bytes = 0;
  readonly #stats = { hits: 0, misses: 0, coalesced: 0, evictions: 0, originBytes: 0, bypassed: 0 };

  constructor(opts: SliceCacheOptions = {}) {
    this.sliceBytes = checkSize('sliceBytes', opts.sliceBytes ?? DEFAULT_SLICE_BYTES, 1);
    this.maxBytes = checkSize('maxBytes', opts.maxBytes ?? DEFAULT_CACHE_BYTES, 0);
    this.bypassBytes = checkSize('bypassBytes', opts.bypassBytes ?? this.maxBytes, 0);
    this.#onEvent = opts.onEvent;
  }

  /** Whether a file of this size bypasses the cache. */
  bypasses(size: number): boolean {
    return size > this.bypassBytes;
  }

  /** The cache key of slice `index` of an object version. */
  key(obj: SliceObject, index: number): string {
    return `${downloadCacheKey(obj)}#${index}`;
  }

  /** Slice indexes covering the inclusive byte range. */
  slicesOf(range: { start: number; end: number }): { first: number; last: number } {
    return { first: Math.floor(range.start / this.sliceBytes), last: Math.floor(range.end / this.sliceBytes) };
  }

  /** Byte range of slice `index` in a file of `size` bytes (the last slice is short). */
  sliceRange(index: number, size: number): { start: number; end: number } {
    const start = index * this.sliceBytes;
    return { start, end: Math.min(start + this.sliceBytes, size) - 1 };
  }

  /** The key prefix of an object version: slice i's key is the prefix followed by i. */
  prefix(obj: SliceObject): string {
    return `${downloadCacheKey(obj)}#`;
  }

  /** A stored slice, marking it most recently used; counts a hit when found. Never fills. */
  peek(obj: SliceObject, index: number): Buffer | undefined {
    return this.#hit(this.key(obj, index));
  }

  /** `peek` by key (`prefix(obj) + index`), for callers that look up many slices of one version. */
  peekKey(key: string): Buffer | undefined {
    return this.#hit(key);
  }

  /** Whether a slice is stored now, by key; counts nothing and leaves its recency alone. */
  hasKey(key: string): boolean {
    return this.#slices.has(key);
  }

  /**
   * The slice, from the cache or from `fill` on a miss. Concurrent misses on one slice share one
   * fill call; `fill`'s signal aborts only when every waiter's `signal` has. A fill that rejects
   * is not stored, and every waiter gets its error.
   */
  get(obj: SliceObject, index: number, fill: (signal: AbortSignal) => Promise<Buffer>, signal?: AbortSignal): Promise<Buffer> {
    const key = this.key(obj, index);
    const cached = this.#hit(key);
    if (cached) return Promise.resolve(cached);
    const { promise, joined } = this.#fills.run(
      key,
      async (s) => {
        const buf = await fill(s);
        this.#insert(key, buf);
        return buf;
      },
      signal,
    );
    if (joined) {
      this.#stats.coalesced++;
      this.#emit({ type: 'coalesced' });
    } else {
      this.#stats.misses++;
      this.#emit({ type: 'miss' });
    }
    return promise;
  }

  /** Counts bytes read from the inner origin (called by CachedOrigin for fills and bypassed reads). */
  recordOriginBytes(bytes: number): void {
    this.#stats.originBytes += bytes;
    this.#emit({ type: 'origin', bytes });
  }

  recordBypass(): void {
    this.#stats.bypassed++;
    this.#emit({ type: 'bypass' });
  }

  stats(): SliceCacheStats {
    return { ...this.#stats, bytesCached: this.#bytes, slices: this.#slices.size };
  }

  /** Fills in progress. */
  get fillsInFlight(): number {
    return this.#fills.size;
  }

  #hit(key: string): Buffer | undefined {
    const buf = this.#slices.get(key);
    if (!buf) return undefined;
    this.#slices.delete(key);
    this.#slices.set(key, buf);
    this.#stats.hits++;
    this.#emit({ type: 'hit', bytes: buf.length });
    return buf;
  }

  #insert(key: string, buf: Buffer): void {
    // Replacing happens when an abandoned fill and its successor both completed.
    const old = this.#slices.get(key);
    if (old) {
      this.#slices.delete(key);
      this.#bytes -= old.length;
    }
    if (buf.length > this.maxBytes) return;
    while (this.#bytes + buf.length > this.maxBytes) {
      const oldest = this.#slices.entries().next();
      if (oldest.done) break;
      const [k, v] = oldest.value;
      this.#slices.delete(k);
      this.#bytes -= v.length;
      this.#stats.evictions++;
      this.#emit({ type: 'evict', bytes: v.length, cachedBytes: this.#bytes });
    }
    this.#slices.set(key, buf);
    this.#bytes += buf.length;
    this.#emit({ type: 'insert', bytes: buf.length, cachedBytes: this.#bytes });
  }

  #emit(e: SliceCacheEvent): void {
    this.#onEvent?.(e);
  }
}
