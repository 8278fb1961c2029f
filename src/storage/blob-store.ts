import type { Readable } from 'node:stream';
import { HaulError } from '../errors.ts';

/**
 * The object-storage seam (DESIGN §2): one interface, one file per implementation (fs.ts, s3.ts).
 * Everything above it (ingest, the edge) speaks only this. Bytes always move as streams, so
 * memory stays flat whatever the object size: no method returns or accepts a whole object
 * except `put(Buffer)`, which exists for small generated content and tests.
 */
export interface BlobStore {
  readonly kind: 'fs' | 's3';
  /** Size and modification time, or null when no object has this key. */
  stat(key: string): Promise<BlobStat | null>;
  /**
   * Streams the object, or the inclusive byte range of it. Rejects with NOT_FOUND when the
   * key names no object, and BAD_USER_INPUT when the range starts at or past the end
   * (an `end` beyond the last byte is clipped, as HTTP and S3 do). See `ReadOptions.expect`.
   */
  read(key: string, range?: ByteRange, opts?: ReadOptions): Promise<Readable>;
  /** Stores the object whole: readers see the old bytes or the new ones, never a mix. */
  put(key: string, body: Readable | Buffer): Promise<void>;
  has(key: string): Promise<boolean>;
  /**
   * Optional positional access for bulk readers (ingest): reads land straight in caller-owned
   * memory, several may run at once, and every read sees the version that was opened (or
   * fails). Rejects with NOT_FOUND when the key names no object.
   */
  openReader?(key: string): Promise<BlobReader>;
}

/** An opened object version, read by position (pread on a file, ranged GETs on S3). */
export interface BlobReader {
  readonly size: number;
  readonly lastModified: Date;
  /** The opened version's entity tag, when the store has them (S3). */
  readonly etag?: string | undefined;
  /** Bytes per read this backend is happiest with (one S3 request, a few MiB of pread). */
  readonly preferredReadSize: number;
  /** Reads that may usefully run in parallel. */
  readonly readConcurrency: number;
  /**
   * Fills `into` with the bytes at `position`; resolves with the count, which is less than
   * `into.length` only at the end of the object. Rejects with CHECKSUM_MISMATCH when the
   * object is no longer the version that was opened.
   */
  read(into: Uint8Array, position: number, signal?: AbortSignal): Promise<number>;
  close(): Promise<void>;
}

export interface BlobStat {
  size: number;
  lastModified: Date;
  /**
   * The store's entity tag of this version, when it has them (S3; a folder store has not). It
   * changes with every write, where a modification time in whole seconds (S3's) may not: an object
   * replaced by one of the same size within the second keeps its size and time.
   */
  etag?: string | undefined;
}

/** Whether two stats name the same object version: size, time and, when both have one, entity tag. */
export function sameVersion(a: BlobStat, b: BlobStat): boolean {
  return (
    a.size === b.size &&
    a.lastModified.getTime() === b.lastModified.getTime() &&
    (a.etag === undefined || b.etag === undefined || a.etag === b.etag)
  );
}

export interface ReadOptions {
  /**
   * Read only if the object still has this size and modification time, checked against the very
   * object the bytes come from (fs: the opened file; S3: the GetObject response), so a reader that
   * validated a version never gets bytes of another one. Otherwise rejects with NOT_FOUND
   * (`details.changed: true`). Modification times compare at the store's precision; an entity tag,
   * when given, must match too (S3: If-Match).
   */
  expect?: BlobStat;
  /**
   * Bytes per chunk the stream reads ahead (fs: the read size; S3 ignores it). Larger chunks
   * mean fewer syscalls and stream hand-offs for big transfers, and more memory per stream.
   * Default: Node's (64 KiB).
   */
  highWaterMark?: number;
}

/** Inclusive on both ends, like HTTP `Range: bytes=start-end`. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * S3 allows keys of up to 1024 bytes of UTF-8; we use the same bound for the folder store so a
 * key valid on one backend is valid on the other.
 */
export const MAX_STORAGE_KEY_BYTES = 1024;

/**
 * Storage keys arrive from admins (ingestFile) and are turned into file paths and S3 keys, so
 * they are checked once, here, for every backend. We accept relative slash-separated paths and
 * refuse anything a filesystem could interpret as leaving the root or as a different spelling
 * of another key: `.`/`..`/empty segments, absolute paths, backslashes (a separator on
 * Windows and in some S3 gateways), and control characters (NUL truncates C paths; the rest
 * poison logs and headers).
 */
export function validateStorageKey(key: unknown): asserts key is string {
  const bad = (why: string): never => {
    throw new HaulError('BAD_USER_INPUT', `invalid storage key: ${why}`, { field: 'storageKey' });
  };
  if (typeof key !== 'string' || key.length === 0) bad('empty');
  const k = key as string;
  if (Buffer.byteLength(k, 'utf8') > MAX_STORAGE_KEY_BYTES) bad(`longer than ${MAX_STORAGE_KEY_BYTES} bytes`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing them is the point
  if (/[\u0000-\u001f\u007f]/.test(k)) bad('control character');
  if (k.includes('\\')) bad('backslash');
  if (k.startsWith('/')) bad('absolute path');
  // Lone surrogates cannot be encoded as UTF-8, so they would silently change the key.
  if (Buffer.from(k, 'utf8').toString('utf8') !== k) bad('not well-formed unicode');
  for (const seg of k.split('/')) {
    if (seg === '') bad('empty path segment');
    if (seg === '.' || seg === '..') bad(`"${seg}" path segment`);
  }
}

/** Checks an inclusive range's shape (not its bounds against the object size). */
export function validateByteRange(range: ByteRange): void {
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new HaulError('BAD_USER_INPUT', `invalid byte range ${start}-${end}`);
  }
}

/** The NOT_FOUND a conditional read (`ReadOptions.expect`) rejects with when the object changed. */
export const objectChanged = (key: string) =>
  new HaulError('NOT_FOUND', `object "${key}" changed since it was checked`, { changed: true });
