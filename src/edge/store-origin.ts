import { addAbortSignal, type Readable } from 'node:stream';
import { HaulError, isHaulError } from '../errors.ts';
import { type BlobReader, type BlobStat, type BlobStore, sameVersion } from '../storage/blob-store.ts';
import { type BlobVersion, currentVersion, isReservedKey, statOf } from '../storage/versions.ts';
import { streamSource } from './body.ts';
import { FileSource } from './file-source.ts';
import type { ChunkSource, ObjectMeta, ObjectRef, Origin } from './origin.ts';
import { statKey, VersionCache } from './version-cache.ts';

/**
 * The Origin that reads the object store itself (fs or S3).
 *
 * - `head()` stats the object and reads its version record (written by ingest, see
 *   `storage/versions.ts`): the object's current version is the record's SHA-256 while the store
 *   still reports the size, modification time (and on S3 the ETag) that were hashed.
 * - `read()` checks the URL's version against the record, then reads *conditionally*: the store
 *   compares the record's size, modification time and ETag with the object it actually opens (the
 *   file descriptor, the GetObject response), so bytes of another version are never returned,
 *   even when the object is replaced between the check and the read. It needs no stat of its own.
 *
 * Records are cached for `recordTtlMs` (default 1 s; `version-cache.ts`) so a hot file does not
 * re-read its record on every request. A cached record is used by `head()` only for the same stat
 * (size, modification time, ETag) it was read for, so a changed object is seen at once; `read()`
 * may use any fresh one, since the conditional read refuses a stale one (and drops it from the
 * cache).
 *
 * ## Open files (folder store): `chunks()` and `readInto()`
 *
 * On a folder store the fast paths read by position (`pread`) from an opened file
 * (`BlobStore.openReader`: confined real path, open, fstat), straight into the buffer that is
 * sent or cached: no stream, no copy. The opened file is checked once against the version record
 * (size and modification time of the very inode, as the conditional read does) and then reused by
 * every read of that version for `openFileTtlMs` (default 1 s), so a slice fill or a download
 * costs one `pread` per chunk instead of realpath + open + fstat + close. The handle pins the
 * inode it checked: an object replaced by rename (haul's own writes, `mv`, rsync) keeps being read
 * from the version the URL names, never the new bytes, and `head()` (which stats the path) sees
 * the new object at once. An object rewritten *in place* is noticed when the file is next opened,
 * within `openFileTtlMs` (a rewrite during a download is not, with or without reuse). Unused
 * files are closed when their time is up. Other stores (S3) stream through `read()`.
 */
export interface StoreOriginOptions {
  /** How long a version record is reused, in ms; 0 disables the cache. Default 1000. */
  recordTtlMs?: number | undefined;
  /** Records kept at most (oldest dropped first). Default 10,000. */
  maxRecords?: number | undefined;
  /** Clock in ms, for the record TTL; tests may pin it. */
  now?: (() => number) | undefined;
  /**
   * Read size of file streams and chunk sources, in bytes: also what one download may buffer
   * ahead of a slow client. Default 256 KiB (Node's 64 KiB costs about twice nginx's time on a
   * 1 GiB download; 256 KiB comes close to it while 1,000 stalled downloads hold about 256 MiB).
   */
  readChunkBytes?: number | undefined;
  /**
   * How long an opened file (folder store) is reused by `chunks()` and `readInto()`, in ms; 0
   * opens one per call. Default 1000. See "Open files" above.
   */
  openFileTtlMs?: number | undefined;
  /** Files kept open at most for reuse (oldest closed first). Default 256. */
  maxOpenFiles?: number | undefined;
}

export const DEFAULT_READ_CHUNK_BYTES = 256 * 1024;

/** An opened file shared by the reads of one version (see "Open files"). */
interface OpenFile {
  key: string;
  /** `statKey` of the record it was checked against. */
  statKey: string;
  reader: Promise<BlobReader>;
  openedAt: number;
  /** Reads and sources using it now; it is closed once retired and unused. */
  users: number;
  retired: boolean;
  timer: NodeJS.Timeout | undefined;
}

const noop = () => {};

const gone = (key: string) => new HaulError('NOT_FOUND', `object "${key}" is not at the requested version`, { changed: true });

export class StoreOrigin implements Origin {
  readonly store: BlobStore;
  readonly #now: () => number;
  readonly #chunk: number;
  readonly #records: VersionCache;
  readonly #fileTtlMs: number;
  readonly #maxFiles: number;
  readonly #files = new Map<string, OpenFile>();
  /** Whether this store reads by position from local files (the folder store). */
  readonly #positional: boolean;

  constructor(store: BlobStore, opts: StoreOriginOptions = {}) {
    this.store = store;
    this.#now = opts.now ?? Date.now;
    this.#records = new VersionCache(store, { ttlMs: opts.recordTtlMs ?? 1000, max: opts.maxRecords ?? 10_000, now: this.#now });
    this.#chunk = opts.readChunkBytes ?? DEFAULT_READ_CHUNK_BYTES;
    this.#fileTtlMs = opts.openFileTtlMs ?? 1000;
    this.#maxFiles = opts.maxOpenFiles ?? 256;
    // S3's positional reader costs a request per read: it streams through read() instead.
    this.#positional = store.kind === 'fs' && typeof store.openReader === 'function';
  }

  /** Files open for reuse now (tests, metrics). */
  get openFiles(): number {
    return this.#files.size;
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
    const sk = statKey(stat);
    const record = await this.#records.get(key, (k) => k === sk, sk);
    return { size: stat.size, lastModified: stat.lastModified, version: currentVersion(stat, record) };
  }

