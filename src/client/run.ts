import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { HaulClientError } from './errors.ts';
import { acquireLock } from './lock.ts';
import { ProgressTracker } from './progress.ts';
import { PoolSet } from './range-request.ts';
import { DEFAULT_RETRY, type RetryPolicy } from './retry.ts';
import type { TransferStats } from './transfer.ts';
import type { CommonOptions, DownloadEvent, DownloadResult } from './types.ts';

/** What both download modes share for one call: options with defaults, pools, progress, output path and lock, timings. */
export interface Run {
  opts: CommonOptions & { pauseOnAbort?: boolean; reportIntervalMs?: number };
  emit(e: DownloadEvent): void;
  signal: AbortSignal;
  retry: RetryPolicy;
  connections: number;
  pools: PoolSet;
  progress: ProgressTracker;
  /** Absolute output path, once resolved. */
  out: string;
  partPath: string;
  /** Fixes the output path (from `out`, or `out(name)`), refuses an existing file, takes the lock. */
  resolveOut(name: string): Promise<void>;
  /** A (re)start with this geometry; `doneBytes` were verified before. */
  begin(size: number, chunkCount: number, doneBytes: number, doneChunks: number): void;
  finalizing(): void;
  result(r: {
    sha256: string;
    verified: boolean;
    sessionId?: string;
    fileId?: string;
    restarts: number;
    urlRefreshes: number;
    stats: TransferStats;
    completed: boolean;
  }): DownloadResult;
  /** What a call rejects with: an abort of `signal` surfaces as ABORTED, whatever raised it. */
  failure(e: unknown): unknown;
  close(): Promise<void>;
}

export function startRun(opts: CommonOptions): Run {
  const t0 = performance.now();
  let tBegin: number | undefined;
  let tFinal: number | undefined;
  let resumedBytes: number | undefined;
  let unlock: (() => Promise<void>) | undefined;
  const connections = Math.max(1, Math.min(64, Math.floor(opts.connections ?? 8)));
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const progress = new ProgressTracker(0, 0, connections, opts.onProgress, opts.progressIntervalMs ?? 200);
  const run: Run = {
    opts,
    emit: (e) => opts.onEvent?.(e),
    signal: opts.signal ?? new AbortController().signal,
    retry: { ...DEFAULT_RETRY, ...opts.retry },
    connections,
    pools: new PoolSet({ connections, headersTimeoutMs: timeoutMs, bodyTimeoutMs: timeoutMs, connectTimeoutMs: 10_000 }),
    progress,
    out: '',
    partPath: '',
    async resolveOut(name) {
      if (run.out) return;
      const out = resolve(typeof opts.out === 'function' ? opts.out(name) : opts.out);
      if (!opts.overwrite && (await stat(out).catch(() => null)))
        throw new HaulClientError('OUTPUT_EXISTS', `${out} exists already (overwrite it with --force)`);
      run.out = out;
      run.partPath = `${out}.part`;
      unlock = await acquireLock(`${run.partPath}.lock`);
    },
    begin(size, chunkCount, doneBytes, doneChunks) {
      tBegin ??= performance.now();
      resumedBytes ??= doneBytes;
      progress.totalBytes = size;
      progress.chunkCount = chunkCount;
      progress.doneBytes = doneBytes;
      progress.chunksDone = doneChunks;
      progress.start();
    },
    finalizing() {
      tFinal = performance.now();
      progress.setPhase('finishing');
    },
    result(r) {
      const end = performance.now();
      progress.stop();
      progress.emit();
      return {
        path: run.out,
        bytes: progress.totalBytes,
        sha256: r.sha256,
        verified: r.verified,
        sessionId: r.sessionId,
        fileId: r.fileId,
        resumedBytes: resumedBytes ?? 0,
        receivedBytes: progress.receivedBytes,
        restarts: r.restarts,
        urlRefreshes: r.urlRefreshes,
        retries: r.stats.retries,
        refetchedChunks: r.stats.refetchedChunks,
        corruption: r.stats.corruption,
        tail: r.stats.tail,
        checkedWhileHashing: r.stats.checkedWhileHashing,
        completed: r.completed,
        timings: {
          totalMs: Math.round(end - t0),
          setupMs: Math.round((tBegin ?? end) - t0),
          transferMs: Math.round((tFinal ?? end) - (tBegin ?? end)),
          finalizeMs: Math.round(end - (tFinal ?? end)),
        },
      };
    },
    failure(e) {
      if (e instanceof HaulClientError || !run.signal.aborted) return e;
      return new HaulClientError('ABORTED', 'download stopped before the transfer began', { cause: e });
    },
    async close() {
      progress.stop();
      await run.pools.close();
      await unlock?.();
    },
  };
  return run;
}
