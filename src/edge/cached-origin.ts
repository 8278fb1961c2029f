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
import { addAbortSignal, pipeline, Readable, Transform, type TransformCallback } from 'node:stream';
import { HaulError, isHaulError } from '../errors.ts';
import type { ObjectMeta, ObjectRef, Origin } from './origin.ts';
import { downloadCacheKey } from './signing.ts';
import { SingleFlight } from './single-flight.ts';
import type { SliceCache } from './slice-cache.ts';

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
}

const noop = () => {};

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
  readonly #maxHeads: number;
  readonly #readAhead: number;
  readonly #now: () => number;
  readonly #heads = new Map<string, HeadEntry>();
  readonly #headFlights = new SingleFlight<string, ObjectMeta | null>();

  constructor(inner: Origin, cache: SliceCache, opts: CachedOriginOptions = {}) {
    this.inner = inner;
    this.cache = cache;
    this.#headTtlMs = opts.headTtlMs ?? 1000;
    this.#maxHeads = opts.maxHeadEntries ?? 10_000;
    this.#readAhead = Math.max(0, Math.floor(opts.readAhead ?? 2));
    this.#now = opts.now ?? Date.now;
  }

  head(ref: ObjectRef, signal?: AbortSignal): Promise<ObjectMeta | null> {
    const hit = this.#heads.get(ref.objectPath);
    if (hit && hit.meta?.version === ref.version && this.#now() - hit.at < this.#headTtlMs) return Promise.resolve(hit.meta);
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
    const { start } = range;
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(range.end) || start < 0 || range.end < start)
      throw new HaulError('BAD_USER_INPUT', `invalid byte range ${start}-${range.end}`);
    const meta = await this.head(ref, signal);
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
    const body = new SliceStream(getSlice, this.cache.sliceBytes, { start, end }, this.#readAhead, signal);
    // Until the caller holds the stream, a failure (an abort) is reported by rejecting, not as an
    // 'error' event nobody listens to; a stream that failed here is dropped with its listener.
    body.on('error', noop);
    try {
      await body.first();
    } catch (e) {
      body.destroy();
      throw e;
    }
    body.off('error', noop);
    return body;
  }

  /** Reads one aligned slice from the inner origin, exactly its length. */
  async #fill(ref: ObjectRef, index: number, size: number, signal: AbortSignal): Promise<Buffer> {
    const { start, end } = this.cache.sliceRange(index, size);
    const length = end - start + 1;
    const body = addAbortSignal(signal, await this.inner.read(ref, { start, end }, signal));
    // Unpooled: a small slice must not pin an 8 KiB pool slab for as long as it stays cached.
    const buf = Buffer.allocUnsafeSlow(length);
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

  async #bypass(ref: ObjectRef, range: { start: number; end: number }, signal?: AbortSignal): Promise<Readable> {
    this.cache.recordBypass();
    const body = await this.inner.read(ref, range, signal);
    const cache = this.cache;
    const counter = new Transform({
      transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
        cache.recordOriginBytes(chunk.length);
        cb(null, chunk);
      },
    });
    // Destroying the returned stream (client gone) destroys the inner one, and an inner error fails it.
    return pipeline(body, counter, noop);
  }

  #remember(path: string, meta: ObjectMeta | null): void {
    if (this.#headTtlMs <= 0) return;
    this.#heads.delete(path);
    this.#heads.set(path, { meta, at: this.#now() });
    if (this.#heads.size > this.#maxHeads) {
      const oldest = this.#heads.keys().next();
      if (!oldest.done) this.#heads.delete(oldest.value);
    }
  }
}

/**
 * The bytes of an inclusive range, pulled slice by slice: a slice is requested when the consumer
 * wants more, `readAhead` further slices are requested alongside it, and nothing else is held.
 * Destroying the stream leaves every pending slice wait (a shared fill then continues only if
 * another request still waits for it).
 */
class SliceStream extends Readable {
  readonly #getSlice: (index: number, signal: AbortSignal) => Promise<Buffer>;
  readonly #sliceBytes: number;
  readonly #start: number;
  readonly #end: number;
  readonly #firstIndex: number;
  readonly #lastIndex: number;
  readonly #readAhead: number;
  readonly #pending = new Map<number, Promise<Buffer>>();
  readonly #ctl = new AbortController();
  readonly #unlink: () => void;
  #next: number;
  #pumping = false;
  #wanted = false;

  constructor(
    getSlice: (index: number, signal: AbortSignal) => Promise<Buffer>,
    sliceBytes: number,
    range: { start: number; end: number },
    readAhead: number,
    signal: AbortSignal | undefined,
  ) {
    super();
    this.#getSlice = getSlice;
    this.#sliceBytes = sliceBytes;
    this.#start = range.start;
    this.#end = range.end;
    this.#firstIndex = Math.floor(range.start / sliceBytes);
    this.#lastIndex = Math.floor(range.end / sliceBytes);
    this.#next = this.#firstIndex;
    this.#readAhead = readAhead;
    if (signal?.aborted) this.#ctl.abort(signal.reason);
    const onAbort = () => this.destroy(signal?.reason as Error);
    signal?.addEventListener('abort', onAbort, { once: true });
    this.#unlink = () => signal?.removeEventListener('abort', onAbort);
  }

  /** Settles when the first slice is here (rejecting with its error). */
  first(): Promise<unknown> {
    this.#prefetch();
    return this.#pending.get(this.#next)!;
  }

  override _read(): void {
    this.#wanted = true;
    if (!this.#pumping) void this.#pump();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#ctl.abort(err ?? new Error('slice stream destroyed'));
    this.#pending.clear();
    this.#unlink();
    cb(err);
  }

  #prefetch(): void {
    const until = Math.min(this.#lastIndex, this.#next + this.#readAhead);
    for (let i = this.#next; i <= until; i++) {
      if (this.#pending.has(i)) continue;
      const p = this.#getSlice(i, this.#ctl.signal);
      // Awaited later (or dropped on destroy): a rejection here is handled where it is awaited.
      p.catch(noop);
      this.#pending.set(i, p);
    }
  }

  async #pump(): Promise<void> {
    this.#pumping = true;
    try {
      while (this.#wanted && !this.destroyed) {
        if (this.#next > this.#lastIndex) {
          this.push(null);
          return;
        }
        this.#prefetch();
        const index = this.#next;
        const slice = await this.#pending.get(index)!;
        if (this.destroyed) return;
        this.#pending.delete(index);
        this.#next++;
        const base = index * this.#sliceBytes;
        const from = index === this.#firstIndex ? this.#start - base : 0;
        const to = index === this.#lastIndex ? this.#end - base + 1 : slice.length;
        // A _read() during push (the consumer wants more right away) sets #wanted again.
        this.#wanted = false;
        if (this.push(from === 0 && to === slice.length ? slice : slice.subarray(from, to))) this.#wanted = true;
      }
    } catch (e) {
      this.destroy(e as Error);
    } finally {
      this.#pumping = false;
    }
  }
}
