import type { ChunkSource } from './origin.ts';
import type { SliceCache } from './slice-cache.ts';

const noop = () => {};

interface Pending {
  promise: Promise<Buffer>;
  /** Set once the slice is here, so it can be handed out synchronously. */
  value: Buffer | undefined;
}

/** The reason a closed source gives its pending slice waits (never shown to anyone). */
const SOURCE_CLOSED = Object.assign(new Error('slice source closed'), { code: 'ABORT_ERR' });

/**
 * The bytes of an inclusive range, slice by slice: a stored slice is handed out synchronously
 * (a view of it at the range's ends); a missing one is filled, and `readAhead` slices past the
 * one handed out are filled ahead to overlap origin latency. Nothing else is held, so memory is
 * flat for any range. Each slice lookup counts one cache hit, miss or coalesced wait, as before.
 * `close()` leaves every pending slice wait (a shared fill then continues only if another request
 * still waits for it).
 */
export class SliceSource implements ChunkSource {
  readonly #cache: SliceCache;
  readonly #prefix: string;
  readonly #getSlice: (index: number, signal: AbortSignal) => Promise<Buffer>;
  readonly #sliceBytes: number;
  readonly #start: number;
  readonly #end: number;
  readonly #firstIndex: number;
  readonly #lastIndex: number;
  readonly #readAhead: number;
  /** Fills this request waits for, by slice index (created on the first fill). */
  #pending: Map<number, Pending> | undefined;
  /** Created on the first fill: a warm request needs no AbortController. */
  #ctl: AbortController | undefined;
  /** The first slice, taken from the cache by first(). */
  #held: Buffer | undefined;
  #next: number;
  #closed = false;

  constructor(
    cache: SliceCache,
    prefix: string,
    getSlice: (index: number, signal: AbortSignal) => Promise<Buffer>,
    range: { start: number; end: number },
    readAhead: number,
  ) {
    this.#cache = cache;
    this.#prefix = prefix;
    this.#getSlice = getSlice;
    this.#sliceBytes = cache.sliceBytes;
    this.#start = range.start;
    this.#end = range.end;
    this.#firstIndex = Math.floor(range.start / this.#sliceBytes);
    this.#lastIndex = Math.floor(range.end / this.#sliceBytes);
    this.#next = this.#firstIndex;
    this.#readAhead = readAhead;
  }

  /**
   * Makes sure the first slice is here: taken from the cache now (and held), or filled, with the
   * read-ahead started alongside. Rejects with the fill's error, or when `signal` aborts first.
   */
  first(signal?: AbortSignal): Promise<void> | undefined {
    const index = this.#firstIndex;
    const hit = this.#cache.peekKey(this.#prefix + index);
    if (hit) {
      this.#held = hit;
      return undefined;
    }
    return this.#firstFill(index, signal);
  }

  async #firstFill(index: number, signal: AbortSignal | undefined): Promise<void> {
    signal?.throwIfAborted();
    const pending = this.#fetch(index);
    this.#prefetch(index + 1);
    if (!signal) {
      await pending.promise;
      return;
    }
    const onAbort = () => this.#abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await pending.promise;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  next(): Buffer | null | Promise<Buffer | null> {
    if (this.#closed || this.#next > this.#lastIndex) return null;
    const index = this.#next++;
    let slice = this.#held;
    if (slice) {
      this.#held = undefined;
      this.#prefetch(index + 1);
      return this.#cut(index, slice);
    }
    const pending = this.#pending?.get(index);
    slice = pending ? pending.value : this.#cache.peekKey(this.#prefix + index);
    // From here the slice (or its fill) is this call's, not the read-ahead's.
    const entry = slice ? undefined : (pending ?? this.#fetch(index));
    this.#pending?.delete(index);
    this.#prefetch(index + 1);
    if (slice) return this.#cut(index, slice);
    return (entry as Pending).promise.then((s) => this.#cut(index, s));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#held = undefined;
    this.#pending?.clear();
    this.#ctl?.abort(SOURCE_CLOSED);
  }

  #abort(reason: unknown): void {
    this.#closed = true;
    this.#pending?.clear();
    this.#ctl?.abort(reason);
  }

  /** The part of slice `index` inside the range. */
  #cut(index: number, slice: Buffer): Buffer {
    const base = index * this.#sliceBytes;
    const from = index === this.#firstIndex ? this.#start - base : 0;
    const to = index === this.#lastIndex ? this.#end - base + 1 : slice.length;
    return from === 0 && to === slice.length ? slice : slice.subarray(from, to);
  }

  /** Starts filling the next `readAhead` slices from `from` that are neither stored nor pending. */
  #prefetch(from: number): void {
    const until = Math.min(this.#lastIndex, from + this.#readAhead - 1);
    for (let i = from; i <= until; i++) {
      if (this.#pending?.has(i) || this.#cache.hasKey(this.#prefix + i)) continue;
      this.#fetch(i);
    }
  }

  #fetch(index: number): Pending {
    this.#ctl ??= new AbortController();
    const entry: Pending = { promise: this.#getSlice(index, this.#ctl.signal), value: undefined };
    entry.promise.then(
      (v) => {
        entry.value = v;
      },
      // Awaited later (or dropped on close): a rejection is handled where it is awaited.
      noop,
    );
    this.#pending ??= new Map();
    this.#pending.set(index, entry);
    return entry;
  }
}
