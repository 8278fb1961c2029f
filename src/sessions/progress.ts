import { HaulError } from '../errors.ts';

/** What the progress rules need to know about a file. */
export interface FileShape {
  sizeBytes: number;
  chunkSize: number;
  chunkCount: number;
}

/** Confirmed progress of one session: the monotonic part of its state. */
export interface Progress {
  bytesConfirmed: number;
  /** Verified chunk indexes, ascending and unique. */
  completedChunks: number[];
}

/** One client report: a sequential offset, a set of newly verified chunks, or both. */
export interface ProgressReport {
  bytesConfirmed?: number | null | undefined;
  completedChunks?: readonly number[] | null | undefined;
  transferRateBps?: number | null | undefined;
}

/** A report may name at most this many chunks (a 50 GiB file at 10 MiB has 5,120). */
export const MAX_CHUNKS_PER_REPORT = 100_000;
/** 100 Gbit/s: anything above is a client bug, not a measurement. */
export const MAX_TRANSFER_RATE_BPS = 12_500_000_000;

const isByteCount = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

/**
 * The checks that need no file: types and signs. The hot path runs these before Redis checks
 * the bounds against the file inside its script.
 */
export function validateReportShape(report: ProgressReport): void {
  const { bytesConfirmed, completedChunks, transferRateBps } = report;
  if (bytesConfirmed != null && !isByteCount(bytesConfirmed))
    throw new HaulError('INVALID_PROGRESS', 'bytesConfirmed must be a non-negative integer');
  if (completedChunks != null) {
    if (completedChunks.length > MAX_CHUNKS_PER_REPORT) throw new HaulError('INVALID_PROGRESS', 'too many chunks in one report');
    for (const i of completedChunks)
      if (!Number.isSafeInteger(i) || i < 0) throw new HaulError('INVALID_PROGRESS', `chunk index ${i} is outside the manifest`);
  }
  if (transferRateBps != null && (!isByteCount(transferRateBps) || transferRateBps > MAX_TRANSFER_RATE_BPS))
    throw new HaulError('INVALID_PROGRESS', 'transferRateBps must be a non-negative integer');
}

/**
 * Validates a report against the file. Every problem is INVALID_PROGRESS and nothing is
 * stored: negative, fractional or non-finite numbers, offsets beyond the file, chunk indexes
 * outside the manifest.
 */
export function validateReport(report: ProgressReport, file: FileShape): void {
  const { bytesConfirmed, completedChunks, transferRateBps } = report;
  if (bytesConfirmed != null) {
    if (!isByteCount(bytesConfirmed)) throw new HaulError('INVALID_PROGRESS', 'bytesConfirmed must be a non-negative integer');
    if (bytesConfirmed > file.sizeBytes)
      throw new HaulError('INVALID_PROGRESS', `bytesConfirmed ${bytesConfirmed} is beyond the file size ${file.sizeBytes}`);
  }
  if (completedChunks != null) {
    if (completedChunks.length > MAX_CHUNKS_PER_REPORT) throw new HaulError('INVALID_PROGRESS', 'too many chunks in one report');
    for (const i of completedChunks) {
      if (!Number.isSafeInteger(i) || i < 0 || i >= file.chunkCount)
        throw new HaulError('INVALID_PROGRESS', `chunk index ${i} is outside the manifest (0..${file.chunkCount - 1})`);
    }
  }
  if (transferRateBps != null && (!isByteCount(transferRateBps) || transferRateBps > MAX_TRANSFER_RATE_BPS))
    throw new HaulError('INVALID_PROGRESS', 'transferRateBps must be a non-negative integer');
}

/** End (exclusive) of the longest run of done chunks starting at chunk 0. */
export function donePrefixEnd(sortedChunks: readonly number[], file: FileShape): number {
  let run = 0;
  for (const i of sortedChunks) {
    if (i !== run) break;
    run++;
  }
  return Math.min(run * file.chunkSize, file.sizeBytes);
}

/**
 * Merges a (validated) report into stored progress, monotonically: the chunk set only grows,
 * and bytesConfirmed is the largest of the stored value, the reported offset and the end of
 * the done-chunk prefix (DESIGN §4). Late, duplicate and out-of-order reports change nothing.
 */
export function mergeProgress(current: Progress, report: ProgressReport, file: FileShape): Progress {
  let chunks = current.completedChunks;
  if (report.completedChunks?.length) {
    const set = new Set(current.completedChunks);
    let grew = false;
    for (const i of report.completedChunks) {
      if (!set.has(i)) {
        set.add(i);
        grew = true;
      }
    }
    if (grew) chunks = [...set].sort((a, b) => a - b);
  }
  const bytesConfirmed = Math.max(current.bytesConfirmed, report.bytesConfirmed ?? 0, donePrefixEnd(chunks, file));
  return { bytesConfirmed, completedChunks: chunks };
}