  async read(ref: ObjectRef, range: { start: number; end: number }, signal?: AbortSignal): Promise<Readable> {
    const key = ref.objectPath;
    const record = await this.#checked(ref, range);
    signal?.throwIfAborted();
    let body: Readable;
    try {
      body = await this.store.read(key, range, {
        expect: statOf(record),
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

  /** The range as chunks read by position from a reused open file (folder store), else from `read()`. */
  async chunks(ref: ObjectRef, range: { start: number; end: number }, signal?: AbortSignal): Promise<ChunkSource> {
    if (!this.#positional) return streamSource(await this.read(ref, range, signal));
    const record = await this.#checked(ref, range);
    signal?.throwIfAborted();
    const file = await this.#acquire(ref.objectPath, record);
    if (signal?.aborted) {
      this.#release(file);
      signal.throwIfAborted();
    }
    return new FileSource(
      (into, at) => this.#readAt(file, into, at),
      () => this.#release(file),
      range,
      this.#chunk,
    );
  }

  /** Fills `into` with the bytes at `start`: one positional read of a reused open file (folder store). */
  async readInto(ref: ObjectRef, start: number, into: Buffer, signal?: AbortSignal): Promise<void> {
    const range = { start, end: start + into.length - 1 };
    if (!this.#positional) {
      let at = 0;
      for await (const chunk of (await this.read(ref, range, signal)) as AsyncIterable<Buffer>) {
        if (at + chunk.length > into.length) throw new HaulError('UNAVAILABLE', 'the store sent more bytes than asked');
        chunk.copy(into, at);
        at += chunk.length;
      }
      if (at !== into.length) throw new HaulError('UNAVAILABLE', `the store sent ${at} of ${into.length} bytes`);
      return;
    }
    const record = await this.#checked(ref, range);
    signal?.throwIfAborted();
    const file = await this.#acquire(ref.objectPath, record);
    try {
      await this.#readAt(file, into, start, signal);
    } finally {
      this.#release(file);
    }
  }

  /** Forgets every cached record and closes unused open files (tests, or an operator who rewrote records by hand). */
  clear(): void {
    this.#records.clear();
    for (const f of [...this.#files.values()]) this.#retire(f);
  }

  /** One positional read of exactly `into.length` bytes; a short read means the file shrank: the version is gone. */
  async #readAt(file: OpenFile, into: Buffer, position: number, signal?: AbortSignal): Promise<Buffer> {
    const reader = await file.reader;
    const n = await reader.read(into, position, signal);
    if (n !== into.length) {
      this.#records.delete(file.key);
      this.#retire(file);
      throw gone(file.key);
    }
    return into;
  }

  /** The version record, if the ref names the object's version and the range is inside it. */
  async #checked(ref: ObjectRef, range: { start: number; end: number }): Promise<BlobVersion> {
    const key = ref.objectPath;
    if (isReservedKey(key)) throw new HaulError('NOT_FOUND', 'no such object');
    const record = await this.#records.get(key, () => true);
    if (record === null || record.sha256 !== ref.version) throw gone(key);
    if (range.start < 0 || range.end < range.start || range.end >= record.size)
      throw new HaulError('BAD_USER_INPUT', `range ${range.start}-${range.end} is outside the object's ${record.size} bytes`);
    return record;
  }

  /** An open file of the record's version: reused while fresh, else opened and checked. The caller releases it. */
  async #acquire(key: string, record: BlobVersion): Promise<OpenFile> {
    const sk = statKey(statOf(record));
    const now = this.#now();
    let file = this.#files.get(key);
    if (file && (file.statKey !== sk || now - file.openedAt >= this.#fileTtlMs)) {
      this.#retire(file);
      file = undefined;
    }
    if (!file) {
      file = { key, statKey: sk, reader: this.#open(key, record), openedAt: now, users: 0, retired: false, timer: undefined };
      file.reader.catch(noop);
      if (this.#fileTtlMs > 0) {
        this.#files.set(key, file);
        const f = file;
        f.timer = setTimeout(() => this.#retire(f), this.#fileTtlMs);
        f.timer.unref();
        if (this.#files.size > this.#maxFiles) {
          const oldest = this.#files.values().next();
          if (!oldest.done) this.#retire(oldest.value);
        }
      } else file.retired = true;
    }
    file.users++;
    try {
      await file.reader;
    } catch (e) {
      this.#retire(file);
      this.#release(file);
      throw e;
    }
    return file;
  }

  /** Opens the object and checks the opened file against the record (as the conditional read does). */
  async #open(key: string, record: BlobVersion): Promise<BlobReader> {
    let reader: BlobReader;
    try {
      reader = await (this.store.openReader as NonNullable<BlobStore['openReader']>).call(this.store, key);
    } catch (e) {
      if (isHaulError(e) && (e.code === 'NOT_FOUND' || e.code === 'BAD_USER_INPUT')) {
        this.#records.delete(key);
        throw gone(key);
      }
      throw e;
    }
    if (!sameVersion(reader, statOf(record))) {
      await reader.close().catch(noop);
      this.#records.delete(key);
      throw gone(key);
    }
    return reader;
  }

  /** Done with a file: closes it if it is retired and nobody else uses it. */
  #release(file: OpenFile): void {
    file.users--;
    if (file.retired && file.users === 0) this.#close(file);
  }

  /** No new reads of this file; it closes when the last user is done. */
  #retire(file: OpenFile): void {
    if (file.retired && file.timer === undefined) return;
    file.retired = true;
    clearTimeout(file.timer);
    file.timer = undefined;
    if (this.#files.get(file.key) === file) this.#files.delete(file.key);
    if (file.users === 0) this.#close(file);
  }

  #close(file: OpenFile): void {
    file.reader.then((r) => r.close()).catch(noop);
  }
}
