import { HaulError } from '../errors.ts';

/**
 * Chunk geometry (DESIGN §3, §7). A file of `size` bytes is cut into ceil(size / chunkSize)
 * chunks; every chunk is `chunkSize` bytes except possibly the last. Byte counts are plain
 * numbers: exact up to 2^53 (8 PiB), far beyond any object we will hold.
 */

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

/** 10 MiB: a 50 GiB file has 5,120 chunks, a manifest small enough to page through quickly. */
export const DEFAULT_CHUNK_SIZE = 10 * MiB;

/**
 * Accepted chunk sizes: integers in [1 KiB, 1 GiB].
 * - Below 1 KiB, the manifest (one row and one 32-byte digest per chunk) outweighs the data it
 *   protects and every chunk costs an HTTP request; tests still want small chunks, so the floor
 *   is low rather than a "sensible production" value.
 * - Above 1 GiB, a client re-fetches too much after one bad chunk, and the int4 `chunkSize`
 *   column and per-chunk buffers on clients stop being comfortable.
 * No power-of-two requirement: ranges are computed, never masked.
 */
export const MIN_CHUNK_SIZE = KiB;
export const MAX_CHUNK_SIZE = GiB;

export function validateChunkSize(chunkSize: number): number {
  if (!Number.isInteger(chunkSize) || chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE) {
    throw new HaulError(
      'BAD_USER_INPUT',
      `chunkSize must be an integer between ${MIN_CHUNK_SIZE} and ${MAX_CHUNK_SIZE} bytes, got ${chunkSize}`,
      { field: 'chunkSize' },
    );
  }
  return chunkSize;
}

function checkSize(size: number): void {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`invalid file size ${size}`);
}

/** Number of chunks: 0 for an empty file. */
export function chunkCount(size: number, chunkSize: number): number {
  checkSize(size);
  validateChunkSize(chunkSize);
  return Math.ceil(size / chunkSize);
}

/** Inclusive byte range of chunk `index`; the last chunk ends at size - 1. */
export function chunkRange(index: number, size: number, chunkSize: number): { startByte: number; endByte: number } {
  const count = chunkCount(size, chunkSize);
  if (!Number.isInteger(index) || index < 0 || index >= count) {
    throw new RangeError(`chunk index ${index} out of range (file has ${count} chunks)`);
  }
  const startByte = index * chunkSize;
  return { startByte, endByte: Math.min(startByte + chunkSize, size) - 1 };
}
