import { addAbortSignal, type Readable } from 'node:stream';
import { HaulError, isHaulError } from '../errors.ts';
import type { BlobStat, BlobStore } from '../storage/blob-store.ts';
import { type BlobVersion, currentVersion, isReservedKey, readVersion } from '../storage/versions.ts';
import type { ObjectMeta, ObjectRef, Origin } from './origin.ts';

/**
 * The Origin that reads the object store itself (fs or S3).
 *
 * - `head()` stats the object and reads its version record (written by ingest, see
 *   `storage/versions.ts`): the object's current version is the record's SHA-256 while the store
 *   still reports the size and modification time that were hashed.
 * - `read()` checks the URL's version against the record, then reads *conditionally*: the store
 *   compares the record's size and modification time with the object it actually opens (the
 *   file descriptor, the GetObject response), so bytes of another version are never returned,
 *   even when the object is replaced between the check and the read. It needs no stat of its own.
 *
 * Records are cached for `recordTtlMs` (default 1 s) so a hot file does not re-read its record on
 * every request. A cached record is used by `head()` only for the same size and modification
 * time it was read for, so a changed object is seen at once; `read()` may use any fresh one,
 * since the conditional read refuses a stale one (and drops it from the cache).
 */
export interface StoreOriginOptions {
  /** How long a version record is reused, in ms; 0 disables the cache. Default 1000. */
  recordTtlMs?: number | undefined;
  /** Records kept at most (oldest dropped first). Default 10,000. */
  maxRecords?: number | undefined;
  /** Clock in ms, for the record TTL; tests may pin it. */
  now?: (() => number) | undefined;
  /**
   * Read size of file streams, in bytes: also what one stream may buffer ahead of a slow client.
   * Default 256 KiB (Node's 64 KiB costs about twice nginx's time on a 1 GiB download; 256 KiB
   * comes close to it while 1,000 stalled downloads still hold at most 256 MiB).
   */
  readChunkBytes?: number | undefined;
}

interface RecordEntry {
  record: BlobVersion | null;
  /** `size:mtimeMs` of the stat the record was read for (or the record's own, from read()). */
  statKey: string;
  at: number;
}

export const DEFAULT_READ_CHUNK_BYTES = 256 * 1024;

const statKey = (size: number, lastModified: Date) => `${size}:${lastModified.getTime()}`;

const gone = (key: string) => new HaulError('NOT_FOUND', `object "${key}" is not at the requested version`, { changed: true });

export class StoreOrigin implements Origin {
  readonly store: BlobStore;
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #now: () => number;
  readonly #chunk: number;
  readonly #records = new Map<string, RecordEntry>();
  readonly #inflight = new Map<string, Promise<BlobVersion | null>>();

  constructor(store: BlobStore, opts: StoreOriginOptions = {}) {
    this.store = store;
    this.#ttlMs = opts.recordTtlMs ?? 1000;
    this.#max = opts.maxRecords ?? 10_000;
    this.#now = opts.now ?? Date.now;
    this.#chunk = opts.readChunkBytes ?? DEFAULT_READ_CHUNK_BYTES;
  }

  async head(ref: ObjectRef, signal?: AbortSignal): Promise<ObjectMeta | null> {
    const key = ref.objectPath;
    if (isReservedKey(key)) return null;
    let stat: BlobStat | null;
    try {
      stat = await this.store.stat(key);
    } catch (e) {
      // A key this backend refuses (signing allows more than every store does) names nothing.
      if (isHaulError(e) && e.code === 'BAD_USER_INPUT') return null;
      throw e;
    }
    if (stat === null) return null;
    signal?.throwIfAborted();
    const sk = statKey(stat.size, stat.lastModified);
    const record = await this.#record(key, (e) => e.statKey === sk, sk);
    return { size: stat.size, lastModified: stat.lastModified, version: currentVersion(stat, record) };
  }

  async read(ref: ObjectRef, range: { start: number; end: number }, signal?: AbortSignal): Promise<Readable> {
    const key = ref.objectPath;
    if (isReservedKey(key)) throw new HaulError('NOT_FOUND', 'no such object');
    const record = await this.#record(key, () => true);
    if (record === null || record.sha256 !== ref.version) throw gone(key);
    if (range.start < 0 || range.end < range.start || range.end >= record.size)
      throw new HaulError('BAD_USER_INPUT', `range ${range.start}-${range.end} is outside the object's ${record.size} bytes`);
    signal?.throwIfAborted();
    let body: Readable;
    try {
      body = await this.store.read(key, range, {
        expect: { size: record.size, lastModified: new Date(record.lastModified) },
        highWaterMark: this.#chunk,
      });
    } catch (e) {
      // Changed, deleted, or shrunk under the range since the record was written: the version is gone.
      if (isHaulError(e) && (e.code === 'NOT_FOUND' || e.code === 'BAD_USER_INPUT')) {
        this.#records.delete(key);
        throw gone(key);
      }
      throw e;
    }
    if (signal) {
      if (signal.aborted) {
        body.destroy();
        signal.throwIfAborted();
      }
      addAbortSignal(signal, body);
    }
    return body;
  }

  /** Forgets every cached record (tests, or an operator who rewrote records by hand). */
  clear(): void {
    this.#records.clear();
  }

  /** The version record of `key`: a fresh cached one that `usable` accepts, else read from the store. */
  async #record(key: string, usable: (e: RecordEntry) => boolean, forStat?: string): Promise<BlobVersion | null> {
    const now = this.#now();
    const hit = this.#records.get(key);
    if (hit && now - hit.at < this.#ttlMs && usable(hit)) return hit.record;
    // Concurrent misses on one key share one read of the record.
    let flight = this.#inflight.get(key);
    if (!flight) {
      flight = readVersion(this.store, key).finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, flight);
    }
    const record = await flight;
    if (this.#ttlMs > 0) {
      const sk = forStat ?? (record ? statKey(record.size, new Date(record.lastModified)) : '');
      this.#records.delete(key);
      this.#records.set(key, { record, statKey: sk, at: now });
      if (this.#records.size > this.#max) {
        const oldest = this.#records.keys().next();
        if (!oldest.done) this.#records.delete(oldest.value);
      }
    }
    return record;
  }
}
