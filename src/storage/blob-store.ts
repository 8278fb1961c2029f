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
   * (an `end` beyond the last byte is clipped, as HTTP and S3 do).
   */
  read(key: string, range?: ByteRange): Promise<Readable>;
  /** Stores the object whole: readers see the old bytes or the new ones, never a mix. */
  put(key: string, body: Readable | Buffer): Promise<void>;
  has(key: string): Promise<boolean>;
}

export interface BlobStat {
  size: number;
  lastModified: Date;
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
