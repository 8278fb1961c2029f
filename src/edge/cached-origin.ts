/**
 * An Origin in front of another, through the slice cache (issue 3 part 6).
 *
 * - `head()` asks the inner origin, collapsing concurrent heads of one object version into one
 *   call, and reuses a result for `headTtlMs` (default 1 s) — but only for refs naming the
 *   version it reported, so a newly ingested version is visible at once.
 * - `read()` serves the range slice by slice: each slice comes from the cache or, on a miss, from
 *   one aligned read of that slice on the inner origin (shared by all concurrent readers of the
 *   slice, then stored). Slices are sent in order with back-pressure; at most the slice being
 *   sent plus `readAhead` slices are held per request, so memory stays flat for any range.
 *   The first slice is fetched before `read()` resolves, so a missing object or a failing origin
 *   rejects `read()` (a clean error status) rather than failing the body after the headers.
 * - Files larger than the cache's `bypassBytes` stream straight from the inner origin, unaligned
 *   and unstored.
 *
 * A shared call (head or fill) runs with the ref of the request that started it. Should the inner
 * origin refuse that ref (FORBIDDEN: the shield answered 403 because that URL expired between the
 * edge's check and the hop), the other waiters retry once with their own ref.
 *
 * Bytes are never spliced across versions: slices are keyed by version (the SHA-256), and every
 * fill asks the inner origin for `ref.version`, which it refuses once the object has changed.
 */
import { addAbortSignal, type Readable } from 'node:stream';
import { BoundedMap } from '../bounded-map.ts';
import { HaulError, isHaulError } from '../errors.ts';
import { sourceStream, streamSource } from './body.ts';
import type { ChunkSource, ObjectMeta, ObjectRef, Origin } from './origin.ts';
import { downloadCacheKey } from './signing.ts';
import { SingleFlight } from './single-flight.ts';
import type { SliceCache } from './slice-cache.ts';
import { SliceSource } from './slice-source.ts';

export interface CachedOriginOptions {
  /** How long a head() result is reused for refs of the same version, in ms; 0 disables. Default 1000. */
  headTtlMs?: number | undefined;
  /** Head results kept at most (oldest dropped first). Default 10,000. */
  maxHeadEntries?: number | undefined;
  /** Slices fetched ahead of the one being sent, per request (overlaps origin latency). Default 2. */
  readAhead?: number | undefined;
  /** Clock in ms, for the head TTL; tests may pin it. */
  now?: (() => number) | undefined;
}

interface HeadEntry {
  meta: ObjectMeta | null;
  at: number;
  /** The slice-key prefix of the version it reported, once computed. */
  prefix?: string;
}

/**
 * Runs a shared (single-flight) call. A shared call runs with the ref of the request that started
 * it; when that is another request's and it was refused (FORBIDDEN: an upstream 401/403, say
 * because that URL expired between its edge check and the hop), this request's own URL may
 * still be good, so it tries once more (again possibly joining someone else's call).
 */
async function sharedWithRetry<T>(call: (mine: () => void) => Promise<T>): Promise<T> {
  let own = false;
  const mine = () => {
    own = true;
  };
  try {
    return await call(mine);
  } catch (e) {
    if (own || !isHaulError(e) || e.code !== 'FORBIDDEN') throw e;
    return call(mine);
  }
}

export class CachedOrigin implements Origin {
  readonly inner: Origin;
  readonly cache: SliceCache;
  readonly #headTtlMs: number;
  readonly #readAhead: number;
  readonly #now: () => number;
  readonly #heads: BoundedMap<string, HeadEntry>;
  readonly #headFlights = new SingleFlight<string, ObjectMeta | null>();

  constructor(inner: Origin, cache: SliceCache, opts: CachedOriginOptions = {}) {
    this.inner = inner;
    this.cache = cache;
    this.#headTtlMs = opts.headTtlMs ?? 1000;
    this.#heads = new BoundedMap(opts.maxHeadEntries ?? 10_000);
    this.#readAhead = Math.max(0, Math.floor(opts.readAhead ?? 2));
    this.#now = opts.now ?? Date.now;
  }

