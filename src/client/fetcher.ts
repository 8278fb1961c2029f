import { HaulClientError } from './errors.ts';
import type { Chunk, Job } from './job.ts';
import type { PartWriter } from './part-writer.ts';
import { checkRangeResponse, networkError, type PoolSet, type RangeInfo, rangeHeaders } from './range-request.ts';
import { backoffDelay, classifyFailure, type RetryPolicy, sleep } from './retry.ts';
import type { Dispatcher } from './undici.ts';

/** Where requests go: the current signed URL, refreshed on 403 (single-flight, in the engine). */
export interface UrlSource {
  current(): string;
  /** Get a fresh URL after `stale` was refused; throws when that is impossible or keeps failing. */
  refresh(stale: string, cause: HaulClientError): Promise<void>;
}

export interface FetchContext {
  pools: PoolSet;
  url: UrlSource;
  size: number;
  /** The strong ETag to send as If-Match (learned from the first answer when not known up front). */
  etag(): string | undefined;
  lastModified: string | undefined;
  retry: RetryPolicy;
  /** The whole download's signal. */
  signal: AbortSignal;
  /** Every answer that was accepted (learns the ETag, resets the refresh counter); may throw to refuse it. */
  onResponse(res: RangeInfo): void;
  /** `n` body bytes arrived; `garbage` when they came in a buffer of their own (undici's), now dead. */
  onBytes(n: number, garbage: boolean): void;
  /** `job` streamed `chunk` whole and its bytes are written; `digest` when the job hashed it from its first byte. */
  onChunkComplete(job: Job, chunk: Chunk, digest: string | undefined): void;
  onRetry(job: Job, error: HaulClientError, delayMs: number): void;
}

/**
 * Runs one job to its end: ranged requests for [pos, to] until every byte is in, resuming at
 * the byte where a failed request stopped (the streaming hash carries on), retrying with backoff
 * and refreshing the URL on 403. Resolves `true` when the job's range is complete, `false` when it
 * was stopped (superseded by a faster copy, or the download stopped). Throws for what retrying
 * cannot fix: the file changed, a refusal, or too many failures without progress.
 */
export async function runJob(job: Job, ctx: FetchContext, writer: PartWriter): Promise<boolean> {
  try {
    return await fetchAll(job, ctx, writer);
  } finally {
    // Chunk completions still waiting on their writes settle before the job is handed back.
    await Promise.allSettled(job.settling);
  }
}

async function fetchAll(job: Job, ctx: FetchContext, writer: PartWriter): Promise<boolean> {
  const signal = AbortSignal.any([ctx.signal, job.ctl.signal]);
  let failures = 0;
  while (job.pos <= job.to) {
    if (signal.aborted) return false;
    const url = ctx.url.current();
    const before = job.pos;
    try {
      await fetchOnce(job, url, ctx, writer, signal);
      if (job.pos <= job.to && !signal.aborted)
        throw new HaulClientError('NETWORK', `${new URL(url).origin}: the response ended ${job.to + 1 - job.pos} bytes early`, {
          source: new URL(url).origin,
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
      job.backingOff = true;
      await sleep(delay, signal).catch(() => {});
      job.backingOff = false;
      job.lastByteAt = performance.now();
    }
  }
  return true;
}

/** Stops a response once the job has what it needs (after a split); not an error. */
const ENOUGH = new Error('enough bytes');

/**
 * One request, streamed with undici's dispatch handler (no stream or promise per socket read):
 * each piece is hashed (inline hashing only) and written at its offset as it lands, the response
 * cut once `to` is reached. Resolves when every byte received is in
 * the file ([from, pos) on disk), whatever ended the response.
 */
function fetchOnce(job: Job, url: string, ctx: FetchContext, writer: PartWriter, signal: AbortSignal): Promise<void> {
  const u = new URL(url);
  const source = u.origin;
  const req = { start: job.pos, end: job.to, size: ctx.size, etag: ctx.etag(), lastModified: ctx.lastModified };
  writer.reset(job.pos);
  /** Set once the dispatcher is known: whether body pieces are buffers of their own (see collect.ts). */
  let garbage = true;
  return new Promise<void>((resolve, reject) => {
    let controller: Dispatcher.DispatchController | undefined;
    let failure: unknown;
    let settled = false;
    const stop = (reason: unknown) => {
      failure ??= reason;
      controller?.abort(reason instanceof Error ? reason : new Error(String(reason)));
    };
    const onAbort = () => stop(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    const finish = () => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      // Whatever happened, what was received goes to disk before the job moves on.
      writer.flush().then(
        () => (failure === undefined || failure === ENOUGH ? resolve() : reject(failure)),
        (e) => reject(failure !== undefined && failure !== ENOUGH ? failure : e),
      );
    };
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(c) {
        controller = c;
        if (signal.aborted) stop(signal.reason);
      },
      onResponseStart(_c, status, headers) {
        try {
          const info = checkRangeResponse(req, status, headers as Record<string, string | string[] | undefined>, source);
          job.source = source;
          ctx.onResponse(info);
        } catch (e) {
          stop(e);
        }
      },
      onResponseData(c, data) {
        if (failure !== undefined) return;
        let blocked = false;
        for (let off = 0; off < data.length; ) {
          // `to` may have been lowered by a split while the request was in flight.
          const room = job.to + 1 - job.pos;
          if (room <= 0) break;
          const n = Math.min(data.length - off, room, job.current.end + 1 - job.pos);
          const piece = n === data.length ? data : data.subarray(off, off + n);
          job.hash?.update(piece);
          job.pos += n;
          off += n;
          ctx.onBytes(n, garbage);
          if (!writer.push(piece)) blocked = true;
          if (job.pos === job.current.end + 1 && job.pos <= job.to) {
            // A whole chunk streamed and the job goes on: it is done once its bytes are on disk.
            const { chunk, digest } = job.crossBoundary();
            job.settling.push(writer.flush().then(() => ctx.onChunkComplete(job, chunk, digest)));
          }
        }
        job.lastByteAt = performance.now();
        if (blocked) {
          c.pause();
          writer.drained().then(
            () => c.resume(),
            (e) => stop(e),
          );
        }
        // Cut the response only when it would go on past what the job still needs (its back was
        // split off meanwhile): a response that ends here completes on its own and leaves its
        // connection open for the next request, where aborting it closed the socket every time.
        if (job.pos > job.to && job.to < req.end) stop(ENOUGH);
      },
      onResponseEnd: finish,
      onResponseError(_c, err) {
        failure ??= err;
        finish();
      },
    };
    try {
      const dispatcher = ctx.pools.stream(source);
      garbage = dispatcher.reusesReadBuffers !== true;
      dispatcher.dispatch({ path: `${u.pathname}${u.search}`, method: 'GET', headers: rangeHeaders(req) }, handler);
    } catch (e) {
      failure ??= e;
      finish();
    }
  }).catch((e) => {
    throw e instanceof HaulClientError || signal.aborted ? e : networkError(e, source);
  });
}
