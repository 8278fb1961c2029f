import { HaulClientError } from './errors.ts';
import type { PartFile } from './part-file.ts';
import { networkError, openRange, type PoolSet, type RangeResponse } from './range-request.ts';
import { backoffDelay, classifyFailure, type RetryPolicy, sleep } from './retry.ts';
import type { Job } from './scheduler.ts';

/** Where requests go: the current signed URL, refreshed on 403 (single-flight, in the engine). */
export interface UrlSource {
  current(): string;
  /** Get a fresh URL after `stale` was refused; throws when that is impossible or keeps failing. */
  refresh(stale: string, cause: HaulClientError): Promise<void>;
}

export interface FetchContext {
  pools: PoolSet;
  part: PartFile;
  url: UrlSource;
  size: number;
  /** The strong ETag to send as If-Match (learned from the first answer when not known up front). */
  etag(): string | undefined;
  lastModified: string | undefined;
  retry: RetryPolicy;
  /** The whole download's signal. */
  signal: AbortSignal;
  /** Every answer that was accepted (learns the ETag, resets the refresh counter). */
  onResponse(res: RangeResponse): void;
  onBytes(n: number): void;
  onRetry(job: Job, error: HaulClientError, delayMs: number): void;
}

/** Bytes gathered before one positional write: the size of each connection's staging buffer. */
export const STAGE_BYTES = 256 * 1024;

/**
 * Runs one job to its end: ranged requests for [pos, to] until every byte is in, resuming at
 * the byte where a failed request stopped (the streaming hash carries on), retrying with backoff
 * and refreshing the URL on 403. Resolves `true` when the job's range is complete, `false` when it
 * was stopped (superseded by a faster copy, or the download stopped). Throws for what retrying
 * cannot fix: the file changed, a refusal, or too many failures without progress.
 */
export async function runJob(job: Job, ctx: FetchContext, stage: Buffer): Promise<boolean> {
  const signal = AbortSignal.any([ctx.signal, job.ctl.signal]);
  let failures = 0;
  while (job.pos <= job.to) {
    if (signal.aborted) return false;
    const url = ctx.url.current();
    const before = job.pos;
    try {
      const res = await openRange(ctx.pools, {
        url,
        start: job.pos,
        end: job.to,
        size: ctx.size,
        etag: ctx.etag(),
        lastModified: ctx.lastModified,
        signal,
      });
      job.source = res.source;
      try {
        ctx.onResponse(res);
      } catch (e) {
        res.body.destroy();
        throw e;
      }
      await pump(job, res, ctx, stage);
      if (job.pos <= job.to && !signal.aborted)
        throw new HaulClientError('NETWORK', `${res.source}: the response ended ${job.to + 1 - job.pos} bytes early`, {
          source: res.source,
        });
    } catch (e) {
      if (signal.aborted) return job.pos > job.to;
      const err = e instanceof HaulClientError ? e : networkError(e, new URL(url).origin);
      const kind = classifyFailure(err);
      if (kind === 'refresh') {
        await ctx.url.refresh(url, err);
        continue;
      }
      if (kind !== 'retry') throw err;
      failures = job.pos > before ? 1 : failures + 1;
      err.attempt = failures;
      if (failures >= ctx.retry.maxAttempts) throw err;
      const delay = backoffDelay(failures, ctx.retry, err.retryAfterMs);
      ctx.onRetry(job, err, delay);
      await sleep(delay, signal).catch(() => {});
    }
  }
  return true;
}

/**
 * Streams the body into the `.part`: hashing as bytes land, copying them into the connection's
 * staging buffer and writing it at its offset when full, stopping at `job.to`. Copying costs a
 * memcpy but lets every socket buffer die young: holding them across awaited writes promoted them
 * and let dead buffers pile up until a full GC (tens of MiB of RSS over a large download).
 */
async function pump(job: Job, res: RangeResponse, ctx: FetchContext, stage: Buffer): Promise<void> {
  let filled = 0;
  let stageAt = job.pos;
  const flush = async () => {
    if (filled === 0) return;
    await ctx.part.write(stage, filled, stageAt);
    stageAt += filled;
    filled = 0;
  };
  try {
    for await (const data of res.body as AsyncIterable<Buffer>) {
      // `to` may have been lowered by a split while the request was in flight.
      const room = job.to + 1 - job.pos;
      if (room <= 0) break;
      const piece = data.length > room ? data.subarray(0, room) : data;
      job.hash?.update(piece);
      job.pos += piece.length;
      job.lastByteAt = performance.now();
      ctx.onBytes(piece.length);
      for (let off = 0; off < piece.length; ) {
        const n = piece.copy(stage, filled, off);
        filled += n;
        off += n;
        if (filled === stage.length) await flush();
      }
      if (job.pos > job.to) break;
    }
  } finally {
    // What was received is written even when stopped: [from, pos) must be on disk when the job exits.
    await flush();
    if (!res.body.destroyed) res.body.destroy();
  }
}