  /** The slice-key prefix of the ref's version (kept with its head result: a hot file's is computed once). */
  #prefix(ref: ObjectRef): string {
    const entry = this.#heads.get(ref.objectPath);
    if (entry?.meta?.version !== ref.version) return this.cache.prefix(ref);
    entry.prefix ??= this.cache.prefix(ref);
    return entry.prefix;
  }

  /** A remembered head result for this ref's version, if still fresh. */
  #freshHead(ref: ObjectRef): ObjectMeta | undefined {
    const hit = this.#heads.get(ref.objectPath);
    if (hit?.meta && hit.meta.version === ref.version && this.#now() - hit.at < this.#headTtlMs) return hit.meta;
    return undefined;
  }

  head(ref: ObjectRef, signal?: AbortSignal): Promise<ObjectMeta | null> {
    const hit = this.#freshHead(ref);
    if (hit) return Promise.resolve(hit);
    // Joined per version, not per path: an upstream answers a URL for a gone version with 410,
    // which must not become the answer for a URL naming the current one.
    return sharedWithRetry(
      (mine) =>
        this.#headFlights.run(
          downloadCacheKey(ref),
          async (s) => {
            mine();
            const meta = await this.inner.head(ref, s);
            this.#remember(ref.objectPath, meta);
            return meta;
          },
          signal,
        ).promise,
    );
  }

  async read(ref: ObjectRef, range: { start: number; end: number }, signal?: AbortSignal): Promise<Readable> {
    return sourceStream(await this.chunks(ref, range, signal), signal);
  }

  /**
   * The range as chunks: the cached slices themselves (views of them at the range's ends), handed
   * out synchronously when stored, or fills of the inner origin. Resolves once the first slice is
   * here (or known to be stored).
   */
  async chunks(ref: ObjectRef, range: { start: number; end: number }, signal?: AbortSignal): Promise<ChunkSource> {
    const { start } = range;
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(range.end) || start < 0 || range.end < start)
      throw new HaulError('BAD_USER_INPUT', `invalid byte range ${start}-${range.end}`);
    // A fresh head result is used without a round through the event loop (the handler has just asked).
    const meta = this.#freshHead(ref) ?? (await this.head(ref, signal));
    if (meta === null || meta.version !== ref.version)
      throw new HaulError('NOT_FOUND', 'the object no longer has the requested version');
    if (start >= meta.size) throw new HaulError('BAD_USER_INPUT', `range starts at ${start}, object has ${meta.size} bytes`);
    // An end past the last byte is clipped, as the BlobStore and HTTP do.
    const end = Math.min(range.end, meta.size - 1);

    if (this.cache.bypasses(meta.size)) return this.#bypass(ref, { start, end }, signal);

    const { size } = meta;
    const getSlice = (index: number, s: AbortSignal) =>
      sharedWithRetry((mine) =>
        this.cache.get(
          ref,
          index,
          (fillSignal) => {
            mine();
            return this.#fill(ref, index, size, fillSignal);
          },
          s,
        ),
      );
    const src = new SliceSource(this.cache, this.#prefix(ref), getSlice, { start, end }, this.#readAhead);
    // Stored: nothing to wait for. Otherwise the first fill, before the caller sends headers.
    const wait = src.first(signal);
    if (wait)
      try {
        await wait;
      } catch (e) {
        src.close();
        throw e;
      }
    return src;
  }

  /** Reads one aligned slice from the inner origin, exactly its length. */
  async #fill(ref: ObjectRef, index: number, size: number, signal: AbortSignal): Promise<Buffer> {
    const { start, end } = this.cache.sliceRange(index, size);
    const length = end - start + 1;
    // Unpooled: a small slice must not pin an 8 KiB pool slab for as long as it stays cached.
    const buf = Buffer.allocUnsafeSlow(length);
    if (this.inner.readInto) {
      // One read straight into the slice (a folder store: one pread of a reused open file).
      try {
        await this.inner.readInto(ref, start, buf, signal);
      } catch (e) {
        if (isHaulError(e) || signal.aborted) throw e;
        throw new HaulError('UNAVAILABLE', `origin read of a ${length}-byte slice failed`, { cause: (e as Error).message });
      }
      this.cache.recordOriginBytes(length);
      return buf;
    }
    const body = addAbortSignal(signal, await this.inner.read(ref, { start, end }, signal));
    let at = 0;
    try {
      // Leaving the loop early (throw, abort) destroys the inner stream.
      for await (const chunk of body as AsyncIterable<Buffer>) {
        this.cache.recordOriginBytes(chunk.length);
        if (at + chunk.length > length)
          throw new HaulError('UNAVAILABLE', `origin sent more than the ${length} bytes of a slice`);
        chunk.copy(buf, at);
        at += chunk.length;
      }
    } catch (e) {
      // A stream that breaks mid-slice (a shield's socket, a failing disk) is an unavailable origin.
      if (isHaulError(e) || signal.aborted) throw e;
      throw new HaulError('UNAVAILABLE', `origin stream failed after ${at} of the ${length} bytes of a slice`, {
        cause: (e as Error).message,
      });
    }
    if (at !== length) throw new HaulError('UNAVAILABLE', `origin ended after ${at} of the ${length} bytes of a slice`);
    return buf;
  }

  /** A file above the bypass size: straight from the inner origin, counted, not stored. */
  async #bypass(ref: ObjectRef, range: { start: number; end: number }, signal?: AbortSignal): Promise<ChunkSource> {
    this.cache.recordBypass();
    const inner = this.inner.chunks
      ? await this.inner.chunks(ref, range, signal)
      : streamSource(await this.inner.read(ref, range, signal));
    const cache = this.cache;
    const count = (chunk: Buffer | null) => {
      if (chunk) cache.recordOriginBytes(chunk.length);
      return chunk;
    };
    const source: ChunkSource = {
      next() {
        const c = inner.next();
        return c instanceof Promise ? c.then(count) : count(c);
      },
      close: () => inner.close(),
    };
    if (inner.recycle) source.recycle = (chunk) => inner.recycle?.(chunk);
    return source;
  }

  #remember(path: string, meta: ObjectMeta | null): void {
    if (this.#headTtlMs <= 0) return;
    this.#heads.delete(path);
    this.#heads.set(path, { meta, at: this.#now() });
  }
}
